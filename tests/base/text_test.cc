// The one UTF-8 validator, its streaming form, and client text made printable.
#include "base/log.h"
#include "base/printable.h"
#include "base/utf8.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace duplex;
using namespace std::string_literals;

TEST_CASE("check_utf8 names the first problem; U+0000 only where forbidden [MQTT-1.5.4-1/2]") {
    CHECK(check_utf8("plain ascii") == Utf8::Valid);
    CHECK(check_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80") == Utf8::Valid);  // é € 😀
    CHECK(check_utf8("a\0b"s) == Utf8::Valid);
    CHECK(check_utf8("a\0b"s, false) == Utf8::Nul);
    CHECK(check_utf8("\xff") == Utf8::BadLead);
    CHECK(check_utf8("\xe2\x82") == Utf8::Truncated);
    CHECK(check_utf8("\xe2\x28\xa1") == Utf8::BadContinuation);
    CHECK(check_utf8("\xc0\xaf") == Utf8::Overlong);
    CHECK(check_utf8("\xf4\x90\x80\x80") == Utf8::BeyondMax);
    CHECK(check_utf8("\xed\xa0\x80") == Utf8::Surrogate);
}

TEST_CASE("Utf8Stream agrees with check_utf8 whatever the split (RFC 6455 8.1: across frames)") {
    for (std::string s : {"\xc3\xa9t\xe2\x82\xac\xf0\x9f\x98\x80"s, "\xc0\xaf"s, "\xed\xa0\x80"s, "\xe2\x82"s,
                          "ok\xff"s, "\xf4\x90\x80\x80"s, ""s}) {
        bool whole = valid_utf8(s);
        for (size_t cut = 0; cut <= s.size(); ++cut) {
            Utf8Stream u;
            bool ok = u.feed(std::string_view(s).substr(0, cut)) && u.feed(std::string_view(s).substr(cut));
            CHECK_MESSAGE((ok && u.complete()) == whole, "cut " << cut << " of " << printable(s));
        }
    }
    Utf8Stream u;
    CHECK(u.feed("\xe2\x82"));
    CHECK_FALSE(u.complete());  // inside a sequence
    CHECK(u.feed("\xac"));
    CHECK(u.complete());
}

TEST_CASE("make_valid_utf8 replaces what is not UTF-8 with U+FFFD and keeps the rest") {
    CHECK(make_valid_utf8("caf\xc3\xa9") == "caf\xc3\xa9");
    CHECK(make_valid_utf8("a\xff" "b") == "a\xef\xbf\xbd" "b");
    CHECK(valid_utf8(make_valid_utf8("\xed\xa0\x80\xc0")));
}

TEST_CASE("printable: a line break in client text cannot forge a log line; invalid bytes are shown, long text cut") {
    CHECK(printable("client-1") == "client-1");
    CHECK(printable("evil\n2026-01-01 info forged") == "evil\\n2026-01-01 info forged");
    CHECK(printable("a\r\t\\\x01\x7f") == "a\\r\\t\\\\\\x01\\x7f");
    CHECK(printable("\xff\xc3\xa9") == "\\xff\xc3\xa9");
    CHECK(printable(std::string(1000, 'x'), 10) == std::string(10, 'x') + "...");
    CHECK(valid_utf8(printable("\xed\xa0\x80\xf0")));
}

namespace {
std::vector<std::string> lines;
void capture(log::Level, std::string_view text) { lines.emplace_back(text); }
}  // namespace

TEST_CASE("log::Throttled writes the first occurrence at once, then at most one line a second, with the count") {
    lines.clear();
    log::Writer old = log::set_writer(capture);
    log::Throttled t;
    for (int i = 0; i < 2000; ++i) t.warn("dropped message {}", i);
    log::set_writer(old);
    // 2,000 in well under a second: one line (the first); the rest are folded
    // into the next line written after a second.
    REQUIRE(lines.size() == 1);
    CHECK(lines[0] == "dropped message 0");
}

TEST_CASE("check_utf8's eight-bytes-at-a-time ASCII path finds a NUL or a bad byte at any position") {
    for (size_t at = 0; at < 40; ++at) {
        std::string s(40, 'a');
        s[at] = '\0';
        CHECK(check_utf8(s, false) == Utf8::Nul);
        CHECK(check_utf8(s, true) == Utf8::Valid);
        s[at] = '\xff';
        CHECK(check_utf8(s) == Utf8::BadLead);
        s.replace(at, 1, "\xc3\xa9");
        CHECK(check_utf8(s, false) == Utf8::Valid);
    }
}
