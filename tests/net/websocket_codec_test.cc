// The WebSocket codec (net/websocket_codec.h) against RFC 6455: the
// opening handshake (4.2), client-to-server framing (5), closing (5.5.1, 7).
// Client frames are built here by hand (client_frame) so the decoder is
// checked against the RFC's byte layout, not against our own encoder.
#include "net/websocket_codec.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ws = duplex::net::ws;
using Status = ws::Handshake::Status;

namespace {

// ---- Handshake helpers -----------------------------------------------------

const std::string kKey = "dGhlIHNhbXBsZSBub25jZQ==";  // RFC 6455 1.3
const std::string kAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

const char* name(Status s) {
    switch (s) {
    case Status::NeedMore: return "NeedMore";
    case Status::NotWebSocket: return "NotWebSocket";
    case Status::Bad: return "Bad";
    case Status::Upgrade: return "Upgrade";
    }
    return "?";
}

using Headers = std::vector<std::pair<std::string, std::string>>;

// What Chromium sends for `new WebSocket("ws://localhost:8080/mqtt", "mqtt")`.
Headers chromium_headers() {
    return {
        {"Host", "localhost:8080"},
        {"Connection", "Upgrade"},
        {"Pragma", "no-cache"},
        {"Cache-Control", "no-cache"},
        {"User-Agent",
         "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"},
        {"Upgrade", "websocket"},
        {"Origin", "http://localhost:8080"},
        {"Sec-WebSocket-Version", "13"},
        {"Accept-Encoding", "gzip, deflate, br"},
        {"Accept-Language", "en-US,en;q=0.9"},
        {"Sec-WebSocket-Key", kKey},
        {"Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"},
        {"Sec-WebSocket-Protocol", "mqtt"},
    };
}

// Replaces the value of header `name` (exact spelling), or removes it when
// `value` is null.
Headers with(Headers h, std::string_view name, const char* value) {
    for (auto it = h.begin(); it != h.end(); ++it) {
        if (it->first == name) {
            if (value)
                it->second = value;
            else
                h.erase(it);
            return h;
        }
    }
    if (value) h.emplace_back(std::string(name), value);
    return h;
}

std::string request(const Headers& headers, std::string_view request_line = "GET /mqtt HTTP/1.1") {
    std::string r(request_line);
    r += "\r\n";
    for (auto& [k, v] : headers) r += k + ": " + v + "\r\n";
    r += "\r\n";
    return r;
}

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (auto& s : v) out += (out.empty() ? "" : "|") + s;
    return out;
}

// ---- Frame helpers ---------------------------------------------------------

struct FrameOpts {
    bool fin = true;
    uint8_t rsv = 0;          // RSV1..3 as bits 0x4, 0x2, 0x1 (placed at 0x40, 0x20, 0x10)
    bool masked = true;
    uint32_t mask = 0x9a3c51e7;
    int len_form = 0;         // 0: minimal; 16: force 126 + 16 bits; 64: force 127 + 64 bits
};

// A client-to-server frame, laid out as in RFC 6455 5.2.
std::string client_frame(uint8_t opcode, std::string_view payload, FrameOpts o = {}) {
    std::string f;
    f.push_back(char((o.fin ? 0x80 : 0) | ((o.rsv & 7) << 4) | (opcode & 0x0f)));
    const uint8_t m = o.masked ? 0x80 : 0;
    const uint64_t n = payload.size();
    int form = o.len_form;
    if (form == 0) form = n <= 125 ? 7 : n <= 0xffff ? 16 : 64;
    if (form == 7) {
        f.push_back(char(m | n));
    } else if (form == 16) {
        f.push_back(char(m | 126));
        f.push_back(char(n >> 8));
        f.push_back(char(n));
    } else {
        f.push_back(char(m | 127));
        for (int i = 7; i >= 0; --i) f.push_back(char(n >> (8 * i)));
    }
    uint8_t key[4] = {uint8_t(o.mask >> 24), uint8_t(o.mask >> 16), uint8_t(o.mask >> 8), uint8_t(o.mask)};
    if (o.masked) f.append(reinterpret_cast<const char*>(key), 4);
    for (size_t i = 0; i < payload.size(); ++i)
        f.push_back(o.masked ? char(uint8_t(payload[i]) ^ key[i % 4]) : payload[i]);
    return f;
}

std::string close_payload(uint16_t code, std::string_view reason = {}) {
    std::string p;
    p.push_back(char(code >> 8));
    p.push_back(char(code & 0xff));
    p += reason;
    return p;
}

std::string pattern(size_t n, uint32_t seed = 1) {
    std::string s(n, '\0');
    uint32_t x = seed;
    for (auto& c : s) {
        x = x * 1664525u + 1013904223u;
        c = char(x >> 24);
    }
    return s;
}

struct Event {
    enum Kind { Data, End, Ping, Close } kind;
    std::string bytes;
    bool text = false;
    uint16_t code = 0;
};

std::string escape(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out.push_back(char(c));
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        }
    }
    return out;
}

std::string bytes_desc(std::string_view s) {
    if (s.size() <= 40) return "\"" + escape(s) + "\"";
    uint32_t h = 2166136261u;  // FNV-1a
    for (unsigned char c : s) h = (h ^ c) * 16777619u;
    char buf[64];
    std::snprintf(buf, sizeof buf, "<%zu bytes, fnv %08x>", s.size(), h);
    return buf;
}

std::string describe(const Event& e) {
    switch (e.kind) {
    case Event::Data: return std::string("data(") + (e.text ? "text," : "bin,") + bytes_desc(e.bytes) + ")";
    case Event::End: return "end";
    case Event::Ping: return "ping(" + bytes_desc(e.bytes) + ")";
    case Event::Close: return "close(" + std::to_string(e.code) + "," + bytes_desc(e.bytes) + ")";
    }
    return "?";
}

std::string describe(const std::vector<Event>& v) {
    std::string out;
    for (auto& e : v) out += (out.empty() ? "" : " ") + describe(e);
    return out;
}

// Data pieces are cut wherever reads and frames happen to end: compare
// messages with adjacent pieces (of the same kind) joined, empty pieces dropped.
std::vector<Event> merged(const std::vector<Event>& in) {
    std::vector<Event> out;
    for (auto& e : in) {
        if (e.kind == Event::Data) {
            if (e.bytes.empty()) continue;
            if (!out.empty() && out.back().kind == Event::Data && out.back().text == e.text) {
                out.back().bytes += e.bytes;
                continue;
            }
        }
        out.push_back(e);
    }
    return out;
}

struct Recorder : ws::FrameSink {
    std::vector<Event> events;
    bool closed = false;
    void on_data(std::span<const uint8_t> b, bool text) override {
        events.push_back({Event::Data, std::string(b.begin(), b.end()), text, 0});
    }
    void on_message_end() override { events.push_back({Event::End, {}, false, 0}); }
    void on_ping(std::span<const uint8_t> b) override {
        events.push_back({Event::Ping, std::string(b.begin(), b.end()), false, 0});
    }
    void on_close(uint16_t code, std::string_view reason) override {
        events.push_back({Event::Close, std::string(reason), false, code});
        closed = true;
    }
    std::string got() const { return describe(merged(events)); }
    size_t count(Event::Kind k) const {
        size_t n = 0;
        for (auto& e : events) n += e.kind == k;
        return n;
    }
};

