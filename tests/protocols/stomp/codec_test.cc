// Unit tests of the STOMP frame codec (protocols/stomp/codec.h).
#include "protocols/stomp/codec.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

using namespace duplex::stomp;
using namespace std::string_literals;
using namespace std::string_view_literals;

namespace {

constexpr Version kVersions[] = {Version::v10, Version::v11, Version::v12};

std::span<const uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

ParseResult parse_text(std::string_view s, Version v, Frame& f, const Limits& limits = {}) {
    return parse(bytes_of(s), v, limits, f);
}

const char* name_of(Version v) {
    return v == Version::v10 ? "1.0" : v == Version::v11 ? "1.1" : "1.2";
}

// Parses `wire`, which must be exactly one frame, and checks every field.
void check_frame(std::string_view wire, Version v, std::string_view command,
                 const std::vector<Header>& headers, std::string_view body) {
    CAPTURE(wire);
    Frame f;
    ParseResult r = parse_text(wire, v, f);
    REQUIRE(r.status == ParseStatus::Ok);
    CHECK(r.error == nullptr);
    CHECK(r.consumed == wire.size());
    CHECK(f.command == command);
    REQUIRE(f.headers.size() == headers.size());
    for (size_t i = 0; i < headers.size(); ++i) {
        CHECK(f.headers[i].name == headers[i].name);
        CHECK(f.headers[i].value == headers[i].value);
    }
    CHECK(f.body == body);
    // The body is a view into the input, not a copy.
    if (!body.empty()) CHECK(f.body.data() >= wire.data());
}

void check_error(std::string_view wire, Version v, std::string_view message,
                 const Limits& limits = {}) {
    CAPTURE(wire);
    Frame f;
    ParseResult r = parse_text(wire, v, f, limits);
    REQUIRE(r.status == ParseStatus::Error);
    REQUIRE(r.error != nullptr);
    CHECK(std::string_view(r.error) == message);
    CHECK(r.consumed == 0);
}

void check_need_more(std::string_view wire, Version v, const Limits& limits = {}) {
    CAPTURE(wire);
    Frame f;
    ParseResult r = parse_text(wire, v, f, limits);
    CHECK(r.status == ParseStatus::NeedMore);
    CHECK(r.consumed == 0);
    CHECK(r.error == nullptr);
}

struct CommandCase {
    std::string_view command;
    std::vector<Header> headers;
    std::string_view body;
};

// One realistic frame of each command of the 1.2 spec (NACK and STOMP are
// 1.1+, but the codec does not know commands; the session checks them).
std::vector<CommandCase> command_cases() {
    return {
        {"CONNECT", {{"accept-version", "1.0,1.1,1.2"}, {"host", "broker"}, {"login", "u"},
                     {"passcode", "p"}, {"heart-beat", "0,10000"}}, ""},
        {"STOMP", {{"accept-version", "1.2"}, {"host", "broker"}}, ""},
        {"CONNECTED", {{"version", "1.2"}, {"session", "s-1"}, {"server", "duplex/0.1.0"},
                       {"heart-beat", "10000,0"}}, ""},
        {"SEND", {{"destination", "/queue/a"}, {"content-type", "text/plain"}}, "hello"},
        {"SUBSCRIBE", {{"id", "0"}, {"destination", "/topic/x"}, {"ack", "client"}}, ""},
        {"UNSUBSCRIBE", {{"id", "0"}}, ""},
        {"ACK", {{"id", "m-12"}, {"transaction", "tx1"}}, ""},
        {"NACK", {{"id", "m-12"}}, ""},
        {"BEGIN", {{"transaction", "tx1"}}, ""},
        {"COMMIT", {{"transaction", "tx1"}}, ""},
        {"ABORT", {{"transaction", "tx1"}}, ""},
        {"DISCONNECT", {{"receipt", "77"}}, ""},
        {"MESSAGE", {{"subscription", "0"}, {"message-id", "m-12"}, {"destination", "/topic/x"},
                     {"ack", "m-12"}}, "payload bytes"},
        {"RECEIPT", {{"receipt-id", "77"}}, ""},
        {"ERROR", {{"message", "malformed frame received"}, {"content-type", "text/plain"}},
         "details\nmore details"},
    };
}

std::string wire_of(const CommandCase& c) {
    std::string s(c.command);
    s += '\n';
    for (const Header& h : c.headers) s += h.name + ":" + h.value + "\n";
    s += '\n';
    s += c.body;
    s += '\0';
    return s;
}

}  // namespace

