// libFuzzer target for the STOMP codec.
//
// Input: byte 0 picks the version (% 3) and whether to use tiny limits (so the
// limit paths are reached), byte 1 seeds the chunk sizes, the rest is the
// stream. For that stream it
//  1. parses it from one buffer, frame after frame, as far as possible;
//  2. feeds the same bytes in random chunks the way a socket would (append,
//     parse until NeedMore, drop what was consumed) and checks the chunked
//     parse sees exactly the same frames, heart-beats and final state:
//     parse() keeps no state, so a prefix must give NeedMore or the same
//     answer as the whole;
//  3. round-trips every parsed frame through serialize() + parse() and
//     aborts if anything changed (parsed frames are always representable:
//     the parser cannot produce text that its version cannot write);
//  4. serializes the raw stream as a header name, a header value and a body,
//     and checks it parses back whenever representable() says it should.
#include "protocols/stomp/codec.h"

#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

using namespace duplex::stomp;

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "stomp_codec_fuzz: %s\n", what);
    std::abort();
}

void check(bool ok, const char* what) {
    if (!ok) fail(what);
}

std::span<const uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// A parse event with owned copies, comparable across buffers.
struct Event {
    ParseStatus status;
    size_t consumed;
    std::string command;
    std::vector<Header> headers;
    std::string body;
};

Event event_of(const ParseResult& r, const Frame& f) {
    Event e{r.status, r.consumed, {}, {}, {}};
    if (r.status == ParseStatus::Ok) {
        e.command = f.command;
        e.headers = f.headers;
        e.body.assign(f.body);
    }
    return e;
}

bool same(const Event& a, const Event& b) {
    if (a.status != b.status || a.consumed != b.consumed || a.command != b.command ||
        a.body != b.body || a.headers.size() != b.headers.size())
        return false;
    for (size_t i = 0; i < a.headers.size(); ++i)
        if (a.headers[i].name != b.headers[i].name || a.headers[i].value != b.headers[i].value)
            return false;
    return true;
}

void check_result(const ParseResult& r, size_t size) {
    switch (r.status) {
        case ParseStatus::Ok: check(r.consumed > 0 && r.consumed <= size, "Ok consumed"); break;
        case ParseStatus::Heartbeat: check(r.consumed == 1 || r.consumed == 2, "Heartbeat consumed"); break;
        case ParseStatus::NeedMore: check(r.consumed == 0 && !r.error, "NeedMore result"); break;
        case ParseStatus::Error: check(r.consumed == 0 && r.error && *r.error, "Error result"); break;
    }
}

// Step 1: the whole stream from one buffer, until NeedMore or Error.
std::vector<Event> parse_all(std::string_view data, Version v, const Limits& limits) {
    std::vector<Event> events;
    Frame f;
    size_t pos = 0;
    for (;;) {
        ParseResult r = parse(as_bytes(data.substr(pos)), v, limits, f);
        check_result(r, data.size() - pos);
        if (r.status == ParseStatus::Ok) check(f.body.data() >= data.data() + pos &&
                                               f.body.data() + f.body.size() <= data.data() + data.size(),
                                               "body outside the input");
        events.push_back(event_of(r, f));
        if (r.status == ParseStatus::NeedMore || r.status == ParseStatus::Error) return events;
        pos += r.consumed;
    }
}

struct Rng {
    uint32_t state;
    uint32_t next() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        return state;
    }
};

// Step 2: the same stream in chunks, as a connection's input buffer sees it.
void parse_chunked(std::string_view data, Version v, const Limits& limits, uint8_t seed,
                   const std::vector<Event>& expected) {
    Rng rng{0x9E3779B9u ^ (uint32_t{seed} * 0x01000193u)};
    std::string buffer;
    Frame f;   // reused, as a connection may
    size_t fed = 0, k = 0;
    while (fed < data.size()) {
        // Mostly small chunks, sometimes larger ones.
        const uint32_t x = rng.next();
        size_t chunk = (x & 3) ? 1 + (x >> 8) % 8 : 1 + (x >> 8) % 256;
        chunk = std::min(chunk, data.size() - fed);
        buffer.append(data.substr(fed, chunk));
        fed += chunk;
        for (;;) {
            ParseResult r = parse(as_bytes(buffer), v, limits, f);
            check_result(r, buffer.size());
            if (r.status == ParseStatus::NeedMore && fed < data.size()) break;   // wait for more
            check(k < expected.size(), "chunked parse saw more events");
            check(same(event_of(r, f), expected[k]), "chunked parse differs from one-buffer parse");
            ++k;
            if (r.status == ParseStatus::Error || r.status == ParseStatus::NeedMore) {
                check(k == expected.size(), "chunked parse stopped early");
                return;
            }
            buffer.erase(0, r.consumed);
        }
    }
    // Empty data: the one-buffer parse said NeedMore.
    check(expected.size() == 1 && expected[0].status == ParseStatus::NeedMore, "empty stream");
}

// Step 3: a parsed frame serializes back to something that parses to it.
void round_trip(const Event& e, Version v, const Limits& limits) {
    std::string wire;
    serialize(e.command, e.headers, e.body, v, wire);
    // Escaping may lengthen lines up to twice.
    Limits loose = limits;
    loose.max_header_line = 2 * limits.max_header_line + 2;
    Frame f;
    ParseResult r = parse(as_bytes(wire), v, loose, f);
    if (r.status != ParseStatus::Ok) {
        std::fprintf(stderr, "re-parse failed: %s\n", r.error ? r.error : "NeedMore");
        fail("round trip");
    }
    check(r.consumed == wire.size(), "round trip consumed");
    Event again = event_of(r, f);
    again.consumed = e.consumed;
    check(same(again, e), "round trip changed the frame");
}

// Step 4: arbitrary text as header name / value / body.
void serialize_arbitrary(std::string_view text, Version v) {
    const char* command = (text.size() % 2) ? "SEND" : "CONNECT";
    const bool name_ok = representable(text, command, v, true);
    const bool value_ok = representable(text, command, v, false);
    const std::string length = std::to_string(text.size());
    std::vector<Header> headers = {{"content-length", length}, {"value", std::string(text)}};
    if (name_ok) headers.push_back({std::string(text), "name"});
    std::string wire;
    serialize(command, headers, text, v, wire);
    Limits big;
    big.max_header_line = 4 * text.size() + 64;
    big.max_body = text.size();
    Frame f;
    ParseResult r = parse(as_bytes(wire), v, big, f);
    if (!value_ok) return;   // serialize() wrote it raw; anything may follow
    check(r.status == ParseStatus::Ok, "representable frame did not parse");
    check(r.consumed == wire.size(), "representable frame consumed");
    check(f.command == command && f.body == text, "representable frame command/body");
    check(f.headers.size() == headers.size(), "representable frame header count");
    for (size_t i = 0; i < headers.size(); ++i)
        check(f.headers[i].name == headers[i].name && f.headers[i].value == headers[i].value,
              "representable header changed");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    const Version v = static_cast<Version>(data[0] % 3);
    Limits limits;
    if ((data[0] / 3) % 2) {
        limits.max_headers = 3;
        limits.max_header_line = 16;
        limits.max_body = 8;
        limits.max_command = 6;
    }
    const uint8_t seed = data[1];
    const std::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);

    const std::vector<Event> events = parse_all(stream, v, limits);
    parse_chunked(stream, v, limits, seed, events);
    for (const Event& e : events)
        if (e.status == ParseStatus::Ok) round_trip(e, v, limits);
    serialize_arbitrary(stream.substr(0, 512), v);
    return 0;
}