// Expected events, built like the recorder's.
struct Expect {
    std::vector<Event> events;
    Expect& data(std::string_view b, bool text = false) {
        events.push_back({Event::Data, std::string(b), text, 0});
        return *this;
    }
    Expect& end() {
        events.push_back({Event::End, {}, false, 0});
        return *this;
    }
    Expect& ping(std::string_view b) {
        events.push_back({Event::Ping, std::string(b), false, 0});
        return *this;
    }
    Expect& close(uint16_t code, std::string_view reason) {
        events.push_back({Event::Close, std::string(reason), false, code});
        return *this;
    }
    std::string str() const { return describe(merged(events)); }
};

uint16_t feed(ws::FrameDecoder& d, std::string_view bytes, Recorder& r, std::string& err) {
    std::vector<uint8_t> buf(bytes.begin(), bytes.end());
    return d.feed(std::span<uint8_t>(buf), r, err);
}

// Feeds `bytes` in chunks of `chunk` bytes (all of them, even after an error)
// and returns the first non-zero result (of reads before a close frame was
// reported: what feed() returns after that is not specified).
uint16_t feed_chunked(ws::FrameDecoder& d, std::string_view bytes, size_t chunk, Recorder& r, std::string& err) {
    uint16_t first = 0;
    for (size_t at = 0; at < bytes.size(); at += chunk) {
        const bool closed = r.closed;
        uint16_t c = feed(d, bytes.substr(at, chunk), r, err);
        if (c && !first && !closed) first = c;
    }
    return first;
}

// Decodes `stream` whole and a byte at a time; both must give `expected`
// and return 0.
void check_decodes(std::string_view stream, const Expect& expected) {
    for (size_t chunk : {stream.size() ? stream.size() : size_t(1), size_t(1), size_t(3), size_t(7)}) {
        CAPTURE(chunk);
        ws::FrameDecoder d;
        Recorder r;
        std::string err;
        CHECK(feed_chunked(d, stream, chunk, r, err) == 0);
        CHECK(err.empty());
        CHECK(r.got() == expected.str());
    }
}

// `stream` must end in a protocol error after the events `before`: 1002 with
// a reason, nothing reported after it (not even from a valid frame right
// behind it, nor from a later read).
void check_protocol_error(std::string stream, const Expect& before) {
    stream += client_frame(ws::kOpBinary, "after");
    for (size_t chunk : {stream.size(), size_t(1)}) {
        CAPTURE(chunk);
        ws::FrameDecoder d;
        Recorder r;
        std::string err;
        CHECK(feed_chunked(d, stream, chunk, r, err) == ws::kCloseProtocolError);
        CHECK_FALSE(err.empty());
        CHECK(r.got() == before.str());
        const size_t n = r.events.size();
        feed(d, client_frame(ws::kOpText, "later") + client_frame(ws::kOpPing, "p"), r, err);
        CHECK(r.events.size() == n);
    }
}

uint64_t be(std::string_view s, size_t at, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = v << 8 | uint8_t(s[at + i]);
    return v;
}

// A server frame's parts (RFC 6455 5.2), read independently of the codec.
struct ServerFrame {
    uint8_t b0 = 0;
    bool masked = false;
    uint8_t len7 = 0;
    uint64_t len = 0;
    size_t header = 0;
    std::string payload;
};

ServerFrame parse_server_frame(std::string_view f) {
    ServerFrame s;
    REQUIRE(f.size() >= 2);
    s.b0 = uint8_t(f[0]);
    s.masked = (uint8_t(f[1]) & 0x80) != 0;
    s.len7 = uint8_t(f[1]) & 0x7f;
    s.header = 2;
    s.len = s.len7;
    if (s.len7 == 126) {
        REQUIRE(f.size() >= 4);
        s.len = be(f, 2, 2);
        s.header = 4;
    } else if (s.len7 == 127) {
        REQUIRE(f.size() >= 10);
        s.len = be(f, 2, 8);
        s.header = 10;
    }
    if (s.masked) s.header += 4;
    REQUIRE(f.size() >= s.header);
    s.payload = std::string(f.substr(s.header));
    return s;
}

}  // namespace

// ---- Opening handshake -------------------------------------------------------

TEST_CASE("WebSocket handshake: a Chromium upgrade request") {
    const std::string req = request(chromium_headers());
    auto h = ws::parse_handshake(req);
    REQUIRE(name(h.status) == std::string("Upgrade"));
    CHECK(h.head_size == req.size());
    CHECK(h.path == "/mqtt");
    CHECK(h.key == kKey);
    CHECK(join(h.subprotocols) == "mqtt");

    SUBCASE("the first frame in the same read is not part of the head") {
        const std::string bytes = req + client_frame(ws::kOpBinary, std::string("\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c", 12));
        auto h2 = ws::parse_handshake(bytes);
        CHECK(name(h2.status) == std::string("Upgrade"));
        CHECK(h2.head_size == req.size());
        CHECK(h2.key == kKey);
    }
    SUBCASE("a head of exactly max_head_bytes, followed by more bytes than that, is not too large") {
        const std::string bytes = req + pattern(2 * req.size());
        auto h2 = ws::parse_handshake(bytes, req.size());
        CHECK(name(h2.status) == std::string("Upgrade"));
        CHECK(h2.head_size == req.size());
    }
    SUBCASE("NeedMore at every truncation") {
        size_t wrong = 0;
        for (size_t n = 0; n < req.size(); ++n) {
            auto t = ws::parse_handshake(std::string_view(req).substr(0, n));
            if (t.status != Status::NeedMore) {
                if (!wrong++) {
                    CAPTURE(n);
                    CAPTURE(escape(req.substr(n > 20 ? n - 20 : 0, n > 20 ? 20 : n)));
                    CHECK(name(t.status) == std::string("NeedMore"));
                }
            }
        }
        CHECK(wrong == 0);
    }
}

TEST_CASE("WebSocket handshake: header names and token values are case-insensitive") {
    SUBCASE("lower-case names, mixed-case values") {
        Headers h = {
            {"host", "example.com"},
            {"upgrade", "WebSocket"},
            {"connection", "upgrade"},
            {"sec-websocket-key", kKey},
            {"sec-websocket-version", "13"},
        };
        auto r = ws::parse_handshake(request(h));
        CHECK(name(r.status) == std::string("Upgrade"));
        CHECK(r.key == kKey);
        CHECK(r.subprotocols.empty());
    }
    SUBCASE("upper-case names and values") {
        Headers h = {
            {"HOST", "example.com"},
            {"UPGRADE", "WEBSOCKET"},
            {"CONNECTION", "UPGRADE"},
            {"SEC-WEBSOCKET-KEY", kKey},
            {"SEC-WEBSOCKET-VERSION", "13"},
            {"SEC-WEBSOCKET-PROTOCOL", "mqtt"},
        };
        auto r = ws::parse_handshake(request(h));
        CHECK(name(r.status) == std::string("Upgrade"));
        CHECK(r.key == kKey);
        CHECK(join(r.subprotocols) == "mqtt");
    }
    SUBCASE("Firefox: Connection: keep-alive, Upgrade") {
        auto r = ws::parse_handshake(request(with(chromium_headers(), "Connection", "keep-alive, Upgrade")));
        CHECK(name(r.status) == std::string("Upgrade"));
    }
    SUBCASE("Connection: keep-alive,upgrade (no space)") {
        auto r = ws::parse_handshake(request(with(chromium_headers(), "Connection", "keep-alive,upgrade")));
        CHECK(name(r.status) == std::string("Upgrade"));
    }
    SUBCASE("optional white space around values (RFC 7230 3.2) is not part of them") {
        std::string req = "GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade:websocket\r\nConnection:  Upgrade \r\n"
                          "Sec-WebSocket-Key: \t" + kKey + " \t\r\nSec-WebSocket-Version:13\r\n"
                          "Sec-WebSocket-Protocol:   mqtt  \r\n\r\n";
        auto r = ws::parse_handshake(req);
        CHECK(name(r.status) == std::string("Upgrade"));
        CHECK(r.key == kKey);
        CHECK(join(r.subprotocols) == "mqtt");
        CHECK(r.head_size == req.size());
    }
}

