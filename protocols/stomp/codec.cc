// STOMP 1.0 / 1.1 / 1.2 frame codec. "Spec" below means the STOMP 1.2
// specification (https://stomp.github.io/stomp-specification-1.2.html) unless
// a version is named.
//
// parse() works in two passes over the input:
//  1. scan(): find where the frame ends and check everything that can fail
//     (line endings, limits, escapes, content-length), without allocating.
//     Incomplete input usually stops here with NeedMore, and since the
//     caller re-parses the whole frame each time more bytes arrive, this pass
//     has to be cheap: it only uses memchr-style scans.
//  2. decode(): only for a complete, valid frame, copy the command and the
//     unescaped headers into the Frame, reusing its strings.
#include "protocols/stomp/codec.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <optional>

namespace duplex::stomp {

const std::string* Frame::header(std::string_view name) const {
    // Spec "Repeated Header Entries": only the first occurrence is used.
    for (const Header& h : headers)
        if (h.name == name) return &h.value;
    return nullptr;
}

namespace {

using Bytes = std::span<const uint8_t>;

constexpr const char* kBadCr = "CR not followed by LF";
constexpr const char* kBadCommand = "invalid character in command";
constexpr const char* kNoColon = "header line without ':'";
constexpr const char* kEmptyName = "empty header name";
constexpr const char* kBadEscape = "undefined escape sequence in header";
constexpr const char* kBadContentLength = "invalid content-length";
constexpr const char* kNoNulAfterBody = "missing NUL after content-length body";

// Limit errors name the value so a client can see what it ran into. The text
// outlives the call but not the next limit error on this thread (see codec.h).
const char* limit_error(const char* what, size_t limit) {
    thread_local char text[96];
    std::snprintf(text, sizeof text, "%s (limit %zu)", what, limit);
    return text;
}

ParseResult need_more() { return {}; }
ParseResult error(const char* what) { return {ParseStatus::Error, 0, what}; }

std::string_view as_text(Bytes in, size_t pos, size_t len) {
    return {reinterpret_cast<const char*>(in.data()) + pos, len};
}

// Spec "Value Encoding": CONNECT and CONNECTED frames do not escape, so that
// 1.0 peers can read them before the version is negotiated; 1.0 has no
// escaping at all.
bool escaping(Version v, std::string_view command) {
    return v != Version::v10 && command != "CONNECT" && command != "CONNECTED";
}

// ---------------------------------------------------------------------------
// Lines

enum class LineStatus : uint8_t { Ok, NeedMore, TooLong, BadCr };

struct Line {
    LineStatus status;
    std::string_view text;  // without the EOL; the part seen so far if NeedMore
    size_t next = 0;        // where the following line starts (Ok only)
};

// Reads the line starting at `pos`. Spec "Augmented BNF": EOL = [CR] LF, so a
// CR anywhere but right before the LF is an error. Looks at no more than
// max_len + 2 bytes (text, CR, LF): a line longer than max_len is TooLong as
// soon as that many bytes are in, instead of NeedMore until memory runs out.
Line read_line(Bytes in, size_t pos, size_t max_len) {
    const size_t avail = in.size() - pos;
    const size_t window = max_len >= avail ? avail : std::min(avail, max_len + 2);
    const auto* start = in.data() + pos;
    const auto* lf = static_cast<const uint8_t*>(std::memchr(start, '\n', window));
    const size_t len = lf ? static_cast<size_t>(lf - start) : window;
    // A final CR is the first half of the EOL, or may still become it when
    // the LF has not arrived yet.
    const size_t text_len = (len > 0 && start[len - 1] == '\r') ? len - 1 : len;
    Line line{LineStatus::Ok, as_text(in, pos, text_len)};
    if (std::memchr(start, '\r', text_len)) {
        line.status = LineStatus::BadCr;
    } else if (text_len > max_len) {
        line.status = LineStatus::TooLong;
    } else if (!lf) {
        line.status = LineStatus::NeedMore;  // the whole rest of the input is the partial line
    } else {
        line.next = pos + len + 1;
    }
    return line;
}

// An empty line: a heart-beat before a frame, the end of the headers inside
// one. Returns the EOL's length (1 or 2), 0 if the line is not empty, or
// sets `result` to NeedMore / Error.
size_t empty_line(Bytes in, size_t pos, std::optional<ParseResult>& result) {
    if (pos == in.size()) {
        result = need_more();
        return 0;
    }
    if (in[pos] == '\n') return 1;
    if (in[pos] != '\r') return 0;
    if (pos + 1 == in.size()) {
        result = need_more();
        return 0;
    }
    if (in[pos + 1] == '\n') return 2;
    result = error(kBadCr);
    return 0;
}

// ---------------------------------------------------------------------------
// Headers

struct HeaderText {
    std::string_view name, value;
};

// Spec "Headers": name ':' value. The value is everything after the first
// colon, untrimmed (1.0 implementations trimmed, but 1.1 and 1.2 forbid it and
// 1.0 does not require it); a later raw ':' stays in the value, which keeps
// tolerant of clients that do not escape colons.
const char* split_header(std::string_view line, HeaderText& out) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return kNoColon;
    if (colon == 0) return kEmptyName;
    out.name = line.substr(0, colon);
    out.value = line.substr(colon + 1);
    return nullptr;
}

// Spec "Value Encoding": \r (1.2 only), \n, \c and \\ are the only escapes;
// "Undefined escape sequences such as \t MUST be treated as a fatal protocol
// error". A backslash at the end of the text has nothing to escape.
bool defined_escape(char c, Version v) {
    return c == 'n' || c == 'c' || c == '\\' || (c == 'r' && v == Version::v12);
}

const char* check_escapes(std::string_view text, Version v) {
    for (size_t i = text.find('\\'); i != std::string_view::npos; i = text.find('\\', i + 2))
        if (i + 1 == text.size() || !defined_escape(text[i + 1], v)) return kBadEscape;
    return nullptr;
}

char unescaped(char c) {
    switch (c) {
        case 'n':
            return '\n';
        case 'r':
            return '\r';
        case 'c':
            return ':';
        default:
            return c;  // '\\'
    }
}

// Decodes text already accepted by check_escapes(). Copies the runs between
// backslashes in bulk; most headers have none and become one assign().
void unescape(std::string_view text, std::string& out) {
    out.clear();
    size_t from = 0;
    for (size_t i = text.find('\\'); i != std::string_view::npos; i = text.find('\\', from)) {
        out.append(text, from, i - from);
        out.push_back(unescaped(text[i + 1]));
        from = i + 2;
    }
    out.append(text, from);
}

void decode_text(std::string_view text, bool escaped, std::string& out) {
    if (escaped) unescape(text, out);
    else out.assign(text);
}

// Spec "Header content-length": an octet count, so only plain decimal digits;
// no sign, no spaces. Checked against max_body as soon as the header line is
// complete, before any of the body arrives.
const char* parse_content_length(std::string_view text, size_t max_body, size_t& length) {
    if (text.empty()) return kBadContentLength;
    bool too_large = false;
    size_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return kBadContentLength;
        const size_t digit = static_cast<size_t>(c - '0');
        // Stop accumulating past the limit: no overflow, however many digits.
        if (too_large || digit > max_body || value > (max_body - digit) / 10) {
            too_large = true;
        } else {
            value = value * 10 + digit;
        }
    }
    if (too_large) return limit_error("content-length too large", max_body);
    length = value;
    return nullptr;
}

