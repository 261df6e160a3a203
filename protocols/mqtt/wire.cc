#include "protocols/mqtt/wire.h"

#include "base/utf8.h"

namespace duplex::mqtt {

namespace wire {

// The shared validator (base/utf8.h) with the MQTT restrictions of 1.5.4
// and their spec tags: the string MUST be well-formed UTF-8 as defined by
// RFC 3629 (so no overlong forms, nothing above U+10FFFF, no surrogates
// U+D800..U+DFFF) [MQTT-1.5.4-1] and MUST NOT contain U+0000 [MQTT-1.5.4-2].
const char* utf8_problem(std::string_view s) {
    switch (check_utf8(s, /*nul_allowed=*/false)) {
        case Utf8::Valid:
            return nullptr;
        case Utf8::Nul:
            return "string contains U+0000 [MQTT-1.5.4-2]";
        case Utf8::BadLead:
            return "string is not well-formed UTF-8: bad lead byte [MQTT-1.5.4-1]";
        case Utf8::Truncated:
            return "string is not well-formed UTF-8: truncated sequence [MQTT-1.5.4-1]";
        case Utf8::BadContinuation:
            return "string is not well-formed UTF-8: bad continuation byte [MQTT-1.5.4-1]";
        case Utf8::Overlong:
            return "string is not well-formed UTF-8: overlong encoding [MQTT-1.5.4-1]";
        case Utf8::BeyondMax:
            return "string is not well-formed UTF-8: beyond U+10FFFF [MQTT-1.5.4-1]";
        case Utf8::Surrogate:
            return "string contains a UTF-16 surrogate U+D800..U+DFFF [MQTT-1.5.4-1]";
    }
    return "string is not well-formed UTF-8 [MQTT-1.5.4-1]";
}

bool Reader::u8(uint8_t& v) {
    if (left() < 1) return err_.malformed("packet ends inside a byte field [MQTT-1.5.1]");
    v = bytes_[pos_++];
    return true;
}

bool Reader::u16(uint16_t& v) {
    if (left() < 2) return err_.malformed("packet ends inside a two byte integer [MQTT-1.5.2]");
    v = static_cast<uint16_t>((unsigned{bytes_[pos_]} << 8) | bytes_[pos_ + 1]);
    pos_ += 2;
    return true;
}

bool Reader::u32(uint32_t& v) {
    if (left() < 4) return err_.malformed("packet ends inside a four byte integer [MQTT-1.5.3]");
    v = (uint32_t{bytes_[pos_]} << 24) | (uint32_t{bytes_[pos_ + 1]} << 16) |
        (uint32_t{bytes_[pos_ + 2]} << 8) | uint32_t{bytes_[pos_ + 3]};
    pos_ += 4;
    return true;
}

bool Reader::varint(uint32_t& v) {
    uint32_t value = 0;
    for (unsigned i = 0; i < 4; ++i) {
        uint8_t b;
        if (!u8(b)) return false;
        value |= uint32_t{b & 0x7Fu} << (7 * i);
        if ((b & 0x80) == 0) {
            // A zero final byte after the first means a longer encoding than
            // needed [MQTT-1.5.5-1].
            if (i > 0 && b == 0)
                return err_.malformed("variable byte integer is not minimally encoded [MQTT-1.5.5-1]");
            v = value;
            return true;
        }
    }
    return err_.malformed("variable byte integer longer than 4 bytes [MQTT-1.5.5]");
}

bool Reader::binary(std::string_view& v) {
    uint16_t len;
    if (!u16(len)) return false;
    if (left() < len)
        return err_.malformed("string or binary data longer than the rest of the packet [MQTT-1.5.4]");
    v = std::string_view(reinterpret_cast<const char*>(bytes_.data() + pos_), len);
    pos_ += len;
    return true;
}

bool Reader::utf8(std::string_view& v) {
    if (!binary(v)) return false;
    if (const char* problem = utf8_problem(v)) return err_.malformed(problem);
    return true;
}

std::string_view Reader::rest() {
    std::string_view v(reinterpret_cast<const char*>(bytes_.data() + pos_), left());
    pos_ = bytes_.size();
    return v;
}

bool Reader::take(size_t n, Reader& sub) {
    if (left() < n) return err_.malformed("property length exceeds the rest of the packet [MQTT-2.2.2-1]");
    sub.bytes_ = bytes_.subspan(pos_, n);
    sub.pos_ = 0;
    pos_ += n;
    return true;
}

bool Reader::expect_end(const char* what) { return at_end() ? true : err_.malformed(what); }

void Writer::varint(size_t v) {
    // Values above kMaxVarint cannot be encoded; callers keep packets smaller.
    do {
        uint8_t b = static_cast<uint8_t>(v & 0x7F);
        v >>= 7;
        if (v) b |= 0x80;
        u8(b);
    } while (v);
}

}  // namespace wire

bool valid_utf8(std::string_view s) { return wire::utf8_problem(s) == nullptr; }

}  // namespace duplex::mqtt
