// auth/acl: mosquitto acl_file syntax and the checks of auth/acl.h. Cases
// the real broker decides the same way are also in
// tests/integration/test_acl_mosquitto.py.
#include "auth/acl.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <unistd.h>

using duplex::auth::Acl;
using duplex::auth::AclAccess;

namespace {

constexpr AclAccess R = AclAccess::Read, W = AclAccess::Write, S = AclAccess::Subscribe;

Acl make(std::string_view text) {
    auto result = Acl::parse(text);
    if (auto* error = std::get_if<std::string>(&result)) FAIL("parse failed: " << *error);
    return std::get<Acl>(std::move(result));
}

std::string parse_error(std::string_view text) {
    auto result = Acl::parse(text);
    auto* error = std::get_if<std::string>(&result);
    REQUIRE_MESSAGE(error, "parsed, expected an error: " << text);
    return *error;
}

}  // namespace

TEST_CASE("access word read: Read and Subscribe, not Write") {
    Acl acl = make("user u\ntopic read a/b\n");
    CHECK(acl.allows("u", "c", "a/b", R));
    CHECK(acl.allows("u", "c", "a/b", S));
    CHECK_FALSE(acl.allows("u", "c", "a/b", W));
}

TEST_CASE("access word write: Write only") {
    Acl acl = make("user u\ntopic write a/b\n");
    CHECK(acl.allows("u", "c", "a/b", W));
    CHECK_FALSE(acl.allows("u", "c", "a/b", R));
    CHECK_FALSE(acl.allows("u", "c", "a/b", S));
}

TEST_CASE("access word readwrite, and no access word means readwrite") {
    Acl acl = make("user u\ntopic readwrite a/b\ntopic c/d\n");
    for (auto t : {"a/b", "c/d"}) {
        CHECK(acl.allows("u", "c", t, R));
        CHECK(acl.allows("u", "c", t, W));
        CHECK(acl.allows("u", "c", t, S));
    }
    CHECK_FALSE(acl.allows("u", "c", "a/c", R));
}

TEST_CASE("a single word after topic is the topic: 'topic read' is readwrite on \"read\" (mosquitto)") {
    Acl acl = make("user u\ntopic read\ntopic deny\n");
    CHECK(acl.allows("u", "c", "read", W));
    CHECK(acl.allows("u", "c", "deny", R));
}

TEST_CASE("access word deny: wins over an allow before or after it") {
    Acl acl =
        make("user u\ntopic readwrite a/#\ntopic deny a/secret\ntopic deny b/secret\ntopic readwrite b/#\n");
    CHECK(acl.allows("u", "c", "a/x", R));
    CHECK_FALSE(acl.allows("u", "c", "a/secret", R));
    CHECK_FALSE(acl.allows("u", "c", "a/secret", W));
    CHECK_FALSE(acl.allows("u", "c", "b/secret", R));
    CHECK(acl.allows("u", "c", "b/x", W));
}

TEST_CASE("deny wins: a pattern deny beats a user's topic allow (mosquitto checks topic rules first)") {
    Acl acl = make("user u\ntopic readwrite a/#\npattern deny a/secret\npattern deny a/%u/private\n");
    CHECK_FALSE(acl.allows("u", "c", "a/secret", R));
    CHECK_FALSE(acl.allows("u", "c", "a/u/private", W));
    CHECK(acl.allows("u", "c", "a/v/private", W));
}

TEST_CASE("deny on subscribe: refused when a deny covers the filter, Read still refuses inside") {
    Acl acl = make("user u\ntopic read a/#\ntopic deny a/secret/#\ntopic deny a/b\n");
    CHECK_FALSE(acl.allows("u", "c", "a/secret/#", S));
    CHECK_FALSE(acl.allows("u", "c", "a/secret/x", S));
    CHECK_FALSE(acl.allows("u", "c", "a/b", S));
    // a/+ also matches a/ok: allowed, and the message on a/b is refused by Read.
    CHECK(acl.allows("u", "c", "a/+", S));
    CHECK(acl.allows("u", "c", "a/#", S));
    CHECK_FALSE(acl.allows("u", "c", "a/b", R));
}

TEST_CASE("anonymous: topic lines before the first user line, and only those") {
    Acl acl = make("topic read public/#\n\nuser u\ntopic read private/#\n");
    CHECK(acl.allows("", "c", "public/x", R));
    CHECK_FALSE(acl.allows("", "c", "private/x", R));
    CHECK(acl.allows("u", "c", "private/x", R));
    CHECK_FALSE(acl.allows("u", "c", "public/x", R));
    CHECK_FALSE(acl.allows("other", "c", "public/x", R));
}

