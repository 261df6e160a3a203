// The one UTF-8 validator (RFC 3629): well-formed sequences only, no overlong
// forms, no UTF-16 surrogates, nothing beyond U+10FFFF. Used for MQTT strings
// (which also forbid U+0000 [MQTT-1.5.4-2]), STOMP frames and WebSocket text.
// Pure and allocation-free.
#pragma once

#include <cstdint>
#include <string_view>

namespace duplex {

enum class Utf8 : uint8_t {
    Valid,
    Nul,              // U+0000 where the caller forbids it
    BadLead,          // a byte that cannot start a sequence
    Truncated,        // the text ends inside a sequence
    BadContinuation,  // a sequence byte that is not 10xxxxxx
    Overlong,         // a code point encoded in more bytes than it needs
    BeyondMax,        // above U+10FFFF
    Surrogate,        // U+D800..U+DFFF
};

// The first problem of `s`, or Utf8::Valid. U+0000 is a problem only when
// `nul_allowed` is false.
Utf8 check_utf8(std::string_view s, bool nul_allowed = true);

inline bool valid_utf8(std::string_view s, bool nul_allowed = true) {
    return check_utf8(s, nul_allowed) == Utf8::Valid;
}

// "bad lead byte", "truncated sequence", ... for error texts.
const char* utf8_problem_text(Utf8 problem);

}  // namespace duplex