TEST_CASE("WebSocket handshake: subprotocols in the client's order") {
    auto protocols = [](Headers h) {
        auto r = ws::parse_handshake(request(h));
        CHECK(name(r.status) == std::string("Upgrade"));
        return join(r.subprotocols);
    };
    CHECK(protocols(chromium_headers()) == "mqtt");
    CHECK(protocols(with(chromium_headers(), "Sec-WebSocket-Protocol", "foo, mqtt")) == "foo|mqtt");
    CHECK(protocols(with(chromium_headers(), "Sec-WebSocket-Protocol", "foo,mqtt")) == "foo|mqtt");
    CHECK(protocols(with(chromium_headers(), "Sec-WebSocket-Protocol", "mqttv3.1, mqtt, v12.stomp")) ==
          "mqttv3.1|mqtt|v12.stomp");
    CHECK(protocols(with(chromium_headers(), "Sec-WebSocket-Protocol", nullptr)) == "");
    SUBCASE("two Sec-WebSocket-Protocol lines") {
        Headers h = with(chromium_headers(), "Sec-WebSocket-Protocol", "foo");
        h.emplace_back("Sec-WebSocket-Protocol", "mqtt");
        CHECK(protocols(h) == "foo|mqtt");
        h.emplace_back("sec-websocket-protocol", "v12.stomp, bar");
        CHECK(protocols(h) == "foo|mqtt|v12.stomp|bar");
    }
}

TEST_CASE("WebSocket handshake: the request target is kept as sent") {
    auto path = [](const char* line) {
        auto r = ws::parse_handshake(request(chromium_headers(), line));
        CHECK(name(r.status) == std::string("Upgrade"));
        return r.path;
    };
    CHECK(path("GET / HTTP/1.1") == "/");
    CHECK(path("GET /mqtt HTTP/1.1") == "/mqtt");
    CHECK(path("GET /stomp?client=web&x=1 HTTP/1.1") == "/stomp?client=web&x=1");
}

TEST_CASE("WebSocket handshake: a plain HTTP request is NotWebSocket") {
    const std::string req =
        "GET /index.html HTTP/1.1\r\nHost: localhost:8080\r\nAccept: text/html\r\nConnection: keep-alive\r\n\r\n";
    auto h = ws::parse_handshake(req);
    CHECK(name(h.status) == std::string("NotWebSocket"));
    CHECK(h.head_size == req.size());

    // A pipelined second request is not part of the first head.
    auto h2 = ws::parse_handshake(req + "GET /app.js HTTP/1.1\r\nHost: localhost:8080\r\n\r\n");
    CHECK(name(h2.status) == std::string("NotWebSocket"));
    CHECK(h2.head_size == req.size());

    // ... and not decided before its head is complete.
    for (size_t n = 0; n < req.size(); ++n) {
        auto t = ws::parse_handshake(std::string_view(req).substr(0, n));
        if (t.status != Status::NeedMore) {
            CAPTURE(n);
            CHECK(name(t.status) == std::string("NeedMore"));
            break;
        }
    }
}

TEST_CASE("WebSocket handshake: refused upgrade requests") {
    auto bad = [](const std::string& req, int status) {
        auto h = ws::parse_handshake(req);
        CHECK(name(h.status) == std::string("Bad"));
        CHECK(h.http_status == status);
        CHECK_FALSE(h.error.empty());
    };
    SUBCASE("POST") { bad(request(chromium_headers(), "POST /mqtt HTTP/1.1"), 400); }
    SUBCASE("no Sec-WebSocket-Key") { bad(request(with(chromium_headers(), "Sec-WebSocket-Key", nullptr)), 400); }
    SUBCASE("empty Sec-WebSocket-Key") { bad(request(with(chromium_headers(), "Sec-WebSocket-Key", "")), 400); }
    SUBCASE("key of 10 bytes") {
        bad(request(with(chromium_headers(), "Sec-WebSocket-Key", "dGhlIHNhbXBsZQ==")), 400);
    }
    SUBCASE("key of 24 characters that are not base64") {
        bad(request(with(chromium_headers(), "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25j!?*=")), 400);
    }
    SUBCASE("key of 24 base64 characters that decode to 18 bytes, not 16") {
        bad(request(with(chromium_headers(), "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQAA")), 400);
    }
    SUBCASE("key of 28 characters") {
        bad(request(with(chromium_headers(), "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZSBhYmM=")), 400);
    }
    SUBCASE("Sec-WebSocket-Version: 8") {
        bad(request(with(chromium_headers(), "Sec-WebSocket-Version", "8")), 426);
    }
    SUBCASE("Sec-WebSocket-Version: 14") {
        bad(request(with(chromium_headers(), "Sec-WebSocket-Version", "14")), 426);
    }
    SUBCASE("no Sec-WebSocket-Version") {
        auto h = ws::parse_handshake(request(with(chromium_headers(), "Sec-WebSocket-Version", nullptr)));
        CHECK(name(h.status) == std::string("Bad"));
        CHECK((h.http_status == 400 || h.http_status == 426));
    }
    SUBCASE("Upgrade: websocket without Connection: Upgrade is not accepted") {
        auto h = ws::parse_handshake(request(with(chromium_headers(), "Connection", "keep-alive")));
        CHECK(h.status != Status::Upgrade);
        CHECK(h.status != Status::NeedMore);
    }
}

TEST_CASE("WebSocket handshake: a head longer than max_head_bytes is Bad 431") {
    SUBCASE("default limit (8192)") {
        std::string big = "GET /mqtt HTTP/1.1\r\nHost: x\r\nX-Filler: " + std::string(9000, 'a');
        auto h = ws::parse_handshake(big);
        CHECK(name(h.status) == std::string("Bad"));
        CHECK(h.http_status == 431);
        // Below the limit it may still end: NeedMore.
        CHECK(name(ws::parse_handshake(std::string_view(big).substr(0, 4000)).status) == std::string("NeedMore"));
    }
    SUBCASE("explicit limit") {
        std::string big = "GET /mqtt HTTP/1.1\r\nX-Filler: " + std::string(200, 'a');
        auto h = ws::parse_handshake(big, 100);
        CHECK(name(h.status) == std::string("Bad"));
        CHECK(h.http_status == 431);
        CHECK(name(ws::parse_handshake(std::string_view(big).substr(0, 60), 100).status) == std::string("NeedMore"));
    }
    SUBCASE("one endless header line of spaces and CRs") {
        std::string big = "GET /mqtt HTTP/1.1\r\n" + std::string(10000, '\r');
        auto h = ws::parse_handshake(big);
        CHECK(name(h.status) == std::string("Bad"));
        CHECK(h.http_status == 431);
    }
}