TEST_CASE("every STOMP command parses in every version") {
    for (Version v : kVersions) {
        CAPTURE(name_of(v));
        for (const CommandCase& c : command_cases()) check_frame(wire_of(c), v, c.command, c.headers, c.body);
    }
}

TEST_CASE("minimal frame without headers or body") {
    for (Version v : kVersions) check_frame("DISCONNECT\n\n\0"sv, v, "DISCONNECT", {}, "");
}

TEST_CASE("command: letters only, not checked against the command list") {
    for (Version v : kVersions) {
        check_frame("FOO\n\n\0"sv, v, "FOO", {}, "");
        check_frame("send\n\n\0"sv, v, "send", {}, "");
        check_error("SEND1\n\n\0"sv, v, "invalid character in command");
        check_error("SE ND\n\n\0"sv, v, "invalid character in command");
        check_error("\0"sv, v, "invalid character in command");
        // Garbage fails before its line is complete.
        check_error("GET /"sv, v, "invalid character in command");
        check_error("\x16\x03\x01"sv, v, "invalid character in command");
    }
}

TEST_CASE("header values: untrimmed, first ':' splits, empty allowed") {
    for (Version v : kVersions) {
        check_frame("SEND\na: b \nc:\nurl:http://x:80/\n\n\0"sv, v, "SEND",
                    {{"a", " b "}, {"c", ""}, {"url", "http://x:80/"}}, "");
        check_error("SEND\nnocolon\n\n\0"sv, v, "header line without ':'");
        check_error("SEND\n:value\n\n\0"sv, v, "empty header name");
    }
}

TEST_CASE("escapes: decoded in 1.1 and 1.2, raw in 1.0") {
    // \\c in the name, \\n and \\\\ in the value.
    const auto wire = "SEND\nk\\cy:a\\nb\\\\c\n\n\0"sv;
    check_frame(wire, Version::v10, "SEND", {{"k\\cy", "a\\nb\\\\c"}}, "");
    check_frame(wire, Version::v11, "SEND", {{"k:y", "a\nb\\c"}}, "");
    check_frame(wire, Version::v12, "SEND", {{"k:y", "a\nb\\c"}}, "");

    // \\r exists only in 1.2.
    const auto cr = "SEND\nk:a\\rb\n\n\0"sv;
    check_frame(cr, Version::v10, "SEND", {{"k", "a\\rb"}}, "");
    check_error(cr, Version::v11, "undefined escape sequence in header");
    check_frame(cr, Version::v12, "SEND", {{"k", "a\rb"}}, "");

    // Escapes next to each other and at both ends.
    check_frame("SEND\n\\\\:\\c\\c\\n\n\n\0"sv, Version::v12, "SEND", {{"\\", "::\n"}}, "");
}

TEST_CASE("undefined escapes are errors in 1.1 and 1.2 only") {
    const std::string_view bad[] = {
        "SEND\nk:a\\tb\n\n\0"sv,    // \t
        "SEND\nk:ab\\\n\n\0"sv,     // trailing backslash in the value
        "SEND\nk\\:v\n\n\0"sv,      // trailing backslash in the name
        "SEND\nk\\x:v\n\n\0"sv,     // in the name
        "SEND\nk:\\C\n\n\0"sv,      // escapes are case sensitive
        "SEND\nk:\\\\\\\n\n\0"sv,   // \\\\ then a lone backslash
    };
    for (std::string_view w : bad) {
        check_error(w, Version::v11, "undefined escape sequence in header");
        check_error(w, Version::v12, "undefined escape sequence in header");
        Frame f;
        CHECK(parse_text(w, Version::v10, f).status == ParseStatus::Ok);
    }
}

TEST_CASE("CONNECT and CONNECTED are never unescaped") {
    for (Version v : kVersions) {
        check_frame("CONNECT\nlogin:a\\tb\\c\npasscode:x\\\n\n\0"sv, v, "CONNECT",
                    {{"login", "a\\tb\\c"}, {"passcode", "x\\"}}, "");
        check_frame("CONNECTED\nserver:s\\n\n\n\0"sv, v, "CONNECTED", {{"server", "s\\n"}}, "");
    }
    // STOMP (the 1.2 alias of CONNECT) is escaped like other frames.
    check_frame("STOMP\nlogin:a\\cb\n\n\0"sv, Version::v12, "STOMP", {{"login", "a:b"}}, "");
    check_error("STOMP\nlogin:a\\tb\n\n\0"sv, Version::v12, "undefined escape sequence in header");
}

