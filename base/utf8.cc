#include "base/utf8.h"

#include <cstddef>

namespace duplex {

Utf8 check_utf8(std::string_view s, bool nul_allowed) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        const unsigned c = p[i];
        if (c < 0x80) {
            if (c == 0 && !nul_allowed) return Utf8::Nul;
            ++i;
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