TEST_CASE("a user named twice gets both sections") {
    Acl acl = make("user u\ntopic read a\nuser v\ntopic read b\nuser u\ntopic read c\n");
    CHECK(acl.allows("u", "c", "a", R));
    CHECK(acl.allows("u", "c", "c", R));
    CHECK_FALSE(acl.allows("u", "c", "b", R));
    CHECK_EQ(acl.rule_count(), 3);
}

TEST_CASE("user names may hold spaces; surrounding spaces are not part of them") {
    Acl acl = make("user   bob smith  \ntopic read a\n");
    CHECK(acl.allows("bob smith", "c", "a", R));
    CHECK_FALSE(acl.allows("bob", "c", "a", R));
}

TEST_CASE("pattern %u and %c: substituted per client, anywhere in the topic") {
    Acl acl = make(
        "pattern readwrite users/%u/#\npattern write clients/%c\npattern read p/x%u-%c\n"
        "pattern read %%u/%c\n");
    CHECK(acl.allows("bob", "c1", "users/bob/x", W));
    CHECK(acl.allows("bob", "c1", "users/bob", R));
    CHECK_FALSE(acl.allows("bob", "c1", "users/alice/x", R));
    CHECK(acl.allows("bob", "c1", "clients/c1", W));
    CHECK_FALSE(acl.allows("bob", "c1", "clients/c1", R));
    CHECK_FALSE(acl.allows("bob", "c1", "clients/c2", W));
    CHECK(acl.allows("bob", "c1", "p/xbob-c1", R));
    CHECK_FALSE(acl.allows("bob", "c1", "p/xbob-c2", R));
    CHECK(acl.allows("bob", "c1", "%bob/c1", R));
    // Patterns are for everyone, also users that have their own section.
    Acl mixed = make("user bob\ntopic read a\npattern read users/%u\n");
    CHECK(mixed.allows("bob", "c", "users/bob", R));
    CHECK(mixed.allows("eve", "c", "users/eve", R));
}

TEST_CASE("pattern %u does not apply to anonymous clients; %c does") {
    Acl acl = make("pattern read users/%u/#\npattern read clients/%c/#\npattern deny clients/%u/#\n");
    CHECK_FALSE(acl.allows("", "c1", "users//x", R));
    CHECK(acl.allows("", "c1", "clients/c1/x", R));
}

TEST_CASE("topic lines do not substitute: %u is literal there") {
    Acl acl = make("user bob\ntopic read users/%u\n");
    CHECK(acl.allows("bob", "c", "users/%u", R));
    CHECK_FALSE(acl.allows("bob", "c", "users/bob", R));
}

TEST_CASE("hostile usernames and client ids (#, +, a/b) get no pattern access") {
    Acl acl = make(
        "user #\ntopic read own/#\nuser +\ntopic read own/#\nuser a/b\ntopic read own/#\n"
        "pattern readwrite users/%u/#\npattern readwrite clients/%c/#\npattern read public/#\n");
    for (auto name : {"#", "+", "a/b", "x+y", "x#"}) {
        CAPTURE(name);
        CHECK_FALSE(acl.allows(name, "c", "users/alice/x", R));
        CHECK_FALSE(acl.allows(name, "c", std::string("users/") + name, R));
        CHECK_FALSE(acl.allows(name, "c", "public/x", R));
        CHECK_FALSE(acl.allows("alice", name, "clients/bob/x", W));
        CHECK_FALSE(acl.allows("alice", name, "public/x", R));
    }
    // Their own topic rules still work.
    CHECK(acl.allows("#", "c", "own/x", R));
    CHECK(acl.allows("a/b", "c", "own/x", R));
    // "a/b" must not reach into user "a"'s users/a/#.
    CHECK_FALSE(acl.allows("a/b", "c", "users/a/b/x", R));
    CHECK(acl.allows("a", "c", "users/a/b/x", R));
}

TEST_CASE("hostile names: a deny pattern that would substitute them denies everything") {
    Acl acl = make("user a/b\ntopic readwrite #\npattern deny users/%u/private\n");
    CHECK_FALSE(acl.allows("a/b", "c", "anything", R));
    Acl other = make("user a/b\ntopic readwrite #\npattern deny clients/%c/private\n");
    CHECK(other.allows("a/b", "c", "anything", R));
}