TEST_CASE("WebSocket handshake: bare LF line ends do not crash") {
    // RFC 7230 3.5: a recipient MAY accept a bare LF as a line terminator; the
    // header promises nothing, so any answer is fine as long as it is coherent.
    const std::string req = "GET /mqtt HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n"
                            "Sec-WebSocket-Key: " + kKey + "\nSec-WebSocket-Version: 13\n\n";
    for (size_t max : {size_t(8192), size_t(64)}) {
        CAPTURE(max);
        auto h = ws::parse_handshake(req, max);
        CHECK((h.status == Status::NeedMore || h.status == Status::Bad || h.status == Status::Upgrade));
        if (h.status == Status::Upgrade) {
            CHECK(h.head_size == req.size());
            CHECK(h.key == kKey);
        }
        if (h.status == Status::Bad) CHECK((h.http_status == 400 || h.http_status == 431));
    }
    // Mixed: CRLF everywhere but one bare LF inside.
    std::string mixed = request(chromium_headers());
    mixed.erase(mixed.find("\r\nUpgrade"), 1);
    auto h = ws::parse_handshake(mixed);
    CHECK((h.status == Status::NeedMore || h.status == Status::Bad || h.status == Status::Upgrade ||
           h.status == Status::NotWebSocket));
    CHECK(h.head_size <= mixed.size());
}

TEST_CASE("WebSocket handshake: mangled requests give coherent answers") {
    std::mt19937 rng(6455);
    const std::string good = request(chromium_headers());
    const char alphabet[] = {'\r', '\n', ':', ' ', ',', '\t', '\0', 'a', '\x80', '\xff'};
    for (int i = 0; i < 3000; ++i) {
        std::string s = good;
        const int edits = 1 + int(rng() % 4);
        for (int e = 0; e < edits && !s.empty(); ++e) {
            size_t at = rng() % s.size();
            switch (rng() % 4) {
            case 0: s[at] = alphabet[rng() % sizeof alphabet]; break;
            case 1: s.erase(at, 1 + rng() % 8); break;
            case 2: s.insert(at, 1, alphabet[rng() % sizeof alphabet]); break;
            case 3: s.resize(at); break;
            }
        }
        auto h = ws::parse_handshake(s, 512 + rng() % 1024);
        CAPTURE(escape(s));
        if (h.status == Status::Upgrade || h.status == Status::NotWebSocket) {
            CHECK(h.head_size > 0);
            CHECK(h.head_size <= s.size());
        }
        if (h.status == Status::Bad) CHECK((h.http_status == 400 || h.http_status == 426 || h.http_status == 431));
    }
}

// ---- Handshake responses -----------------------------------------------------

