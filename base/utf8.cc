#include "base/utf8.h"

#include <cstddef>
#include <cstring>

namespace duplex {

namespace {
// ASCII without NUL (when NUL is refused), eight bytes at a time: nearly
// every header, topic and payload is; the byte loop below was 4 % of the
// broker's instructions per STOMP message.
constexpr uint64_t kHigh = 0x8080808080808080ull, kLow = 0x0101010101010101ull;
bool plain_word(const unsigned char* p, bool nul_allowed) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    if (w & kHigh) return false;
    return nul_allowed || !((w - kLow) & ~w & kHigh);
}
}  // namespace

Utf8 check_utf8(std::string_view s, bool nul_allowed) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const size_t n = s.size();
    size_t i = 0;
    while (i + 8 <= n && plain_word(p + i, nul_allowed)) i += 8;
    while (i < n) {
        const unsigned c = p[i];
        if (c < 0x80) {
            if (c == 0 && !nul_allowed) return Utf8::Nul;
            ++i;
            while (i + 8 <= n && plain_word(p + i, nul_allowed)) i += 8;
            continue;
        }
        // The lead byte gives the sequence length and the smallest code point
        // that length may encode (anything below is an overlong form).
        size_t len;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return Utf8::BadLead;
        }
        if (n - i < len) return Utf8::Truncated;
        for (size_t k = 1; k < len; ++k) {
            const unsigned cc = p[i + k];
            if ((cc & 0xC0) != 0x80) return Utf8::BadContinuation;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if (cp < min) return Utf8::Overlong;
        if (cp > 0x10FFFF) return Utf8::BeyondMax;
        if (cp >= 0xD800 && cp <= 0xDFFF) return Utf8::Surrogate;
        i += len;
    }
    return Utf8::Valid;
}

bool Utf8Stream::feed(std::string_view piece) {
    if (!ok_) return false;
    const auto* p = reinterpret_cast<const unsigned char*>(piece.data());
    const auto* end = p + piece.size();
    uint32_t cp = cp_, need = need_, len = len_;
    while (p < end) {
        unsigned c = *p++;
        if (need == 0) {
            if (c < 0x80) continue;  // ASCII: the common case
            if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F;
            else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F;
            else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07;
            else return ok_ = 0, false;
            need = len - 1;
            continue;
        }
        if ((c & 0xC0) != 0x80) return ok_ = 0, false;
        cp = (cp << 6) | (c & 0x3F);
        // Overlong forms, surrogates and values beyond U+10FFFF: checked
        // when the sequence is complete.
        if (--need == 0) {
            uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
            if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return ok_ = 0, false;
        }
    }
    cp_ = cp & 0x1FFFFF;
    need_ = need;
    len_ = len;
    return true;
}

std::string make_valid_utf8(std::string_view text) {
    if (valid_utf8(text)) return std::string(text);
    std::string out;
    out.reserve(text.size() + 16);
    size_t i = 0;
    while (i < text.size()) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        size_t len = c < 0x80             ? 1
                     : (c & 0xE0) == 0xC0 ? 2
                     : (c & 0xF0) == 0xE0 ? 3
                     : (c & 0xF8) == 0xF0 ? 4
                                          : 0;
        if (len && i + len <= text.size() && valid_utf8(text.substr(i, len))) {
            out.append(text.substr(i, len));
            i += len;
        } else {
            out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
            ++i;
        }
    }
    return out;
}

const char* utf8_problem_text(Utf8 problem) {
    switch (problem) {
        case Utf8::Valid:
            return "valid";
        case Utf8::Nul:
            return "contains U+0000";
        case Utf8::BadLead:
            return "bad lead byte";
        case Utf8::Truncated:
            return "truncated sequence";
        case Utf8::BadContinuation:
            return "bad continuation byte";
        case Utf8::Overlong:
            return "overlong encoding";
        case Utf8::BeyondMax:
            return "beyond U+10FFFF";
        case Utf8::Surrogate:
            return "UTF-16 surrogate U+D800..U+DFFF";
    }
    return "invalid";
}

}  // namespace duplex