TEST_CASE("content-length body may contain NULs") {
    for (Version v : kVersions) {
        check_frame("SEND\ncontent-length:5\n\na\0b\0c\0"sv, v, "SEND", {{"content-length", "5"}},
                    "a\0b\0c"sv);
        check_frame("SEND\ncontent-length:0\n\n\0"sv, v, "SEND", {{"content-length", "0"}}, "");
        check_frame("SEND\ncontent-length:007\n\n\0\0\0\0\0\0\0\0"sv, v, "SEND",
                    {{"content-length", "007"}}, "\0\0\0\0\0\0\0"sv);
        // Two frames: the length, not the first NUL, decides where the body ends.
        Frame f;
        const auto two = "SEND\ncontent-length:1\n\n\0\0SEND\n\nx\0"sv;
        ParseResult r = parse_text(two, v, f);
        REQUIRE(r.status == ParseStatus::Ok);
        CHECK(r.consumed == 25);
        CHECK(f.body == "\0"sv);
    }
}

TEST_CASE("content-length: missing NUL, bad values, first occurrence wins") {
    for (Version v : kVersions) {
        check_error("SEND\ncontent-length:2\n\nabc\0"sv, v, "missing NUL after content-length body");
        check_error("SEND\ncontent-length:0\n\nx\0"sv, v, "missing NUL after content-length body");
        for (std::string_view value : {"-1"sv, "+1"sv, "1a"sv, ""sv, " 1"sv, "1 "sv, "0x10"sv, "1.0"sv}) {
            std::string wire = "SEND\ncontent-length:"s + std::string(value) + "\n\nx\0"s;
            check_error(wire, v, "invalid content-length");
        }
        // Only the first content-length counts; later ones are not even read.
        check_frame("SEND\ncontent-length:3\ncontent-length:junk\n\na\0b\0"sv, v, "SEND",
                    {{"content-length", "3"}, {"content-length", "junk"}}, "a\0b"sv);
        // The name is case sensitive: this is an ordinary header.
        check_frame("SEND\nContent-Length:1\n\nabc\0"sv, v, "SEND", {{"Content-Length", "1"}}, "abc");
    }
}

TEST_CASE("CRLF line endings and lone CR") {
    for (Version v : kVersions) {
        check_frame("SEND\r\ndestination:/q\r\nx:y\n\r\nhi\r\n\0"sv, v, "SEND",
                    {{"destination", "/q"}, {"x", "y"}}, "hi\r\n");
        check_error("SE\rND\n\n\0"sv, v, "CR not followed by LF");
        check_error("SEND\r\r\n\n\0"sv, v, "CR not followed by LF");
        check_error("SEND\nk:v\rx\n\n\0"sv, v, "CR not followed by LF");
        check_error("SEND\nk:v\r\r\n\n\0"sv, v, "CR not followed by LF");
        check_error("SEND\n\rx\n\0"sv, v, "CR not followed by LF");   // blank line
        check_error("\rSEND\n\n\0"sv, v, "CR not followed by LF");    // heart-beat
        // A CR at the very end may still become CRLF.
        check_need_more("SEND\r"sv, v);
        check_need_more("SEND\nk:v\r"sv, v);
        check_need_more("SEND\n\r"sv, v);
        check_need_more("\r"sv, v);
    }
}

TEST_CASE("heart-beats: one EOL per call, between frames") {
    for (Version v : kVersions) {
        const auto wire = "\n\r\nSEND\n\nA\0\n\n\r\nACK\nid:1\n\n\0\n"sv;
        std::vector<std::pair<ParseStatus, size_t>> expected = {
            {ParseStatus::Heartbeat, 1}, {ParseStatus::Heartbeat, 2}, {ParseStatus::Ok, 8},
            {ParseStatus::Heartbeat, 1}, {ParseStatus::Heartbeat, 1}, {ParseStatus::Heartbeat, 2},
            {ParseStatus::Ok, 11},       {ParseStatus::Heartbeat, 1}, {ParseStatus::NeedMore, 0},
        };
        std::vector<std::string> commands;
        size_t pos = 0;
        for (auto [status, consumed] : expected) {
            Frame f;
            ParseResult r = parse(bytes_of(wire.substr(pos)), v, {}, f);
            CHECK(r.status == status);
            CHECK(r.consumed == consumed);
            if (r.status == ParseStatus::Ok) commands.push_back(f.command);
            pos += r.consumed;
        }
        CHECK(pos == wire.size());
        CHECK(commands == std::vector<std::string>{"SEND", "ACK"});
    }
}