TEST_CASE("$SYS is not granted by # or + [MQTT-4.7.2-1]") {
    Acl acl = make("user u\ntopic readwrite #\ntopic read +/broker/#\npattern read %u/#\n");
    CHECK(acl.allows("u", "c", "a/b", R));
    CHECK_FALSE(acl.allows("u", "c", "$SYS/broker/version", R));
    CHECK_FALSE(acl.allows("u", "c", "$SYS/#", S));
    CHECK_FALSE(acl.allows("u", "c", "$foo", W));
    CHECK_FALSE(acl.allows("$SYS", "c", "$SYS/x", R));  // a name must not make a pattern start with '$'
    Acl sys = make("user u\ntopic read $SYS/#\ntopic readwrite $app/#\n");
    CHECK(sys.allows("u", "c", "$SYS/broker/version", R));
    CHECK(sys.allows("u", "c", "$SYS/#", S));
    CHECK(sys.allows("u", "c", "$app/x", W));
}

TEST_CASE("$SYS is never writable by clients (mosquitto's acl__check_dollar)") {
    Acl acl = make("user u\ntopic readwrite $SYS/#\ntopic readwrite $SYSTEM/#\n");
    CHECK_FALSE(acl.allows("u", "c", "$SYS/broker/x", W));
    CHECK_FALSE(acl.allows("u", "c", "$SYS", W));
    CHECK(acl.allows("u", "c", "$SYS/broker/x", R));
    CHECK(acl.allows("u", "c", "$SYSTEM/x", W));
}

TEST_CASE("topic matching: + is one level, # is the rest including the parent") {
    Acl acl = make("user u\ntopic read a/+/c\ntopic read d/#\ntopic read +/+/+/+/+\ntopic read e/+/#\n");
    CHECK(acl.allows("u", "c", "a/b/c", R));
    CHECK(acl.allows("u", "c", "a//c", R));
    CHECK_FALSE(acl.allows("u", "c", "a/b/c/d", R));
    CHECK_FALSE(acl.allows("u", "c", "a/c", R));
    CHECK(acl.allows("u", "c", "d", R));
    CHECK(acl.allows("u", "c", "d/x/y", R));
    CHECK_FALSE(acl.allows("u", "c", "dd", R));
    CHECK(acl.allows("u", "c", "v/w/x/y/z", R));
    CHECK_FALSE(acl.allows("u", "c", "v/w/x/y", R));
    CHECK_FALSE(acl.allows("u", "c", "u/v/w/x/y/z", R));
    CHECK(make("user u\ntopic read +\n").allows("u", "c", "x", R));
    CHECK(make("user u\ntopic read +\n").allows("u", "c", "", S) == false);
    CHECK_FALSE(make("user u\ntopic read +\n").allows("u", "c", "x/y", R));
    CHECK(acl.allows("u", "c", "e/x", R));
    CHECK_FALSE(acl.allows("u", "c", "e", R));
}

TEST_CASE("filter coverage: a/+ is covered by a/# and a/+, not by a/b") {
    CHECK(make("user u\ntopic read a/#\n").allows("u", "c", "a/+", S));
    CHECK(make("user u\ntopic read a/+\n").allows("u", "c", "a/+", S));
    CHECK_FALSE(make("user u\ntopic read a/b\n").allows("u", "c", "a/+", S));
}

TEST_CASE("filter coverage: a/b is covered by a/+, a/# and #") {
    for (auto rule : {"a/+", "a/#", "#", "+/b", "+/+"}) {
        CAPTURE(rule);
        CHECK(make(std::string("user u\ntopic read ") + rule + "\n").allows("u", "c", "a/b", S));
    }
    CHECK_FALSE(make("user u\ntopic read a/c\n").allows("u", "c", "a/b", S));
}

