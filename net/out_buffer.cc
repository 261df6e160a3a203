#include "net/out_buffer.h"

namespace duplex::net {

void OutBuffer::message(std::string_view head, std::string_view body, bool text) {
    size_t len = head.size() + body.size();
    if (websocket_) {
        // FIN + opcode, then the payload length: 7 bits, or 126 + 16 bits, or
        // 127 + 64 bits, in network order. Server frames are not masked.
        char header[10];
        size_t n = 0;
        header[n++] = static_cast<char>(0x80 | (text ? 0x1 : 0x2));
        if (len < 126) {
            header[n++] = static_cast<char>(len);
        } else if (len <= 0xFFFF) {
            header[n++] = 126;
            header[n++] = static_cast<char>(len >> 8);
            header[n++] = static_cast<char>(len);
        } else {
            header[n++] = 127;
            for (int shift = 56; shift >= 0; shift -= 8)
                header[n++] = static_cast<char>(static_cast<uint64_t>(len) >> shift);
        }
        bytes_.append(header, n);
    }
    bytes_.append(head);
    bytes_.append(body);
}

}  // namespace duplex::net