// ---------------------------------------------------------------------------
// Pass 1: where is everything, and is it valid?

struct Layout {
    std::string_view command;
    size_t headers_begin = 0;  // first header line
    size_t headers_end = 0;    // the blank line ending the headers
    size_t header_count = 0;
    size_t body_begin = 0;
    size_t body_length = 0;
    size_t end = 0;  // one past the frame's NUL
};

const char* check_command(std::string_view text) {
    // Spec "Augmented BNF" lists uppercase commands only; any letters are
    // accepted so an unknown command gets the session's "unknown command"
    // ERROR rather than a framing error. Checked on partial lines too, so
    // that garbage (binary, an HTTP request) fails at once.
    for (char c : text)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return kBadCommand;
    return nullptr;
}

std::optional<ParseResult> scan_command(Bytes in, const Limits& limits, Layout& layout) {
    const Line line = read_line(in, 0, limits.max_command);
    if (line.status == LineStatus::BadCr) return error(kBadCr);
    if (const char* e = check_command(line.text)) return error(e);
    if (line.status == LineStatus::TooLong) return error(limit_error("command too long", limits.max_command));
    if (line.status == LineStatus::NeedMore) return need_more();
    layout.command = line.text;
    layout.headers_begin = line.next;
    return std::nullopt;
}

