// The one UTF-8 validator (RFC 3629): well-formed sequences only, no overlong
// forms, no UTF-16 surrogates, nothing beyond U+10FFFF. Used for MQTT strings
// (which also forbid U+0000 [MQTT-1.5.4-2]), STOMP frames and WebSocket text.
// Pure and allocation-free.
#pragma once

#include <cstdint>
#include <string>
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

// The same rules for text that arrives in pieces (a WebSocket text message
// split over frames and reads, a code point split between two of them).
// Four bytes of state.
class Utf8Stream {
  public:
    // False at the first byte that cannot be part of valid UTF-8 (U+0000 is
    // valid); stays false until reset().
    bool feed(std::string_view piece);
    // Not inside a sequence: the text so far ends on a whole code point.
    bool complete() const { return need_ == 0 && ok_; }
    void reset() { *this = Utf8Stream(); }

  private:
    uint32_t cp_ : 21 = 0;
    uint32_t need_ : 3 = 0;  // continuation bytes still expected
    uint32_t len_ : 3 = 0;   // length of the sequence being read
    uint32_t ok_ : 1 = 1;
};

// `text` with every byte that is not part of valid UTF-8 replaced by U+FFFD:
// for text we must send as a WebSocket text frame whatever it holds.
std::string make_valid_utf8(std::string_view text);

}  // namespace duplex