TEST_CASE("WebSocket accept_key: SHA-1 and base64 (RFC 6455 1.3 and 4.2.2)") {
    CHECK(ws::accept_key(kKey) == kAccept);
    // Others computed with Python's hashlib, covering the SHA-1 padding
    // boundaries (key + 36-byte GUID of 36, 56, 63, 64, 128 and 136 bytes).
    CHECK(ws::accept_key("x3JJHMbDL1EzLkh9GBhXDw==") == "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
    CHECK(ws::accept_key("") == "Kfh9QIsMVZcl6xEPYxPHzW8SZ8w=");
    CHECK(ws::accept_key(std::string(20, 'a')) == "dUYRM7bOMwDmbriNIPr11x+r3E0=");
    CHECK(ws::accept_key(std::string(27, 'a')) == "NCEiOv6lMC9mC8oEZnneqRdJ4DU=");
    CHECK(ws::accept_key(std::string(28, 'a')) == "xMWmCBqYJY4uXzUs8PNU1t+Pzro=");
    CHECK(ws::accept_key(std::string(92, 'c')) == "nWXK8AyYRRXv8OKl0bgv+xZ6fwM=");
    CHECK(ws::accept_key(std::string(100, 'b')) == "AVKg7YYO+Ek/GX5Y+X2CTW41B+w=");
}

TEST_CASE("WebSocket response_101") {
    auto lines_end_in_crlf = [](const std::string& r) {
        size_t lf = 0, crlf = 0;
        for (size_t i = 0; i < r.size(); ++i) {
            if (r[i] == '\n') {
                ++lf;
                crlf += i > 0 && r[i - 1] == '\r';
            }
        }
        return lf == crlf;
    };
    SUBCASE("with a subprotocol") {
        const std::string r = ws::response_101(kKey, "mqtt");
        CAPTURE(escape(r));
        CHECK(r.rfind("HTTP/1.1 101", 0) == 0);
        CHECK(r.find("Upgrade: websocket\r\n") != std::string::npos);
        CHECK(r.find("Connection: Upgrade\r\n") != std::string::npos);
        CHECK(r.find("Sec-WebSocket-Accept: " + kAccept + "\r\n") != std::string::npos);
        CHECK(r.find("Sec-WebSocket-Protocol: mqtt\r\n") != std::string::npos);
        CHECK(r.size() >= 4);
        CHECK(r.find("\r\n\r\n") == r.size() - 4);
        CHECK(lines_end_in_crlf(r));
    }
    SUBCASE("without") {
        const std::string r = ws::response_101(kKey, "");
        CAPTURE(escape(r));
        CHECK(r.rfind("HTTP/1.1 101", 0) == 0);
        CHECK(r.find("Upgrade: websocket\r\n") != std::string::npos);
        CHECK(r.find("Connection: Upgrade\r\n") != std::string::npos);
        CHECK(r.find("Sec-WebSocket-Accept: " + kAccept + "\r\n") != std::string::npos);
        CHECK(r.find("Sec-WebSocket-Protocol") == std::string::npos);
        CHECK(r.find("\r\n\r\n") == r.size() - 4);
        CHECK(lines_end_in_crlf(r));
    }
    SUBCASE("another key and subprotocol") {
        const std::string r = ws::response_101("x3JJHMbDL1EzLkh9GBhXDw==", "v12.stomp");
        CHECK(r.find("Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n") != std::string::npos);
        CHECK(r.find("Sec-WebSocket-Protocol: v12.stomp\r\n") != std::string::npos);
    }
}

TEST_CASE("WebSocket response_error") {
    for (int status : {400, 426, 431}) {
        CAPTURE(status);
        const std::string r = ws::response_error(status, "refused for a reason");
        CAPTURE(escape(r));
        CHECK(r.rfind("HTTP/1.1 " + std::to_string(status) + " ", 0) == 0);
        CHECK(r.find("Connection: close\r\n") != std::string::npos);
        const size_t head_end = r.find("\r\n\r\n");
        REQUIRE(head_end != std::string::npos);
        // A body, if any, has the length the head says.
        const size_t body = r.size() - (head_end + 4);
        const size_t cl = r.find("Content-Length:");
        if (cl != std::string::npos && cl < head_end)
            CHECK(std::stoul(r.substr(cl + 15)) == body);
        else
            CHECK(body == 0);
    }
}

TEST_CASE("WebSocket response_error 426 names the version we speak (RFC 6455 4.2.2)") {
    // "... and a |Sec-WebSocket-Version| header field indicating the
    // version(s) the server is capable of understanding." (a MUST)
    const std::string r = ws::response_error(426, "unsupported version");
    CAPTURE(escape(r));
    CHECK(r.find("Sec-WebSocket-Version: 13\r\n") != std::string::npos);
}

// ---- Frame decoder -------------------------------------------------------------

TEST_CASE("WebSocket decoder: a masked binary frame arrives unmasked") {
    check_decodes(client_frame(ws::kOpBinary, "hello"), Expect().data("hello").end());
    check_decodes(client_frame(ws::kOpBinary, "hello", {.mask = 0}), Expect().data("hello").end());
    check_decodes(client_frame(ws::kOpBinary, std::string("\x00\xff\x80\x7f\x01", 5), {.mask = 0xffffffff}),
                  Expect().data(std::string("\x00\xff\x80\x7f\x01", 5)).end());
    check_decodes(client_frame(ws::kOpText, "héllo"), Expect().data("héllo", true).end());
}

TEST_CASE("WebSocket decoder: 7-bit, 16-bit and 64-bit payload lengths") {
    for (size_t n : {size_t(1), size_t(125), size_t(126), size_t(127), size_t(1000), size_t(65535), size_t(65536),
                     size_t(70000)}) {
        CAPTURE(n);
        const std::string payload = pattern(n, uint32_t(n));
        const std::string frame = client_frame(ws::kOpBinary, payload, {.mask = 0x01020304u + uint32_t(n)});
        CHECK(frame.size() == n + 4 + (n <= 125 ? 2 : n <= 65535 ? 4 : 10));
        for (size_t chunk : {frame.size(), size_t(5), size_t(4096)}) {
            CAPTURE(chunk);
            ws::FrameDecoder d;
            Recorder r;
            std::string err;
            CHECK(feed_chunked(d, frame, chunk, r, err) == 0);
            CHECK(r.got() == Expect().data(payload).end().str());
        }
    }
    SUBCASE("non-minimal length encodings still decode") {
        // RFC 5.2 asks senders for the minimal form; receiving a longer one is
        // not a protocol error the decoder is documented to detect. Accept
        // either a clean decode or a protocol error, never garbage.
        for (int form : {16, 64}) {
            CAPTURE(form);
            ws::FrameDecoder d;
            Recorder r;
            std::string err;
            uint16_t c = feed(d, client_frame(ws::kOpBinary, "abc", {.len_form = form}), r, err);
            if (c == 0)
                CHECK(r.got() == Expect().data("abc").end().str());
            else
                CHECK(r.events.empty());
        }
    }
}

TEST_CASE("WebSocket decoder: zero-length frames") {
    check_decodes(client_frame(ws::kOpBinary, ""), Expect().end());
    check_decodes(client_frame(ws::kOpText, ""), Expect().end());
    check_decodes(client_frame(ws::kOpBinary, "") + client_frame(ws::kOpBinary, "x"), Expect().end().data("x").end());
    // Zero-length fragments of a message.
    check_decodes(client_frame(ws::kOpBinary, "", {.fin = false}) + client_frame(ws::kOpContinuation, "", {.fin = false}) +
                      client_frame(ws::kOpContinuation, "ab", {.fin = false}) +
                      client_frame(ws::kOpContinuation, ""),
                  Expect().data("ab").end());
    // Empty data pieces, if any, carry the message's kind.
    ws::FrameDecoder d;
    Recorder r;
    std::string err;
    CHECK(feed(d, client_frame(ws::kOpText, "") + client_frame(ws::kOpBinary, ""), r, err) == 0);
    CHECK(r.count(Event::End) == 2);
    bool seen_end = false;
    for (auto& e : r.events) {
        if (e.kind == Event::Data) CHECK(e.text == !seen_end);
        if (e.kind == Event::End) seen_end = true;
    }
}

TEST_CASE("WebSocket decoder: a frame fed one byte at a time") {
    for (size_t n : {size_t(0), size_t(5), size_t(125), size_t(300), size_t(65536)}) {
        CAPTURE(n);
        const std::string payload = pattern(n, 7);
        const std::string frame = client_frame(ws::kOpBinary, payload);
        ws::FrameDecoder d;
        Recorder r;
        std::string err;
        CHECK(feed_chunked(d, frame, 1, r, err) == 0);
        std::string got;
        for (auto& e : r.events) {
            if (e.kind == Event::Data) {
                got += e.bytes;
                CHECK_FALSE(e.text);
            }
        }
        CHECK(bytes_desc(got) == bytes_desc(payload));
        CHECK(r.count(Event::End) == 1);
        REQUIRE_FALSE(r.events.empty());
        CHECK(r.events.back().kind == Event::End);
    }
}

TEST_CASE("WebSocket decoder: data is passed on as it comes, before the frame is complete") {
    const std::string payload = pattern(1000, 3);
    const std::string frame = client_frame(ws::kOpBinary, payload);
    ws::FrameDecoder d;
    Recorder r;
    std::string err;
    const size_t header = 2 + 2 + 4;
    CHECK(feed(d, std::string_view(frame).substr(0, header + 10), r, err) == 0);
    CHECK(r.got() == Expect().data(payload.substr(0, 10)).str());
    CHECK(feed(d, std::string_view(frame).substr(header + 10, 500), r, err) == 0);
    CHECK(r.got() == Expect().data(payload.substr(0, 510)).str());
    CHECK(feed(d, std::string_view(frame).substr(header + 510), r, err) == 0);
    CHECK(r.got() == Expect().data(payload).end().str());
}

TEST_CASE("WebSocket decoder: several frames in one read") {
    std::string stream = client_frame(ws::kOpBinary, "one") + client_frame(ws::kOpText, "two", {.mask = 0x11223344}) +
                         client_frame(ws::kOpPing, "are you there") + client_frame(ws::kOpBinary, pattern(300)) +
                         client_frame(ws::kOpPong, "unsolicited") + client_frame(ws::kOpText, "three");
    check_decodes(stream, Expect()
                              .data("one")
                              .end()
                              .data("two", true)
                              .end()
                              .ping("are you there")
                              .data(pattern(300))
                              .end()
                              .data("three", true)
                              .end());
}

TEST_CASE("WebSocket decoder: fragmented messages") {
    SUBCASE("binary") {
        std::string stream = client_frame(ws::kOpBinary, "ab", {.fin = false}) +
                             client_frame(ws::kOpContinuation, "cd", {.fin = false, .mask = 0x01010101}) +
                             client_frame(ws::kOpContinuation, pattern(200), {.fin = false, .mask = 0xdeadbeef}) +
                             client_frame(ws::kOpContinuation, "ef", {.mask = 0});
        check_decodes(stream, Expect().data("abcd" + pattern(200) + "ef").end());
        // Every piece is flagged binary; one end, last.
        ws::FrameDecoder d;
        Recorder r;
        std::string err;
        CHECK(feed(d, stream, r, err) == 0);
        for (auto& e : r.events)
            if (e.kind == Event::Data) CHECK_FALSE(e.text);
        CHECK(r.count(Event::End) == 1);
        CHECK(r.events.back().kind == Event::End);
    }
    SUBCASE("text: continuation pieces are text too") {
        std::string stream = client_frame(ws::kOpText, "Hel", {.fin = false}) +
                             client_frame(ws::kOpContinuation, "lo, ", {.fin = false}) +
                             client_frame(ws::kOpContinuation, "world");
        check_decodes(stream, Expect().data("Hello, world", true).end());
        ws::FrameDecoder d;
        Recorder r;
        std::string err;
        CHECK(feed_chunked(d, stream, 2, r, err) == 0);
        for (auto& e : r.events)
            if (e.kind == Event::Data) CHECK(e.text);
    }
    SUBCASE("a text message after a binary one, and the other way round") {
        std::string stream = client_frame(ws::kOpBinary, "b1", {.fin = false}) + client_frame(ws::kOpContinuation, "b2") +
                             client_frame(ws::kOpText, "t1", {.fin = false}) + client_frame(ws::kOpContinuation, "t2") +
                             client_frame(ws::kOpBinary, "b3");
        check_decodes(stream, Expect().data("b1b2").end().data("t1t2", true).end().data("b3").end());
    }
}

TEST_CASE("WebSocket decoder: control frames inside a fragmented message") {
    SUBCASE("ping") {
        std::string stream = client_frame(ws::kOpText, "Hel", {.fin = false}) + client_frame(ws::kOpPing, "p1") +
                             client_frame(ws::kOpContinuation, "lo");
        check_decodes(stream, Expect().data("Hel", true).ping("p1").data("lo", true).end());
    }
    SUBCASE("pings and pongs between every fragment") {
        std::string stream = client_frame(ws::kOpBinary, "a", {.fin = false}) + client_frame(ws::kOpPing, "") +
                             client_frame(ws::kOpPong, "x") + client_frame(ws::kOpContinuation, "b", {.fin = false}) +
                             client_frame(ws::kOpPing, pattern(125)) + client_frame(ws::kOpContinuation, "c");
        check_decodes(stream, Expect().data("a").ping("").data("b").ping(pattern(125)).data("c").end());
    }
    SUBCASE("close ends the stream, not the message") {
        std::string stream = client_frame(ws::kOpBinary, "ab", {.fin = false}) +
                             client_frame(ws::kOpClose, close_payload(1001, "going")) +
                             client_frame(ws::kOpContinuation, "cd");
        check_decodes(stream, Expect().data("ab").close(1001, "going"));
    }
}

TEST_CASE("WebSocket decoder: ping payloads, whole and split across reads") {
    check_decodes(client_frame(ws::kOpPing, ""), Expect().ping(""));
    check_decodes(client_frame(ws::kOpPing, "hello"), Expect().ping("hello"));
    const std::string payload = pattern(125, 9);
    const std::string frame = client_frame(ws::kOpPing, payload) + client_frame(ws::kOpBinary, "next");
    for (size_t cut = 1; cut < frame.size(); ++cut) {
        CAPTURE(cut);
        ws::FrameDecoder d;
        Recorder r;
        std::string err;
        CHECK(feed(d, std::string_view(frame).substr(0, cut), r, err) == 0);
        CHECK(feed(d, std::string_view(frame).substr(cut), r, err) == 0);
        // Delivered once, whole.
        CHECK(r.count(Event::Ping) == 1);
        CHECK(r.got() == Expect().ping(payload).data("next").end().str());
    }
    // Three reads.
    ws::FrameDecoder d;
    Recorder r;
    std::string err;
    CHECK(feed(d, std::string_view(frame).substr(0, 4), r, err) == 0);
    CHECK(feed(d, std::string_view(frame).substr(4, 50), r, err) == 0);
    CHECK(r.count(Event::Ping) == 0);
    CHECK(feed(d, std::string_view(frame).substr(54), r, err) == 0);
    CHECK(r.got() == Expect().ping(payload).data("next").end().str());
}

TEST_CASE("WebSocket decoder: pong frames are accepted and not reported") {
    check_decodes(client_frame(ws::kOpPong, "") + client_frame(ws::kOpPong, pattern(125)) +
                      client_frame(ws::kOpBinary, "x"),
                  Expect().data("x").end());
}

TEST_CASE("WebSocket decoder: close frames") {
    SUBCASE("code and reason") {
        check_decodes(client_frame(ws::kOpClose, close_payload(1000, "bye")), Expect().close(1000, "bye"));
    }
    SUBCASE("code only") {
        check_decodes(client_frame(ws::kOpClose, close_payload(1001)), Expect().close(1001, ""));
    }
    SUBCASE("no payload: 1005") { check_decodes(client_frame(ws::kOpClose, ""), Expect().close(1005, "")); }
    SUBCASE("longest reason (123 bytes)") {
        const std::string reason(123, 'r');
        check_decodes(client_frame(ws::kOpClose, close_payload(4000, reason)), Expect().close(4000, reason));
    }
    SUBCASE("valid codes (RFC 6455 7.4.1, 7.4.2)") {
        for (uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999}) {
            CAPTURE(code);
            ws::FrameDecoder d;
            Recorder r;
            std::string err;
            CHECK(feed(d, client_frame(ws::kOpClose, close_payload(code, "x")), r, err) == 0);
            CHECK(r.got() == Expect().close(code, "x").str());
        }
    }
    SUBCASE("nothing is decoded after a close") {
        ws::FrameDecoder d;
        Recorder r;
        std::string err;
        feed(d,
             client_frame(ws::kOpBinary, "before") + client_frame(ws::kOpClose, close_payload(1000, "done")) +
                 client_frame(ws::kOpBinary, "after") + client_frame(ws::kOpPing, "p"),
             r, err);
        CHECK(r.got() == Expect().data("before").end().close(1000, "done").str());
        feed(d, client_frame(ws::kOpText, "later") + client_frame(ws::kOpClose, ""), r, err);
        CHECK(r.got() == Expect().data("before").end().close(1000, "done").str());
        // Not even garbage wakes it up.
        feed(d, std::string("\x13\x00\x01", 3), r, err);
        CHECK(r.got() == Expect().data("before").end().close(1000, "done").str());
    }
}