TEST_CASE("filter coverage: # is covered only by # (and +/#); a/# by a/# and #, not a/+") {
    CHECK(make("user u\ntopic read #\n").allows("u", "c", "#", S));
    CHECK(make("user u\ntopic read +/#\n").allows("u", "c", "#", S));
    CHECK_FALSE(make("user u\ntopic read a/#\n").allows("u", "c", "#", S));
    CHECK_FALSE(make("user u\ntopic read +\n").allows("u", "c", "#", S));
    CHECK(make("user u\ntopic read #\n").allows("u", "c", "a/#", S));
    CHECK(make("user u\ntopic read a/#\n").allows("u", "c", "a/#", S));
    // a/# also matches "a", which a/+ and a/+/# do not.
    CHECK_FALSE(make("user u\ntopic read a/+\n").allows("u", "c", "a/#", S));
    CHECK_FALSE(make("user u\ntopic read a/+/#\n").allows("u", "c", "a/#", S));
    CHECK(make("user u\ntopic read a/+/#\n").allows("u", "c", "a/+/#", S));
    CHECK_FALSE(make("user u\ntopic read a/+/#\n").allows("u", "c", "a", S));
    CHECK(make("user u\ntopic read a/#\n").allows("u", "c", "a", S));
    CHECK_FALSE(make("user u\ntopic read a/+\n").allows("u", "c", "a/+/b", S));
}

TEST_CASE("filter coverage with patterns") {
    Acl acl = make("pattern read users/%u/#\n");
    CHECK(acl.allows("bob", "c", "users/bob/#", S));
    CHECK(acl.allows("bob", "c", "users/bob/+/x", S));
    CHECK_FALSE(acl.allows("bob", "c", "users/+/x", S));
    CHECK_FALSE(acl.allows("bob", "c", "users/#", S));
}

TEST_CASE("topics with spaces: the rest of the line after the access word") {
    Acl acl = make("user u\ntopic read sp ace/x  y   \ntopic write   lead/in\n");
    CHECK(acl.allows("u", "c", "sp ace/x  y", R));
    CHECK_FALSE(acl.allows("u", "c", "sp ace/x y", R));
    CHECK(acl.allows("u", "c", "lead/in", W));
    // Without an access word the second word must be one.
    CHECK(parse_error("topic a b\n").find("unknown access 'a'") != std::string::npos);
}

TEST_CASE("comments, blank lines, CRLF and surrounding whitespace are ignored") {
    Acl acl =
        make("# head\r\n\r\n   \t\n  # indented\n\ttopic read a \r\n  user   u  \r\n   topic   write b\r\n");
    CHECK(acl.allows("", "c", "a", R));
    CHECK(acl.allows("u", "c", "b", W));
    CHECK_EQ(acl.rule_count(), 2);
}

TEST_CASE("malformed files: error names the line") {
    CHECK_EQ(parse_error("topic read a\ntopic wirte b c\n"),
             "line 2: unknown access 'wirte' (read, write, readwrite or deny)");
    CHECK_EQ(parse_error("\n\ntopic\n"), "line 3: 'topic' without a topic");
    CHECK_EQ(parse_error("pattern   \n"), "line 1: 'pattern' without a topic");
    CHECK_EQ(parse_error("user\n"), "line 1: 'user' without a username");
    CHECK_EQ(parse_error("user    \n"), "line 1: 'user' without a username");
    CHECK_EQ(parse_error("topics read a\n"), "line 1: unknown keyword 'topics' (topic, user or pattern)");
    CHECK_EQ(parse_error("Topic read a\n"), "line 1: unknown keyword 'Topic' (topic, user or pattern)");
    // mosquitto splits on spaces only: a tab does not separate words.
    CHECK(parse_error("topic\tread a\n").find("line 1: unknown keyword") == 0);
    CHECK(parse_error("topic read a/#/b\n").find("line 1: invalid topic 'a/#/b': '#' must be the last") == 0);
    CHECK(parse_error("topic read a/b#\n").find("whole levels") != std::string::npos);
    CHECK(parse_error("topic read a+\n").find("whole levels") != std::string::npos);
    CHECK(parse_error("pattern read a/%u+\n").find("whole levels") != std::string::npos);
    CHECK(parse_error(std::string("topic read a\0b\n", 15)).find("line 1: NUL byte") == 0);
    std::string deep = "topic read a";
    for (int i = 0; i < 201; ++i) deep += "/a";
    CHECK(parse_error(deep).find("more than 200 '/'") != std::string::npos);
    CHECK(parse_error("topic read " + std::string(65536, 'x')).find("longer than 65535") !=
          std::string::npos);
    CHECK(parse_error("topic read " + std::string(Acl::kMaxLineBytes, 'x')).find("line 1: longer than") == 0);
}

TEST_CASE("rule count is bounded") {
    std::string text;
    for (size_t i = 0; i <= Acl::kMaxRules; ++i) text += "topic read t\n";
    CHECK_EQ(parse_error(text), "line 100001: more than 100000 rules");
}

