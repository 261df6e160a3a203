// Internal to the MQTT codec: bounds-checked reading and appending of the
// MQTT data representations (section 1.5 of 5.0, 1.5 of 3.1.1).
#pragma once

#include "protocols/mqtt/codec.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace duplex::mqtt::wire {

// Largest value a Variable Byte Integer can hold (4 bytes) [MQTT-1.5.5].
inline constexpr uint32_t kMaxVarint = 268'435'455;

// The first problem found while parsing a packet. Only the first one is kept:
// later failures are consequences of it.
struct Error {
    ParseStatus status = ParseStatus::Ok;
    Reason reason = Reason::Success;
    const char* text = nullptr;

    bool failed() const { return status != ParseStatus::Ok; }
    // Records the problem (if none yet) and returns false so callers can write
    // `return err.set(...)`.
    bool set(ParseStatus s, Reason r, const char* t) {
        if (!failed()) {
            status = s;
            reason = r;
            text = t;
        }
        return false;
    }
    bool malformed(const char* t) { return set(ParseStatus::Malformed, Reason::MalformedPacket, t); }
    bool protocol(const char* t) { return set(ParseStatus::ProtocolError, Reason::ProtocolError, t); }
};

// Returns nullptr for a valid MQTT UTF-8 string, else the violated rule.
const char* utf8_problem(std::string_view s);

// Reads MQTT data types from a byte range that never extends past the
// packet's remaining length, so nothing beyond it is ever read. Every read
// returns false (and records a Malformed error) if the range is too short.
class Reader {
  public:
    Reader(std::span<const uint8_t> bytes, Error& err) : bytes_(bytes), err_(err) {}

    size_t left() const { return bytes_.size() - pos_; }
    bool at_end() const { return pos_ == bytes_.size(); }
    Error& err() { return err_; }

    bool u8(uint8_t& v);
    bool u16(uint16_t& v);
    bool u32(uint32_t& v);
    // Variable Byte Integer, at most 4 bytes and minimally encoded [MQTT-1.5.5-1].
    bool varint(uint32_t& v);
    // Two Byte length + bytes: Binary Data [MQTT-1.5.6].
    bool binary(std::string_view& v);
    // Binary Data that must also be valid UTF-8 [MQTT-1.5.4-1/2].
    bool utf8(std::string_view& v);
    // Everything that is left (e.g. a PUBLISH payload).
    std::string_view rest();
    // Splits off the next n bytes as their own reader (e.g. a property block),
    // sharing the error; fails if fewer than n bytes are left.
    bool take(size_t n, Reader& sub);

    // Trailing bytes the format does not allow make a packet malformed.
    bool expect_end(const char* what);

  private:
    std::span<const uint8_t> bytes_;
    size_t pos_ = 0;
    Error& err_;
};

// Size of the Variable Byte Integer encoding of v (1..4 bytes).
constexpr size_t varint_size(size_t v) { return v < 128 ? 1 : v < 16'384 ? 2 : v < 2'097'152 ? 3 : 4; }

// Appends MQTT data types. Callers compute lengths up front, so encoding is a
// single pass of appends.
class Writer {
  public:
    explicit Writer(std::string& out) : out_(out) {}

    void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
    void u16(uint16_t v) {
        u8(static_cast<uint8_t>(v >> 8));
        u8(static_cast<uint8_t>(v & 0xFF));
    }
    void u32(uint32_t v) {
        u16(static_cast<uint16_t>(v >> 16));
        u16(static_cast<uint16_t>(v & 0xFFFF));
    }
    void varint(size_t v);
    // Two Byte length prefix + bytes (strings and binary data alike).
    void binary(std::string_view v) {
        u16(static_cast<uint16_t>(v.size()));
        raw(v);
    }
    void raw(std::string_view v) { out_.append(v); }

  private:
    std::string& out_;
};

// MQTT 5 properties (2.2.2). `context` is the packet type the properties
// belong to; the Will Properties of CONNECT use kWillContext.
inline constexpr unsigned kWillContext = 16;

bool read_properties(Reader& r, unsigned context, Properties& out);
// Encoded size of the properties without the Property Length prefix.
size_t properties_size(const Properties& p);
// Writes Property Length + properties; `size` is properties_size(p), passed in
// because callers already needed it for the Remaining Length.
void write_properties(Writer& w, const Properties& p, size_t size);

}  // namespace duplex::mqtt::wire
