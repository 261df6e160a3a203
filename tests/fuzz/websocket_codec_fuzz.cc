// libFuzzer target for the WebSocket codec (net/websocket_codec.h).
//
// Byte 0: bit 0 picks the part (0: frame decoder, 1: handshake parser), the
// other bits seed the chunk sizes. For frames it decodes the rest in one
// buffer, then again in random chunks as a socket would deliver it, and
// aborts unless both give the same events (data per message, message ends,
// pings, close, error code): the decoder's state must carry every split.
// For handshakes it checks that every proper prefix of a complete head says
// NeedMore (or Bad 431 past the limit) and that the answer for the whole
// input is the same when more bytes follow the head.
#include "net/websocket_codec.h"

#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

using namespace duplex::net::ws;

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "websocket_codec_fuzz: %s\n", what);
    std::abort();
}

struct Recorder final : FrameSink {
    std::string events;  // a transcript of everything reported
    std::string data;    // the open message's data
    bool text = false;
    void on_data(std::span<const uint8_t> b, bool t) override {
        if (!data.empty() && t != text) fail("text flag changed inside a message");
        text = t;
        data.append(reinterpret_cast<const char*>(b.data()), b.size());
    }
    void on_message_end() override {
        events += (text ? "T:" : "B:") + data + "|";
        data.clear();
    }
    void on_ping(std::span<const uint8_t> p) override {
        events += "P:" + std::string(reinterpret_cast<const char*>(p.data()), p.size()) + "|";
    }
    void on_close(uint16_t code, std::string_view reason) override {
        events += "C:" + std::to_string(code) + ":" + std::string(reason) + "|";
    }
};

std::string decode(std::string bytes, unsigned seed, bool chunked) {
    FrameDecoder d;
    Recorder r;
    std::string error;
    uint16_t code = 0;
    size_t pos = 0;
    while (pos < bytes.size() && !code) {
        size_t n = bytes.size() - pos;
        if (chunked) {
            seed = seed * 1103515245u + 12345u;
            n = std::min<size_t>(n, 1 + (seed >> 16) % 7);
        }
        code = d.feed(std::span(reinterpret_cast<uint8_t*>(bytes.data()) + pos, n), r, error);
        pos += n;
    }
    if (code && error.empty()) fail("error code without a reason");
    // Data of a message still open counts too (it was delivered).
    return r.events + "D:" + r.data + "|E:" + std::to_string(code);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    unsigned seed = data[0] >> 1;
    std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    if ((data[0] & 1) == 0) {
        std::string whole = decode(rest, seed, false), chunked = decode(rest, seed, true);
        // Invalid UTF-8 in a text message (1007) is found in the piece that
        // holds it: split input has delivered the valid pieces before it,
        // whole input none of them. Both must still refuse with 1007.
        bool both_1007 = whole.ends_with("|E:1007") && chunked.ends_with("|E:1007");
        if (whole != chunked && !both_1007) fail("chunked decode differs");
        return 0;
    }
    constexpr size_t kMax = 512;
    Handshake whole = parse_handshake(rest, kMax);
    if (whole.status != Handshake::Status::NeedMore) {
        if (whole.status != Handshake::Status::Bad || whole.http_status != 431) {
            if (whole.head_size == 0 || whole.head_size > rest.size()) fail("bad head_size");
            for (size_t n = 0; n < whole.head_size; ++n) {
                Handshake part = parse_handshake(std::string_view(rest).substr(0, n), kMax);
                if (part.status != Handshake::Status::NeedMore) fail("a proper prefix of the head was decided");
            }
            Handshake more = parse_handshake(rest + "\x81\x80garbage", kMax);
            if (more.status != whole.status || more.head_size != whole.head_size || more.key != whole.key ||
                more.subprotocols != whole.subprotocols)
                fail("bytes after the head changed the answer");
        }
        if (whole.status == Handshake::Status::Upgrade) {
            std::string r = response_101(whole.key, whole.subprotocols.empty() ? "" : whole.subprotocols[0]);
            if (r.find("\r\n\r\n") != r.size() - 4) fail("101 response head malformed");
        }
    }
    return 0;
}