TEST_CASE("repeated headers: kept in order, first wins") {
    for (Version v : kVersions) {
        Frame f;
        REQUIRE(parse_text("MESSAGE\nfoo:1\nbar:x\nfoo:2\n\n\0"sv, v, f).status == ParseStatus::Ok);
        REQUIRE(f.headers.size() == 3);
        CHECK(f.headers[0].value == "1");
        CHECK(f.headers[2].name == "foo");
        CHECK(f.headers[2].value == "2");
        REQUIRE(f.header("foo") != nullptr);
        CHECK(*f.header("foo") == "1");
        CHECK(*f.header("bar") == "x");
        CHECK(f.header("baz") == nullptr);
        CHECK(f.header("FOO") == nullptr);
    }
}

TEST_CASE("limit: number of headers") {
    Limits l;
    l.max_headers = 3;
    const auto ok = "SEND\na:1\nb:2\nc:3\n\n\0"sv;
    for (Version v : kVersions) {
        Frame f;
        CHECK(parse_text(ok, v, f, l).status == ParseStatus::Ok);
        check_error("SEND\na:1\nb:2\nc:3\nd:4\n\n\0"sv, v, "too many headers (limit 3)", l);
        // Incomplete: the fourth line has only begun.
        check_error("SEND\na:1\nb:2\nc:3\nd"sv, v, "too many headers (limit 3)", l);
        check_need_more("SEND\na:1\nb:2\nc:3\n"sv, v, l);
    }
    check_error(std::string("SEND\n") + [] {
        std::string s;
        for (int i = 0; i < 65; ++i) s += "h:v\n";
        return s;
    }() + "\n" + std::string(1, '\0'), Version::v12, "too many headers (limit 64)");
}

TEST_CASE("limit: header line length") {
    Limits l;
    l.max_header_line = 8;
    for (Version v : kVersions) {
        Frame f;
        CHECK(parse_text("SEND\nabc:1234\n\n\0"sv, v, f, l).status == ParseStatus::Ok);     // 8 bytes
        CHECK(parse_text("SEND\nabc:1234\r\n\n\0"sv, v, f, l).status == ParseStatus::Ok);   // CR not counted
        check_error("SEND\nabc:12345\n\n\0"sv, v, "header line too long (limit 8)", l);
        // Incomplete: an endless line fails once it passes the limit.
        check_need_more("SEND\nabc:1234"sv, v, l);
        check_need_more("SEND\nabc:1234\r"sv, v, l);
        check_error("SEND\nabc:12345"sv, v, "header line too long (limit 8)", l);
        check_error("SEND\nabc:1234xxxxxxxxxxxxxxxxxx"sv, v, "header line too long (limit 8)", l);
    }
    // The limit applies to the raw line, escapes included.
    check_error("SEND\nabc:\\n\\n\\n\n\n\0"sv, Version::v12, "header line too long (limit 8)", l);
}

TEST_CASE("limit: command length") {
    Limits l;
    l.max_command = 4;
    for (Version v : kVersions) {
        Frame f;
        CHECK(parse_text("SEND\n\n\0"sv, v, f, l).status == ParseStatus::Ok);
        CHECK(parse_text("SEND\r\n\n\0"sv, v, f, l).status == ParseStatus::Ok);
        check_error("ABORT\n\n\0"sv, v, "command too long (limit 4)", l);
        check_need_more("SEND"sv, v, l);
        check_need_more("SEND\r"sv, v, l);
        check_error("ABORT"sv, v, "command too long (limit 4)", l);
        check_error(std::string(100, 'A'), v, "command too long (limit 4)", l);
    }
    check_error(std::string(33, 'A'), Version::v12, "command too long (limit 32)");
}