TEST_CASE("WebSocket decoder: protocol errors") {
    SUBCASE("unmasked client frame") {
        check_protocol_error(client_frame(ws::kOpText, "before") + client_frame(ws::kOpBinary, "x", {.masked = false}),
                             Expect().data("before", true).end());
        check_protocol_error(client_frame(ws::kOpPing, "x", {.masked = false}), Expect());
        check_protocol_error(client_frame(ws::kOpClose, close_payload(1000), {.masked = false}), Expect());
        check_protocol_error(client_frame(ws::kOpBinary, "", {.masked = false}), Expect());
    }
    SUBCASE("reserved bits") {
        for (uint8_t rsv : {4, 2, 1, 7}) {
            CAPTURE(int(rsv));
            check_protocol_error(client_frame(ws::kOpBinary, "x", {.rsv = rsv}), Expect());
            check_protocol_error(client_frame(ws::kOpText, "ok") + client_frame(ws::kOpPing, "x", {.rsv = rsv}),
                                 Expect().data("ok", true).end());
            check_protocol_error(client_frame(ws::kOpBinary, "a", {.fin = false}) +
                                     client_frame(ws::kOpContinuation, "b", {.rsv = rsv}),
                                 Expect().data("a"));
        }
    }
    SUBCASE("unknown opcodes") {
        for (uint8_t op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
            CAPTURE(int(op));
            check_protocol_error(client_frame(op, "x"), Expect());
            check_protocol_error(client_frame(op, ""), Expect());
            check_protocol_error(client_frame(ws::kOpBinary, "a", {.fin = false}) + client_frame(op, "x"),
                                 Expect().data("a"));
        }
    }
    SUBCASE("continuation with no message open") {
        check_protocol_error(client_frame(ws::kOpContinuation, "x"), Expect());
        check_protocol_error(client_frame(ws::kOpContinuation, "x", {.fin = false}), Expect());
        check_protocol_error(client_frame(ws::kOpBinary, "done") + client_frame(ws::kOpContinuation, "x"),
                             Expect().data("done").end());
    }
    SUBCASE("a new data frame while a fragmented message is open") {
        check_protocol_error(client_frame(ws::kOpBinary, "ab", {.fin = false}) + client_frame(ws::kOpText, "cd"),
                             Expect().data("ab"));
        check_protocol_error(client_frame(ws::kOpText, "ab", {.fin = false}) + client_frame(ws::kOpBinary, "cd"),
                             Expect().data("ab", true));
        check_protocol_error(client_frame(ws::kOpBinary, "ab", {.fin = false}) +
                                 client_frame(ws::kOpBinary, "cd", {.fin = false}),
                             Expect().data("ab"));
        check_protocol_error(client_frame(ws::kOpBinary, "ab", {.fin = false}) + client_frame(ws::kOpPing, "p") +
                                 client_frame(ws::kOpBinary, ""),
                             Expect().data("ab").ping("p"));
    }
    SUBCASE("fragmented control frames") {
        check_protocol_error(client_frame(ws::kOpPing, "x", {.fin = false}), Expect());
        check_protocol_error(client_frame(ws::kOpPong, "x", {.fin = false}), Expect());
        check_protocol_error(client_frame(ws::kOpClose, close_payload(1000), {.fin = false}), Expect());
        check_protocol_error(client_frame(ws::kOpPing, "", {.fin = false}) + client_frame(ws::kOpContinuation, "x"),
                             Expect());
    }
    SUBCASE("control frames longer than 125 bytes") {
        check_protocol_error(client_frame(ws::kOpPing, pattern(126)), Expect());
        check_protocol_error(client_frame(ws::kOpPong, pattern(126)), Expect());
        check_protocol_error(client_frame(ws::kOpClose, close_payload(1000, std::string(124, 'r'))), Expect());
        check_protocol_error(client_frame(ws::kOpPing, pattern(70000)), Expect());
        // Declared in a 16-bit length: the length, not the form, counts.
        check_protocol_error(client_frame(ws::kOpPing, pattern(200), {.len_form = 16}), Expect());
    }
    SUBCASE("close payload of 1 byte") {
        check_protocol_error(client_frame(ws::kOpClose, "\x03"), Expect());
    }
    SUBCASE("invalid close codes") {
        for (uint16_t code : {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535}) {
            CAPTURE(code);
            check_protocol_error(client_frame(ws::kOpClose, close_payload(code, "x")), Expect());
            check_protocol_error(client_frame(ws::kOpClose, close_payload(code)), Expect());
        }
    }
}

