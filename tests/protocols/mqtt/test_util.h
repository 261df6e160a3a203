// Helpers shared by the MQTT codec tests: hex in/out and a tiny packet builder.
#pragma once

#include "protocols/mqtt/codec.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mqtt_test {

using namespace duplex::mqtt;
using Bytes = std::vector<uint8_t>;

inline constexpr size_t kMax = 1 << 24;

// "30 05 00 01 61" -> bytes. Spaces are ignored.
inline Bytes hex(std::string_view h) {
    Bytes out;
    int hi = -1;
    for (char c : h) {
        int v;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
        else continue;
        if (hi < 0) hi = v;
        else out.push_back(static_cast<uint8_t>(hi << 4 | v)), hi = -1;
    }
    REQUIRE(hi < 0);
    return out;
}

inline std::string to_hex(std::string_view s) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
        if (!out.empty()) out.push_back(' ');
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 0xF]);
    }
    return out;
}
inline std::string to_hex(const Bytes& b) {
    return to_hex(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}
// Normalises a hex literal for comparison with to_hex().
inline std::string norm(std::string_view h) { return to_hex(hex(h)); }

// Result of parsing: keeps the bytes alive because the packet points into them.
struct Parsed {
    Bytes bytes;
    ParseResult result;
    Packet packet;
};

inline Parsed parse_bytes(Bytes b, Version v, size_t max = kMax) {
    Parsed p{std::move(b), {}, {}};
    p.result = parse(p.bytes, v, max, p.packet);
    return p;
}
inline Parsed parse_hex(std::string_view h, Version v, size_t max = kMax) {
    return parse_bytes(hex(h), v, max);
}

inline std::string ser(const Packet& p, Version v) {
    std::string out;
    serialize(p, v, out);
    return to_hex(out);
}

// Builds packet bytes: body helpers plus the fixed header.
struct Build {
    Bytes b;
    Build& u8(uint8_t v) { b.push_back(v); return *this; }
    Build& u16(uint16_t v) { return u8(static_cast<uint8_t>(v >> 8)).u8(static_cast<uint8_t>(v)); }
    Build& u32(uint32_t v) { return u16(static_cast<uint16_t>(v >> 16)).u16(static_cast<uint16_t>(v)); }
    Build& varint(size_t v) {
        do {
            uint8_t x = v & 0x7F;
            v >>= 7;
            u8(static_cast<uint8_t>(x | (v ? 0x80 : 0)));
        } while (v);
        return *this;
    }
    Build& str(std::string_view s) {
        u16(static_cast<uint16_t>(s.size()));
        for (char c : s) u8(static_cast<uint8_t>(c));
        return *this;
    }
    Build& raw(const Bytes& x) { b.insert(b.end(), x.begin(), x.end()); return *this; }
    Build& raw(std::string_view h) { return raw(hex(h)); }
    // Property Length + the given property bytes.
    Build& props(const Bytes& x) { return varint(x.size()).raw(x); }
    Bytes packet(uint8_t first) const {
        Build out;
        out.u8(first).varint(b.size()).raw(b);
        return out.b;
    }
};

}  // namespace mqtt_test