TEST_CASE("empty file: everything denied") {
    for (auto text : {"", "\n\n", "# only a comment\n", "user u\n"}) {
        Acl acl = make(text);
        CHECK_EQ(acl.rule_count(), 0);
        for (auto access : {R, W, S}) {
            CHECK_FALSE(acl.allows("", "c", "a", access));
            CHECK_FALSE(acl.allows("u", "c", "#", access));
        }
    }
}

TEST_CASE("empty topic is denied") {
    Acl acl = make("topic #\nuser u\ntopic #\npattern %c/#\n");
    for (auto access : {R, W, S}) {
        CHECK_FALSE(acl.allows("", "c", "", access));
        CHECK_FALSE(acl.allows("u", "c", "", access));
    }
}

TEST_CASE("a 65k-level topic: no crash, bounded time") {
    Acl acl = make(
        "user u\ntopic read a/#\ntopic read +/+/+\ntopic deny b/+/c\ntopic read x/+/x\n"
        "pattern read %u/+/#\npattern deny %c/x/#\n");
    std::string topic = "a";
    for (int i = 0; i < 65535; ++i) topic += "/a";  // 131,071 bytes, 65,536 levels
    std::string filter = topic + "/#";
    auto start = std::chrono::steady_clock::now();
    CHECK(acl.allows("u", "c", topic, R));
    CHECK(acl.allows("u", "c", filter, S));
    auto first_level = [&](char c) {
        std::string t = topic;
        t[0] = c;
        return t;
    };
    CHECK_FALSE(acl.allows("u", "c", first_level('x'), R));
    CHECK(acl.allows("u", "c", first_level('u'), R));
    CHECK_FALSE(acl.allows("v", "c", first_level('v'), W));
    std::string slashes(65535, '/');
    for (auto access : {R, W, S}) acl.allows("u", "c", slashes, access);
    // Linear in the topic per rule: well under a second even under sanitizers.
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("load: reads a file; a missing file and an error name the path") {
    char tmpl[] = "/tmp/duplex-acl-test-XXXXXX";
    int fd = mkstemp(tmpl);
    REQUIRE(fd >= 0);
    close(fd);
    std::string path = tmpl;
    FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f);
    std::fputs("user u\ntopic read a\ntopic bad access b\n", f);
    std::fclose(f);
    auto bad = Acl::load(path);
    REQUIRE(std::holds_alternative<std::string>(bad));
    CHECK_EQ(std::get<std::string>(bad),
             path + ": line 3: unknown access 'bad' (read, write, readwrite or deny)");
    f = std::fopen(path.c_str(), "wb");
    std::fputs("user u\ntopic read a\n", f);
    std::fclose(f);
    auto good = Acl::load(path);
    REQUIRE(std::holds_alternative<Acl>(good));
    CHECK(std::get<Acl>(good).allows("u", "c", "a", R));
    std::remove(path.c_str());
    auto missing = Acl::load(path);
    REQUIRE(std::holds_alternative<std::string>(missing));
    CHECK(std::get<std::string>(missing).find(path + ": ") == 0);
}

TEST_CASE("Acl::Client resolved once answers as allows() does") {
    Acl acl = make(
        "topic read anon/#\nuser bob\ntopic readwrite bob/#\ntopic deny bob/secret\nuser a/b\ntopic read x\n"
        "pattern readwrite users/%u/#\npattern write clients/%c\npattern deny users/%u/locked\n");
    const char* users[] = {"", "bob", "alice", "a/b", "#"};
    const char* clients[] = {"c1", "", "c/1", "+"};
    const char* topics[] = {
        "anon/x", "bob/x",         "bob/secret", "bob/#",     "users/bob/x", "users/bob/locked",
        "x",      "clients/c1",    "clients/+",  "users/+/x", "#",           "$SYS/x",
        "",       "users/alice/#", "users/a/b/x"};
    for (auto u : users)
        for (auto c : clients) {
            Acl::Client client = acl.client(u, c);
            for (auto t : topics)
                for (auto access : {R, W, S}) {
                    CAPTURE(u);
                    CAPTURE(c);
                    CAPTURE(t);
                    CHECK_EQ(client.allows(t, access), acl.allows(u, c, t, access));
                }
        }
    // The client copied its names.
    std::string name = "bob";
    Acl::Client bob = acl.client(name, "c1");
    name = "eve";
    CHECK(bob.allows("users/bob/x", W));
}
