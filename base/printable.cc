#include "base/printable.h"

#include "base/utf8.h"

namespace duplex {

std::string printable(std::string_view text, size_t max_bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(std::min(text.size(), max_bytes) + 8);
    size_t i = 0;
    while (i < text.size()) {
        if (out.size() >= max_bytes) {
            out += "...";
            break;
        }
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            // A whole valid sequence stays; a byte that starts none is escaped.
            size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
            if (len && i + len <= text.size() && valid_utf8(text.substr(i, len))) {
                out.append(text.substr(i, len));
                i += len;
                continue;
            }
        } else if (c >= 0x20 && c != 0x7F && c != '\\') {
            out.push_back(static_cast<char>(c));
            ++i;
            continue;
        }
        switch (c) {
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\\':
                out += "\\\\";
                break;
            default:
                out += "\\x";
                out.push_back(kHex[c >> 4]);
                out.push_back(kHex[c & 15]);
        }
        ++i;
    }
    return out;
}

}  // namespace duplex