TEST_CASE("limit: body size") {
    Limits l;
    l.max_body = 4;
    for (Version v : kVersions) {
        Frame f;
        CHECK(parse_text("SEND\n\nabcd\0"sv, v, f, l).status == ParseStatus::Ok);
        CHECK(parse_text("SEND\ncontent-length:4\n\nab\0d\0"sv, v, f, l).status == ParseStatus::Ok);
        check_error("SEND\n\nabcde\0"sv, v, "body too large (limit 4)", l);
        // Incomplete body without NUL: fails once it passes the limit.
        check_need_more("SEND\n\nabcd"sv, v, l);
        check_error("SEND\n\nabcde"sv, v, "body too large (limit 4)", l);
        // content-length over the limit fails before the body arrives.
        check_error("SEND\ncontent-length:5\n\n"sv, v, "content-length too large (limit 4)", l);
        check_error("SEND\ncontent-length:5\n"sv, v, "content-length too large (limit 4)", l);
        check_error("SEND\ncontent-length:99999999999999999999999999999\n"sv, v,
                    "content-length too large (limit 4)", l);
        check_need_more("SEND\ncontent-length:4\n\nabcd"sv, v, l);
    }
    Limits zero;
    zero.max_body = 0;
    Frame f;
    CHECK(parse_text("SEND\n\n\0"sv, Version::v12, f, zero).status == ParseStatus::Ok);
    check_error("SEND\ncontent-length:9\n\n"sv, Version::v12, "content-length too large (limit 0)", zero);
    check_error("SEND\n\nx"sv, Version::v12, "body too large (limit 0)", zero);
}

TEST_CASE("NeedMore at every truncation point of a valid frame") {
    const std::string_view frames[] = {
        "SEND\ndestination:/queue/a\ncontent-type:text/plain\n\nhello\0"sv,
        "SEND\r\ndestination:/q\r\n\r\nhi\0"sv,
        "MESSAGE\ncontent-length:6\nk\\cx:a\\nb\n\n\0a\0b\0\n\0"sv,
        "CONNECT\naccept-version:1.2\nhost:h\n\n\0"sv,
        "DISCONNECT\n\n\0"sv,
    };
    for (Version v : kVersions) {
        for (std::string_view wire : frames) {
            Frame full;
            REQUIRE(parse_text(wire, v, full).status == ParseStatus::Ok);
            for (size_t n = 0; n < wire.size(); ++n) {
                CAPTURE(n);
                Frame f;
                f.command = "untouched";
                check_need_more(wire.substr(0, n), v);
                ParseResult r = parse_text(wire.substr(0, n), v, f);
                CHECK(r.status == ParseStatus::NeedMore);
                CHECK(f.command == "untouched");   // out is written only on Ok
            }
        }
    }
}

TEST_CASE("multiple frames in one buffer") {
    const std::string buf = "SEND\ndestination:/a\n\none\0"s + "SEND\ncontent-length:3\n\nt\0o\0"s +
                            "\n"s + "COMMIT\ntransaction:t\n\n\0"s + "SEN"s;
    for (Version v : kVersions) {
        std::vector<std::string> bodies, commands;
        std::vector<ParseStatus> statuses;
        size_t pos = 0;
        Frame f;   // reused across frames
        for (;;) {
            ParseResult r = parse(bytes_of(std::string_view(buf).substr(pos)), v, {}, f);
            statuses.push_back(r.status);
            if (r.status == ParseStatus::NeedMore || r.status == ParseStatus::Error) break;
            if (r.status == ParseStatus::Ok) {
                commands.push_back(f.command);
                bodies.emplace_back(f.body);
            }
            pos += r.consumed;
        }
        CHECK(statuses == std::vector<ParseStatus>{ParseStatus::Ok, ParseStatus::Ok,
                                                   ParseStatus::Heartbeat, ParseStatus::Ok,
                                                   ParseStatus::NeedMore});
        CHECK(commands == std::vector<std::string>{"SEND", "SEND", "COMMIT"});
        CHECK(bodies == std::vector<std::string>{"one", "t\0o"s, ""});
        CHECK(pos == buf.size() - 3);
        // A reused frame holds only the last frame's headers.
        REQUIRE(f.headers.size() == 1);
        CHECK(f.headers[0].name == "transaction");
    }
}

