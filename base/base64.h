// Base64 (RFC 4648): the standard alphabet with '=' padding (mosquitto's
// password files, the WebSocket handshake) and the URL-safe alphabet without
// padding (JSON Web Tokens, RFC 7515 §2). Pure functions over bytes.
#pragma once

#include <string>
#include <string_view>

namespace duplex {

enum class Base64 {
    Standard,  // A-Z a-z 0-9 + /, padded with '=' to a multiple of 4
    Url,       // A-Z a-z 0-9 - _, no padding
};

std::string base64_encode(std::string_view bytes, Base64 alphabet = Base64::Standard);

// Strict decoding into `out`: characters of the alphabet only (no spaces, no
// line breaks), no impossible length (4n+1), and the unused low bits of the
// last character zero, so each byte string has exactly one accepted text (a
// token cannot be altered without changing its bytes). Standard: the '='
// padding may be present (then exactly right) or left off; Url: no '='.
// Returns false, leaving `out` unspecified, on any error.
bool base64_decode(std::string_view text, Base64 alphabet, std::string& out);

}  // namespace duplex
