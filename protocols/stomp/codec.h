// STOMP 1.0 / 1.1 / 1.2 frame codec: a pure function over bytes, no I/O.
//
// parse() reads one frame (or one heart-beat EOL) from the start of a buffer.
// Header names and values are decoded (unescaped per version) into owned
// strings; the body is a view into the input buffer, valid while that buffer
// is alive and unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace duplex::stomp {

enum class Version : uint8_t { v10, v11, v12 };
inline const char* version_name(Version v) {
    return v == Version::v10 ? "1.0" : v == Version::v11 ? "1.1" : "1.2";
}

struct Header {
    std::string name;
    std::string value;
};

struct Frame {
    std::string command;          // e.g. "SEND", "CONNECT"
    std::vector<Header> headers;  // in wire order; repeats kept
    std::string_view body;

    // First occurrence wins (STOMP 1.2 "Repeated Header Entries").
    const std::string* header(std::string_view name) const;
};

struct Limits {
    size_t max_headers = 64;        // header lines per frame
    size_t max_header_line = 8192;  // bytes of one header line (name:value)
    size_t max_body = 1 << 20;      // bytes of body
    size_t max_command = 32;        // bytes of the command line
};

enum class ParseStatus : uint8_t {
    Ok,         // a frame was parsed; `consumed` bytes belong to it
    Heartbeat,  // one EOL (LF or CRLF) between frames was consumed
    NeedMore,   // the buffer holds only part of a frame
    Error,      // malformed or over a limit; `error` says what; close after ERROR
};

struct ParseResult {
    ParseStatus status = ParseStatus::NeedMore;
    size_t consumed = 0;
    // What was wrong, e.g. "undefined escape sequence in header". Static text,
    // except limit errors ("too many headers (limit 64)"), which carry the
    // limit's value and live in a thread-local buffer: use or copy the text
    // before the next parse() call on the same thread.
    const char* error = nullptr;
};

// Version-dependent rules: 1.0 has no header escaping; 1.1 decodes \n \c \\;
// 1.2 also \r; any other backslash sequence is an error in 1.1/1.2. CONNECT
// and CONNECTED frames are never unescaped, in any version (1.2 spec "Value
// Encoding"). With a `content-length` header the body is exactly that many
// bytes (may contain NULs) followed by NUL; without it the body ends at the
// first NUL. Lines end in LF or CRLF, in every version; any other CR in a
// command or header line is an error. The command must be ASCII letters; it
// is not checked against the list of STOMP commands (the session does that).
// Limits are enforced on incomplete input too, so an endless line or body
// gets Error rather than NeedMore forever.
//
// parse() keeps no state between calls: after NeedMore call it again with
// the same bytes plus more. It writes `out` only when it returns Ok, and
// reuses the strings already in `out`, so a Frame kept across calls saves
// allocations.
ParseResult parse(std::span<const uint8_t> bytes, Version version, const Limits& limits, Frame& out);

// Appends an encoded frame to `out`: command, headers (escaped per version,
// except for CONNECT/CONNECTED), blank line, body, NUL. Does not add
// content-length: callers put it in `headers` when wanted.
void serialize(std::string_view command, std::span<const Header> headers, std::string_view body,
               Version version, std::string& out);

// Header escaping for one name or value, appended to out: 1.1 escapes \ LF
// and ':'; 1.2 also CR; 1.0 nothing.
void escape(std::string_view in, Version version, std::string& out);

// Whether a header name (is_name) or value survives serialize() + parse()
// unchanged in a `command` frame of `version`. Not so: LF or CR where nothing
// is escaped (1.0, CONNECT, CONNECTED), CR in 1.1, ':' in an unescaped name,
// an empty name. serialize() writes such text as is, which would let one
// client inject header lines or frames into another's stream: check before
// forwarding client-supplied headers to a peer of another version.
bool representable(std::string_view text, std::string_view command, Version version, bool is_name);

}  // namespace duplex::stomp