TEST_CASE("escape() per version") {
    auto esc = [](std::string_view in, Version v) {
        std::string out = "prefix|";
        escape(in, v, out);
        return out;
    };
    const auto text = "a:b\nc\\d\re"sv;
    CHECK(esc(text, Version::v10) == "prefix|a:b\nc\\d\re");
    CHECK(esc(text, Version::v11) == "prefix|a\\cb\\nc\\\\d\re");
    CHECK(esc(text, Version::v12) == "prefix|a\\cb\\nc\\\\d\\re");
    CHECK(esc("plain", Version::v12) == "prefix|plain");
    CHECK(esc("", Version::v12) == "prefix|");
    CHECK(esc("::", Version::v11) == "prefix|\\c\\c");
}

TEST_CASE("serialize() exact bytes") {
    const std::vector<Header> headers = {{"destination", "/queue/a:b"}, {"x\ny", "1\\2\r"}};
    std::string out;
    serialize("SEND", headers, "body", Version::v12, out);
    CHECK(out == "SEND\ndestination:/queue/a\\cb\nx\\ny:1\\\\2\\r\n\nbody\0"s);

    out = "earlier";
    serialize("SEND", std::span(headers.data(), 1), "", Version::v11, out);
    CHECK(out == "earlierSEND\ndestination:/queue/a\\cb\n\n\0"s);

    out.clear();
    serialize("SEND", std::span(headers.data(), 1), "", Version::v10, out);
    CHECK(out == "SEND\ndestination:/queue/a:b\n\n\0"s);

    // CONNECT / CONNECTED are never escaped.
    const std::vector<Header> connected = {{"version", "1.2"}, {"server", "a:b\\c"}};
    out.clear();
    serialize("CONNECTED", connected, "", Version::v12, out);
    CHECK(out == "CONNECTED\nversion:1.2\nserver:a:b\\c\n\n\0"s);

    // No headers; a body with NULs needs a caller-supplied content-length.
    out.clear();
    serialize("MESSAGE", {}, "\0x"sv, Version::v12, out);
    CHECK(out == "MESSAGE\n\n\0x\0"s);
}

TEST_CASE("serialize() then parse() round trip") {
    const std::vector<Header> headers = {
        {"content-length", "3"}, {"destination", "/topic/a:b"}, {"weird\\name:x", "line1\nline2"},
        {"empty", ""}, {"destination", "second"}};
    const auto body = "\0z\0"sv;
    for (Version v : {Version::v11, Version::v12}) {
        std::string wire;
        serialize("MESSAGE", headers, body, v, wire);
        check_frame(wire, v, "MESSAGE", headers, body);
    }
    // CR needs 1.2.
    std::string wire;
    const std::vector<Header> cr = {{"k\r", "v\r\n"}};
    serialize("SEND", cr, "b", Version::v12, wire);
    check_frame(wire, Version::v12, "SEND", cr, "b");
    // 1.0: only what needs no escaping survives, ':' in values included.
    wire.clear();
    const std::vector<Header> v10 = {{"destination", "/q:1"}, {"a\\b", "c\\nd"}};
    serialize("SEND", v10, "body", Version::v10, wire);
    check_frame(wire, Version::v10, "SEND", v10, "body");
    // Every command of the table, every version.
    for (Version v : kVersions)
        for (const CommandCase& c : command_cases()) {
            wire.clear();
            serialize(c.command, c.headers, c.body, v, wire);
            CHECK(wire == wire_of(c));
            check_frame(wire, v, c.command, c.headers, c.body);
        }
}

TEST_CASE("representable()") {
    CHECK(representable("a:b", "SEND", Version::v10, false));
    CHECK_FALSE(representable("a:b", "SEND", Version::v10, true));
    CHECK_FALSE(representable("a\nb", "SEND", Version::v10, false));
    CHECK_FALSE(representable("a\rb", "SEND", Version::v10, false));
    CHECK(representable("a\nb:c\\", "SEND", Version::v11, true));
    CHECK_FALSE(representable("a\rb", "SEND", Version::v11, false));
    CHECK(representable("a\rb\n:", "MESSAGE", Version::v12, true));
    CHECK_FALSE(representable("a\nb", "CONNECTED", Version::v12, false));
    CHECK_FALSE(representable("a:b", "CONNECTED", Version::v12, true));
    CHECK(representable("a:b", "CONNECTED", Version::v12, false));
    CHECK_FALSE(representable("", "SEND", Version::v12, true));
    CHECK(representable("", "SEND", Version::v12, false));
}

TEST_CASE("parse() of an empty buffer needs more") {
    for (Version v : kVersions) check_need_more("", v);
}