TEST_CASE("WebSocket decoder: a 64-bit length with the top bit set does not crash") {
    // RFC 5.2: "the most significant bit MUST be 0". Whatever the decoder
    // makes of it, it must not crash or report garbage as a complete message.
    std::string f = "\x82\xff";
    f += std::string("\x80\x00\x00\x00\x00\x00\x00\x05", 8);
    f += "\x01\x02\x03\x04";
    f += "abcde";
    ws::FrameDecoder d;
    Recorder r;
    std::string err;
    uint16_t c = feed(d, f, r, err);
    CHECK(r.count(Event::End) == 0);
    if (c != 0) CHECK_FALSE(err.empty());
}

TEST_CASE("WebSocket decoder: random bytes do not crash it and it stays down after an error") {
    std::mt19937 rng(17);
    for (int i = 0; i < 2000; ++i) {
        std::string s(1 + rng() % 200, '\0');
        for (auto& c : s) c = char(rng());
        // Half of them with a plausible first header.
        if (i % 2) s[1] = char(uint8_t(s[1]) | 0x80);
        ws::FrameDecoder d;
        Recorder r;
        std::string err;
        uint16_t first = 0;
        size_t events_at_error = 0;
        for (size_t at = 0; at < s.size();) {
            size_t n = 1 + rng() % 40;
            uint16_t c = feed(d, std::string_view(s).substr(at, n), r, err);
            at += n;
            if (c && !first) {
                first = c;
                events_at_error = r.events.size();
                CHECK_FALSE(err.empty());
            }
        }
        if (first) CHECK(r.events.size() == events_at_error);
    }
}

// ---- Server frames ---------------------------------------------------------

TEST_CASE("WebSocket append_frame: unmasked, FIN set, minimal length encodings") {
    for (size_t n : {size_t(0), size_t(1), size_t(125), size_t(126), size_t(127), size_t(65535), size_t(65536),
                     size_t(70000)}) {
        CAPTURE(n);
        const std::string payload = pattern(n, 11);
        std::string out = "prev";
        ws::append_frame(out, ws::kOpBinary, payload);
        REQUIRE(out.rfind("prev", 0) == 0);  // appended, not replaced
        const std::string f = out.substr(4);
        auto s = parse_server_frame(f);
        CHECK(int(s.b0) == 0x82);
        CHECK_FALSE(s.masked);
        if (n <= 125) {
            CHECK(int(s.len7) == int(n));
            CHECK(s.header == 2);
        } else if (n <= 65535) {
            CHECK(int(s.len7) == 126);
            CHECK(s.header == 4);
        } else {
            CHECK(int(s.len7) == 127);
            CHECK(s.header == 10);
        }
        CHECK(s.len == n);
        CHECK(f.size() == s.header + n);
        CHECK((s.payload == payload));
    }
    for (auto [op, b0] : {std::pair{ws::kOpText, 0x81}, std::pair{ws::kOpPing, 0x89}, std::pair{ws::kOpPong, 0x8A},
                          std::pair{ws::kOpClose, 0x88}}) {
        CAPTURE(int(op));
        std::string out;
        ws::append_frame(out, op, "hi");
        CHECK(escape(out) == escape(std::string(1, char(b0)) + "\x02hi"));
    }
}

