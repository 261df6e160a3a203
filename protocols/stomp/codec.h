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

struct Header {
    std::string name;
    std::string value;
};

struct Frame {
    std::string command;           // e.g. "SEND", "CONNECT"
    std::vector<Header> headers;   // in wire order; repeats kept
    std::string_view body;

    // First occurrence wins (STOMP 1.2 "Repeated Header Entries").
    const std::string* header(std::string_view name) const;
};

struct Limits {
    size_t max_headers = 64;          // header lines per frame
    size_t max_header_line = 8192;    // bytes of one header line (name:value)
    size_t max_body = 1 << 20;        // bytes of body
    size_t max_command = 32;          // bytes of the command line
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
    const char* error = nullptr;   // static text, e.g. "undefined escape sequence in header"
};

// Version-dependent rules: 1.0 has no header escaping; 1.1 decodes \n \c \\;
// 1.2 also \r; any other backslash sequence is an error in 1.1/1.2. CONNECT
// and STOMP frames are never unescaped (1.2 spec). With a `content-length`
// header the body is exactly that many bytes (may contain NULs) followed by
// NUL; without it the body ends at the first NUL. Lines end in LF or CRLF
// (CR only accepted in 1.2 style CRLF).
ParseResult parse(std::span<const uint8_t> bytes, Version version, const Limits& limits,
                  Frame& out);

// Appends an encoded frame to `out`: command, headers (escaped per version,
// except for CONNECT/CONNECTED), blank line, body, NUL. Does not add
// content-length: callers put it in `headers` when wanted.
void serialize(std::string_view command, std::span<const Header> headers, std::string_view body,
               Version version, std::string& out);

// Header escaping for one name or value, appended to out.
void escape(std::string_view in, Version version, std::string& out);

}  // namespace duplex::stomp