// Checks one complete header line; notes the first content-length.
const char* check_header(std::string_view line, bool escaped, Version v, const Limits& limits,
                         std::optional<size_t>& content_length) {
    HeaderText h;
    if (const char* e = split_header(line, h)) return e;
    if (escaped) {
        if (const char* e = check_escapes(h.name, v)) return e;
        if (const char* e = check_escapes(h.value, v)) return e;
    }
    // An escaped name never decodes to "content-length" (escapes produce
    // only LF CR ':' '\'), so comparing the raw name is exact. Later
    // content-length headers are ignored like any repeated header.
    if (!content_length && h.name == "content-length") {
        size_t length = 0;
        if (const char* e = parse_content_length(h.value, limits.max_body, length)) return e;
        content_length = length;
    }
    return nullptr;
}

std::optional<ParseResult> scan_headers(Bytes in, Version v, const Limits& limits, Layout& layout,
                                        std::optional<size_t>& content_length) {
    const bool escaped = escaping(v, layout.command);
    size_t pos = layout.headers_begin;
    for (;;) {
        std::optional<ParseResult> result;
        if (const size_t eol = empty_line(in, pos, result)) {
            layout.headers_end = pos;
            layout.body_begin = pos + eol;
            return std::nullopt;
        }
        if (result) return result;
        // Counted when the line starts, so a flood of header lines fails
        // without waiting for the blank line.
        if (layout.header_count == limits.max_headers)
            return error(limit_error("too many headers", limits.max_headers));
        const Line line = read_line(in, pos, limits.max_header_line);
        switch (line.status) {
            case LineStatus::BadCr:
                return error(kBadCr);
            case LineStatus::TooLong:
                return error(limit_error("header line too long", limits.max_header_line));
            case LineStatus::NeedMore:
                return need_more();
            case LineStatus::Ok:
                break;
        }
        if (const char* e = check_header(line.text, escaped, v, limits, content_length)) return error(e);
        ++layout.header_count;
        pos = line.next;
    }
}

std::optional<ParseResult> scan_body(Bytes in, const Limits& limits, std::optional<size_t> content_length,
                                     Layout& layout) {
    const size_t pos = layout.body_begin;
    const size_t avail = in.size() - pos;
    if (content_length) {
        // Spec "Header content-length": exactly that many octets, which may
        // include NULs, then the frame's NUL.
        const size_t length = *content_length;
        if (avail <= length) return need_more();
        if (in[pos + length] != 0) return error(kNoNulAfterBody);
        layout.body_length = length;
    } else {
        // Spec "Body": without content-length the body ends at the first NUL.
        // Search at most max_body + 1 bytes: no NUL in them means too large.
        const size_t window = limits.max_body >= avail ? avail : limits.max_body + 1;
        const auto* start = in.data() + pos;
        const auto* nul = static_cast<const uint8_t*>(std::memchr(start, 0, window));
        if (!nul) {
            if (avail > limits.max_body) return error(limit_error("body too large", limits.max_body));
            return need_more();
        }
        layout.body_length = static_cast<size_t>(nul - start);
    }
    layout.end = pos + layout.body_length + 1;
    return std::nullopt;
}

// ---------------------------------------------------------------------------
// Pass 2: copy out a frame that scan() accepted.