TEST_CASE("WebSocket append_close: big-endian code, reason truncated to fit 125 bytes") {
    auto frame = [](uint16_t code, std::string_view reason) {
        std::string out;
        ws::append_close(out, code, reason);
        return out;
    };
    CHECK(escape(frame(1000, "bye")) == escape(std::string("\x88\x05\x03\xe8" "bye", 7)));
    {
        std::string out;
        ws::append_close(out, 1001);
        CHECK(escape(out) == escape(std::string("\x88\x02\x03\xe9", 4)));
    }
    CHECK(escape(frame(4000, "")) == escape(std::string("\x88\x02\x0f\xa0", 4)));
    CHECK(escape(frame(ws::kCloseTooBig, "big")) == escape(std::string("\x88\x05\x03\xf1" "big", 7)));

    for (size_t n : {size_t(122), size_t(123), size_t(124), size_t(200), size_t(5000)}) {
        CAPTURE(n);
        std::string reason;
        for (size_t i = 0; i < n; ++i) reason.push_back(char('a' + i % 26));
        auto s = parse_server_frame(frame(ws::kCloseProtocolError, reason));
        CHECK(int(s.b0) == 0x88);
        CHECK_FALSE(s.masked);
        CHECK(s.len <= 125);
        CHECK(s.header == 2);
        CHECK(s.payload.size() == s.len);
        REQUIRE(s.payload.size() >= 2);
        CHECK(be(s.payload, 0, 2) == 1002);
        const std::string kept = s.payload.substr(2);
        CHECK(kept.size() == std::min<size_t>(n, 123));
        CHECK(reason.rfind(kept, 0) == 0);
    }

    SUBCASE("what append_close writes, masked as a client would, decodes to the same close") {
        const std::vector<std::pair<uint16_t, std::string>> cases = {
            {1000, "bye"}, {1001, ""}, {4999, std::string(300, 'z')}};
        for (auto& [code, reason] : cases) {
            CAPTURE(code);
            auto s = parse_server_frame(frame(code, reason));
            ws::FrameDecoder d;
            Recorder r;
            std::string err;
            CHECK(feed(d, client_frame(s.b0 & 0x0f, s.payload), r, err) == 0);
            CHECK(r.got() == Expect().close(code, reason.substr(0, 123)).str());
        }
    }
}

// ---- Round trip ----------------------------------------------------------------

TEST_CASE("WebSocket decoder: random messages, fragments, masks and reads round-trip") {
    std::mt19937 rng(0x6455);
    auto uniform = [&](size_t lo, size_t hi) { return lo + size_t(rng() % (hi - lo + 1)); };
    for (int round = 0; round < 30; ++round) {
        CAPTURE(round);
        std::string stream;
        Expect expected;
        const size_t messages = uniform(1, 25);
        for (size_t m = 0; m < messages; ++m) {
            const int kind = int(rng() % 100);
            const size_t size = kind < 60 ? uniform(0, 130) : kind < 93 ? uniform(100, 3000) : uniform(65000, 70000);
            const bool text = rng() % 2;
            std::string msg(size, '\0');
            for (auto& c : msg) c = text ? char(uniform(0x20, 0x7e)) : char(rng());
            // Cut into 1 to 5 fragments (empty ones included).
            std::vector<size_t> cuts = {0, size};
            for (size_t k = uniform(0, 4); k > 0; --k) cuts.push_back(uniform(0, size));
            std::sort(cuts.begin(), cuts.end());
            for (size_t f = 0; f + 1 < cuts.size(); ++f) {
                const bool first = f == 0, last = f + 2 == cuts.size();
                const std::string piece = msg.substr(cuts[f], cuts[f + 1] - cuts[f]);
                stream += client_frame(first ? (text ? ws::kOpText : ws::kOpBinary) : ws::kOpContinuation, piece,
                                       {.fin = last, .mask = uint32_t(rng())});
                expected.data(piece, text);
                if (last) expected.end();
                // A control frame between fragments or messages now and then.
                const int ctl = int(rng() % 10);
                if (ctl == 0) {
                    std::string p(uniform(0, 125), '\0');
                    for (auto& c : p) c = char(rng());
                    stream += client_frame(ws::kOpPing, p, {.mask = uint32_t(rng())});
                    expected.ping(p);
                } else if (ctl == 1) {
                    stream += client_frame(ws::kOpPong, pattern(uniform(0, 125)), {.mask = uint32_t(rng())});
                }
            }
        }
        const bool with_close = round % 3 == 0;
        if (with_close) {
            stream += client_frame(ws::kOpClose, close_payload(1000, "end of round"), {.mask = uint32_t(rng())});
            expected.close(1000, "end of round");
            stream += client_frame(ws::kOpBinary, "ignored");
        }

        ws::FrameDecoder d;
        Recorder r;
        std::string err;
        uint16_t code = 0;
        const bool small_reads = round % 2;
        for (size_t at = 0; at < stream.size();) {
            const size_t n = small_reads ? uniform(1, 16) : uniform(1, 9000);
            const bool closed = r.closed;
            const uint16_t c = feed(d, std::string_view(stream).substr(at, n), r, err);
            if (!closed) code |= c;
            at += n;
        }
        CHECK(code == 0);
        CHECK(err.empty());
        const auto got = merged(r.events), want = merged(expected.events);
        CHECK(got.size() == want.size());
        for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
            if (describe(got[i]) != describe(want[i])) {
                CAPTURE(i);
                CHECK(describe(got[i]) == describe(want[i]));
                break;
            }
        }
    }
}

TEST_CASE("RFC 6455 8.1: a text message that is not UTF-8 closes with 1007, whole or split anywhere") {
    using namespace std::string_literals;
    for (std::string bad : {"\xff"s, "ok\xc0\xaf"s, "\xed\xa0\x80"s}) {
        std::string stream = client_frame(ws::kOpText, bad);
        for (size_t chunk = 1; chunk <= stream.size(); ++chunk) {
            ws::FrameDecoder d;
            Recorder r;
            std::string err;
            CHECK(feed_chunked(d, stream, chunk, r, err) == ws::kCloseInvalidData);
            CHECK(r.count(Event::End) == 0);
        }
    }
    // A code point split between two frames of one message is fine; a message
    // that ends inside one is not.
    std::string euro = "\xe2\x82\xac";
    std::string split = client_frame(ws::kOpText, euro.substr(0, 1), {.fin = false}) +
                        client_frame(ws::kOpContinuation, euro.substr(1));
    ws::FrameDecoder d;
    Recorder r;
    std::string err;
    CHECK(feed_chunked(d, split, 1, r, err) == 0);
    CHECK(r.count(Event::End) == 1);
    ws::FrameDecoder d2;
    Recorder r2;
    CHECK(feed_chunked(d2, client_frame(ws::kOpText, euro.substr(0, 2)), 1, r2, err) == ws::kCloseInvalidData);
    // Binary messages carry any bytes.
    ws::FrameDecoder d3;
    Recorder r3;
    CHECK(feed_chunked(d3, client_frame(ws::kOpBinary, "\xff\xfe"), 1, r3, err) == 0);
}

TEST_CASE("RFC 6455 7.1.6: a close reason that is not UTF-8 closes with 1007") {
    std::string payload = "\x03\xe8\xff";  // 1000 + an invalid byte
    ws::FrameDecoder d;
    Recorder r;
    std::string err;
    CHECK(feed_chunked(d, client_frame(ws::kOpClose, payload), 3, r, err) == ws::kCloseInvalidData);
    CHECK_FALSE(r.closed);
}
