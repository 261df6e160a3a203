// libFuzzer target for the MQTT codec. For each protocol version it
//  1. parses the input as a stream of packets from one buffer,
//  2. feeds the same bytes in chunks (sizes taken from the first input bytes)
//     the way a socket would, and checks the stream sees the same packets,
//  3. checks a small Maximum Packet Size yields TooLarge exactly for the
//     packets longer than it,
//  4. round-trips every parsed packet through serialize() + parse() and
//     aborts if a field changes, and checks serialize_publish_head() and
//     publish_size() agree with serialize().
#include "protocols/mqtt/codec.h"

#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

using namespace duplex::mqtt;

namespace {

constexpr size_t kMax = 1 << 20;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "mqtt_codec_fuzz: %s\n", what);
    std::abort();
}

void check(bool ok, const char* what) {
    if (!ok) fail(what);
}

std::span<const uint8_t> as_bytes(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// The version a packet must be re-encoded with: CONNECT carries its own.
Version encode_version(const Packet& p, Version v) {
    if (const auto* c = std::get_if<Connect>(&p)) return c->version;
    return v;
}

void check_publish_head(const Publish& p, Version v, const std::string& full) {
    std::string head;
    serialize_publish_head(p, v, p.payload.size(), head);
    head.append(p.payload);
    check(head == full, "serialize_publish_head + payload differs from serialize");
    check(publish_size(p, v, p.payload.size()) == full.size(), "publish_size differs from serialize");
}

// serialize(parse(x)) must parse back to the same packet and re-serialize to
// the same bytes.
void round_trip(const Packet& p, Version v) {
    const Version ev = encode_version(p, v);
    std::string bytes;
    serialize(p, ev, bytes);
    Packet again;
    ParseResult r = parse(as_bytes(bytes), ev, kMax, again);
    if (r.status != ParseStatus::Ok) {
        std::fprintf(stderr, "re-parse failed: %s\n", r.error ? r.error : "?");
        fail("serialized packet does not parse");
    }
    check(r.consumed == bytes.size(), "re-parse consumed a different length");
    check(again.index() == p.index(), "packet type changed in round trip");
    check(again == p, "packet fields changed in round trip");
    std::string bytes2;
    serialize(again, ev, bytes2);
    check(bytes2 == bytes, "serialization is not stable");
    if (const auto* pub = std::get_if<Publish>(&p)) check_publish_head(*pub, ev, bytes);
    if (const auto* c = std::get_if<Connect>(&p)) check(c->version == ev, "CONNECT version");
}

struct Step {
    ParseStatus status;
    size_t consumed;
};

// Parses packets from one buffer until an error or incomplete packet.
std::vector<Step> parse_whole(std::span<const uint8_t> data, Version v, size_t max, bool verify) {
    std::vector<Step> steps;
    size_t pos = 0;
    while (true) {
        Packet p;
        auto rest = data.subspan(pos);
        ParseResult r = parse(rest, v, max, p);
        size_t peeked = 0;
        ParseResult pr = peek_length(rest, max, peeked);
        if (r.status == ParseStatus::Ok) {
            check(pr.status == ParseStatus::Ok && peeked == r.consumed, "peek_length disagrees with parse");
            check(r.consumed >= 2 && r.consumed <= rest.size(), "bad consumed");
        } else {
            check(r.error != nullptr || r.status == ParseStatus::NeedMore, "error without text");
            if (r.status == ParseStatus::NeedMore)
                check(pr.status == ParseStatus::NeedMore || peeked > rest.size(), "NeedMore with full packet");
        }
        steps.push_back({r.status, r.consumed});
        if (r.status != ParseStatus::Ok) break;
        if (verify) round_trip(p, v);
        pos += r.consumed;
    }
    return steps;
}

// Feeds the data in chunks; the buffer only ever holds what has "arrived".
std::vector<Step> parse_stream(std::span<const uint8_t> data, Version v, size_t max) {
    std::vector<Step> steps;
    std::vector<uint8_t> buf;
    size_t fed = 0, k = 0;
    const size_t nsizes = data.size() < 4 ? data.size() : 4;
    while (true) {
        Packet p;
        ParseResult r = parse(buf, v, max, p);
        if (r.status == ParseStatus::NeedMore && fed < data.size()) {
            // Chunk sizes 1..16 chosen by the first input bytes.
            size_t n = nsizes ? (data[k++ % nsizes] & 0x0F) + 1 : 1;
            if (n > data.size() - fed) n = data.size() - fed;
            buf.insert(buf.end(), data.begin() + fed, data.begin() + fed + n);
            fed += n;
            continue;
        }
        steps.push_back({r.status, r.consumed});
        if (r.status != ParseStatus::Ok) break;
        buf.erase(buf.begin(), buf.begin() + r.consumed);
    }
    return steps;
}

bool same(const std::vector<Step>& a, const std::vector<Step>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i].status != b[i].status || a[i].consumed != b[i].consumed) return false;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::span<const uint8_t> in(data, size);
    for (Version v : {Version::v31, Version::v311, Version::v5}) {
        const auto whole = parse_whole(in, v, kMax, true);
        check(same(whole, parse_stream(in, v, kMax)), "chunked stream parses differently");

        // With a small limit, the first packet longer than it is TooLarge and
        // everything before it parses as without a limit.
        const size_t small = size ? 2 + data[0] % 64 : 2;
        const auto limited = parse_whole(in, v, small, false);
        size_t i = 0;
        for (; i < limited.size() && limited[i].status != ParseStatus::TooLarge; ++i)
            check(i < whole.size() && limited[i].status == whole[i].status &&
                      limited[i].consumed == whole[i].consumed,
                  "small limit changed a packet below the limit");
    }
    {
        // Every byte sequence valid_utf8 accepts re-encodes cleanly; this just
        // runs it over arbitrary bytes under the sanitizers.
        std::string_view s(reinterpret_cast<const char*>(data), size);
        (void)valid_utf8(s);
    }
    return 0;
}