void decode(Bytes in, Version v, const Layout& layout, Frame& out) {
    const bool escaped = escaping(v, layout.command);
    out.command.assign(layout.command);
    // Reuse the Header strings a recycled Frame already holds.
    out.headers.reserve(layout.header_count);
    size_t n = 0;
    size_t pos = layout.headers_begin;
    while (pos < layout.headers_end) {
        const Line line = read_line(in, pos, layout.headers_end - pos);
        HeaderText h;
        split_header(line.text, h);  // cannot fail: scan() checked it
        if (n == out.headers.size()) out.headers.emplace_back();
        Header& header = out.headers[n++];
        decode_text(h.name, escaped, header.name);
        decode_text(h.value, escaped, header.value);
        pos = line.next;
    }
    out.headers.resize(n);
    out.body = as_text(in, layout.body_begin, layout.body_length);
}

}  // namespace

ParseResult parse(Bytes bytes, Version version, const Limits& limits, Frame& out) {
    // Spec "Heart-beating": EOLs between frames are heart-beats; one per call
    // so the session can note each.
    std::optional<ParseResult> result;
    if (const size_t eol = empty_line(bytes, 0, result)) return {ParseStatus::Heartbeat, eol};
    if (result) return *result;

    Layout layout;
    std::optional<size_t> content_length;
    if ((result = scan_command(bytes, limits, layout))) return *result;
    if ((result = scan_headers(bytes, version, limits, layout, content_length))) return *result;
    if ((result = scan_body(bytes, limits, content_length, layout))) return *result;
    decode(bytes, version, layout, out);
    return {ParseStatus::Ok, layout.end};
}

void escape(std::string_view in, Version version, std::string& out) {
    if (version == Version::v10) {
        out.append(in);
        return;
    }
    // Spec "Value Encoding": 1.1 escapes LF, ':' and '\'; 1.2 adds CR.
    // One pass over the bytes: find_first_of with a set calls memchr per
    // byte, once 18% of a relayed STOMP message's instructions.
    const bool cr = version == Version::v12;
    size_t from = 0;
    for (size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        if (c != '\\' && c != '\n' && c != ':' && !(cr && c == '\r')) continue;
        out.append(in, from, i - from);
        out.push_back('\\');
        switch (in[i]) {
            case '\n':
                out.push_back('n');
                break;
            case '\r':
                out.push_back('r');
                break;
            case ':':
                out.push_back('c');
                break;
            default:
                out.push_back('\\');
                break;
        }
        from = i + 1;
    }
    out.append(in, from);
}

void serialize(std::string_view command, std::span<const Header> headers, std::string_view body,
               Version version, std::string& out) {
    // Room for the unescaped frame; escapes are rare. Grow geometrically:
    // callers append many frames to one output buffer.
    size_t size = command.size() + 1 + 1 + body.size() + 1;
    for (const Header& h : headers) size += h.name.size() + 1 + h.value.size() + 1;
    if (out.capacity() - out.size() < size) out.reserve(std::max(out.size() + size, 2 * out.capacity()));

    const bool escaped = escaping(version, command);
    out.append(command);
    out.push_back('\n');
    for (const Header& h : headers) {
        if (escaped) {
            escape(h.name, version, out);
            out.push_back(':');
            escape(h.value, version, out);
        } else {
            out.append(h.name);
            out.push_back(':');
            out.append(h.value);
        }
        out.push_back('\n');
    }
    out.push_back('\n');
    out.append(body);
    out.push_back('\0');
}

bool representable(std::string_view text, std::string_view command, Version version, bool is_name) {
    if (is_name && text.empty()) return false;
    const bool escaped = escaping(version, command);
    if (!escaped) {
        // Nothing is escaped: an EOL would end the line, and the first ':'
        // ends the name.
        if (text.find_first_of("\r\n") != std::string_view::npos) return false;
        return !(is_name && text.find(':') != std::string_view::npos);
    }
    // 1.1 has no escape for CR, and a raw CR is not a valid line byte.
    return version == Version::v12 || text.find('\r') == std::string_view::npos;
}

}  // namespace duplex::stomp
