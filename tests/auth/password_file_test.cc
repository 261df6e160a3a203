// PasswordFile against files written by the real mosquitto_passwd 2.0.11
// (Debian 12's `mosquitto` package) and by Python's hashlib, and against
// broken files.
#include "auth/password_file.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <unistd.h>

using duplex::auth::hash_password;
using duplex::auth::PasswordFile;
using duplex::auth::set_user;
using Check = PasswordFile::Check;

namespace {

// Made with:
//   mosquitto_passwd -c -b f alice 'correct horse'
//   mosquitto_passwd -b f bob 'Tr0ub4dor&3'
//   mosquitto_passwd -b -I 1000 f carol 'pässwörd'      (UTF-8)
//   mosquitto_passwd -b -H sha512 f dave 'legacy'        ($6$, mosquitto 1.x's hash)
constexpr const char* kMosquittoFile =
    "alice:$7$101$UCxpArs8EkX7Ucor$RFfGnCAywCP/PazRcfeWAPfRp1bfAMT/72VJLBT7dYka0eifSVWQ6ZeEcrtSv3ROJuXUkaHOcwPS58eitFKzrQ==\n"
    "bob:$7$101$eG4klToktOLluKo5$lnbzkxgt1P49KmCzsXNgzGHudceXS3I0ZFqL+c5DuqfobXfuDnwPxBT/bl4EDgkInzgYWVkwTJFtTB/zeizwqw==\n"
    "carol:$7$1000$/SfI8KFP6RIimHER$EAGENwU9jbufHItGmc9dtgffw2N2H8WYNK7uUCRAiRX9hspONYDC5ig+nCuhcvZZffV0GBgExl6V5uqoAy2efA==\n"
    "dave:$6$lTCh82fCMGVhC2ko$Pp2+GRKwECNbMZxqVeEqAbQKvxlGM7Bgh8pvOwyxsKYv2uFWXtv5FqEhhmoU3E4EpNCsRdSnzbp1UZpqQzYehg==\n";

// Made with Python's hashlib, independently of mosquitto:
//   salt = bytes(range(1, 13)); sha512(b'hashlib six' + salt)           ($6$)
//   salt = b'0123456789abcdef0123' (20 bytes); pbkdf2_hmac('sha512', b'frank pw', salt, 7)
constexpr const char* kHashlibFile =
    "erin:$6$AQIDBAUGBwgJCgsM$APU7IhD4fFQw2ZSE1oKnVF/LRPLjX18byaJOw0ur3iMXxvucX9lqzHyDAtYSvSCK7xxENnvbTcFRuW8DMUzCjA==\n"
    "frank:$7$7$MDEyMzQ1Njc4OWFiY2RlZjAxMjM=$dH46wQdZN5h0oXtMrPKTxxax0xHd353C6kE5RBbTHFMIvpMPbNQrz3C341SwtnPLoggYFPMmEsRU81/Ii0VfDg==\n";

PasswordFile parsed(std::string_view text) {
    auto r = PasswordFile::parse(text);
    REQUIRE_MESSAGE(std::holds_alternative<PasswordFile>(r), "parse: " << std::get<std::string>(r));
    return std::get<PasswordFile>(std::move(r));
}

std::string parse_error(std::string_view text) {
    auto r = PasswordFile::parse(text);
    auto* err = std::get_if<std::string>(&r);
    return err ? *err : std::string("(parsed)");
}

constexpr const char* kHash =
    "$7$101$UCxpArs8EkX7Ucor$RFfGnCAywCP/PazRcfeWAPfRp1bfAMT/72VJLBT7dYka0eifSVWQ6ZeEcrtSv3ROJuXUkaHOcwPS58eitFKzrQ==";

}  // namespace

TEST_CASE("password file: mosquitto_passwd's $7$ and $6$ entries check") {
    PasswordFile f = parsed(kMosquittoFile);
    CHECK(f.size() == 4);
    CHECK(f.contains("alice"));
    CHECK_FALSE(f.contains("zoe"));
    CHECK(f.check("alice", "correct horse") == Check::Ok);
    CHECK(f.check("bob", "Tr0ub4dor&3") == Check::Ok);
    CHECK(f.check("carol", "pässwörd") == Check::Ok);
    CHECK(f.check("dave", "legacy") == Check::Ok);
}

TEST_CASE("password file: Python hashlib's $6$ and $7$ (20-byte salt, 7 rounds) entries check") {
    PasswordFile f = parsed(kHashlibFile);
    CHECK(f.check("erin", "hashlib six") == Check::Ok);
    CHECK(f.check("frank", "frank pw") == Check::Ok);
    CHECK(f.check("frank", "frank pw ") == Check::WrongPassword);
}

TEST_CASE("password file: wrong passwords and unknown users") {
    PasswordFile f = parsed(kMosquittoFile);
    CHECK(f.check("alice", "correct horse ") == Check::WrongPassword);
    CHECK(f.check("alice", "") == Check::WrongPassword);
    CHECK(f.check("alice", "Tr0ub4dor&3") == Check::WrongPassword);  // bob's
    CHECK(f.check("dave", "Legacy") == Check::WrongPassword);
    CHECK(f.check("Alice", "correct horse") == Check::UnknownUser);  // names are case-sensitive
    CHECK(f.check("zoe", "correct horse") == Check::UnknownUser);
    CHECK(f.check("", "") == Check::UnknownUser);
    CHECK(f.check("alice", std::string(70000, 'x')) == Check::WrongPassword);
    // A password with a NUL is not cut at it (mosquitto's strlen would).
    // (A trailing NUL is no different: HMAC pads its key with zero bytes,
    // so PBKDF2 treats "pw" and "pw\0" as the same key.)
    CHECK(f.check("alice", std::string("correct\0horse", 13)) == Check::WrongPassword);
    CHECK(f.check("alice", std::string("correct horse\0x", 15)) == Check::WrongPassword);
}

TEST_CASE("password file: an unknown user costs one hash like a known user") {
    // Every entry at 20,000 rounds, so one check takes milliseconds and the
    // difference between "hash" and "no hash" stands out of the noise.
    std::string text = "u1:" + hash_password("a", 20000) + "\nu2:" + hash_password("b", 20000) + "\n";
    PasswordFile f = parsed(text);
    auto time = [&](const char* user) {
        auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < 5; ++i) (void)f.check(user, "wrong");
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    double known = time("u1"), unknown = time("nobody");
    MESSAGE("5 checks at 20,000 rounds: known user " << known * 1000 << " ms, unknown user " << unknown * 1000 << " ms");
    // Not a timing measurement to the microsecond (the machine is shared):
    // without the dummy hash the unknown user would take ~0 ms.
    CHECK(unknown > known * 0.3);
    CHECK(known > unknown * 0.3);
    CHECK(f.check("nobody", "a") == Check::UnknownUser);
}

TEST_CASE("password file: blank lines, comments, CRLF, blanks around fields") {
    PasswordFile f = parsed(std::string("# made by hand\n\n   \r\n") + "  alice\t:  " + kHash + "  \r\n# end");
    CHECK(f.size() == 1);
    CHECK(f.check("alice", "correct horse") == Check::Ok);
    CHECK(parsed("").size() == 0);
    CHECK(parsed("").check("anyone", "x") == Check::UnknownUser);
    // Unpadded base64 is read too.
    std::string unpadded = std::string("alice:") + kHash;
    unpadded.resize(unpadded.size() - 2);
    CHECK(parsed(unpadded).check("alice", "correct horse") == Check::Ok);
}

TEST_CASE("password file: malformed lines are errors naming the line") {
    std::string good = std::string("alice:") + kHash + "\n";
    CHECK(parse_error(good + "bob:$5$abc$def\n") == "line 2: unknown hash type $5$");
    CHECK(parse_error(good + "bob:plaintext\n").find("line 2: not a $6$ or $7$ hash") == 0);
    CHECK(parse_error(good + "bob\n") == "line 2: no password hash for user 'bob'");
    CHECK(parse_error(good + "bob:\n") == "line 2: no password hash for user 'bob'");
    CHECK(parse_error(good + ":" + kHash + "\n") == "line 2: no username before ':'");
    CHECK(parse_error(good + good) == "line 2: user 'alice' again (first on line 1)");
    CHECK(parse_error(std::string("a\x01:") + kHash) == "line 1: control character in username");
    CHECK(parse_error("bob:$7$101$UCxpArs8EkX7Ucor\n").find("line 1: a $7$ hash is") == 0);
    CHECK(parse_error("bob:$6$a$b$c\n").find("line 1: a $6$ hash is") == 0);
    CHECK(parse_error("bob:$7$0$UCxpArs8EkX7Ucor$AAAA\n").find("line 1: iterations '0' not in 1..1000000") == 0);
    CHECK(parse_error("bob:$7$1000001$UCxpArs8EkX7Ucor$AAAA\n").find("iterations '1000001'") != std::string::npos);
    CHECK(parse_error("bob:$7$99999999999999999999$UCxpArs8EkX7Ucor$AAAA\n").find("iterations") != std::string::npos);
    CHECK(parse_error("bob:$7$-5$UCxpArs8EkX7Ucor$AAAA\n").find("iterations") != std::string::npos);
    CHECK(parse_error("bob:$7$+5$UCxpArs8EkX7Ucor$AAAA\n").find("iterations") != std::string::npos);
    CHECK(parse_error("bob:$7$ 5$UCxpArs8EkX7Ucor$AAAA\n").find("iterations") != std::string::npos);
    CHECK(parse_error("bob:$7$101$UCxp*rs8EkX7Ucor$AAAA\n").find("line 1: salt is not base64") == 0);
    CHECK(parse_error("bob:$7$101$$AAAA\n").find("line 1: salt is not base64") == 0);
    CHECK(parse_error("bob:$7$101$UCxpArs8EkX7Ucor$AAAA\n") == "line 1: hash is not base64 of 64 bytes");
    // A hash one byte short (63 bytes).
    std::string short_hash = std::string("bob:$6$UCxpArs8EkX7Ucor$") + std::string(84, 'A') + "\n";
    CHECK(parse_error(short_hash) == "line 1: hash is not base64 of 64 bytes");
    CHECK(parse_error("bob:$7$101$UCxpArs8EkX7Ucor$" + std::string(86, 'A') + "=\n") ==
          "line 1: hash is not base64 of 64 bytes");  // bad padding
}

TEST_CASE("password file: bounded line length and file size") {
    std::string user(duplex::auth::kMaxLineLength, 'u');
    CHECK(parse_error(user + ":" + kHash + "\n").find("line 1: longer than") == 0);
    // A long but allowed username (65,535 bytes, the MQTT limit).
    std::string long_user(65535, 'u');
    CHECK(parsed(long_user + ":" + kHash + "\n").contains(long_user));
    std::string huge(duplex::auth::kMaxFileBytes + 1, '#');
    CHECK(parse_error(huge).find("larger than") != std::string::npos);
}

TEST_CASE("password file: hash_password writes mosquitto's $7$ form") {
    std::string h = hash_password("s3cret", 101);
    REQUIRE(h.rfind("$7$101$", 0) == 0);
    // 12-byte salt: 16 base64 characters; 64-byte hash: 88.
    CHECK(h.size() == 7 + 16 + 1 + 88);
    CHECK(h != hash_password("s3cret", 101));  // random salt
    PasswordFile f = parsed("me:" + h + "\n");
    CHECK(f.check("me", "s3cret") == Check::Ok);
    CHECK(f.check("me", "s3cret!") == Check::WrongPassword);
    CHECK(hash_password("x", 0).empty());
    CHECK(hash_password("x", duplex::auth::kMaxIterations + 1).empty());
    CHECK(duplex::auth::default_iterations() >= 101);
    CHECK(hash_password("x", duplex::auth::default_iterations()).rfind("$7$1000$", 0) == 0);
}

TEST_CASE("password file: set_user replaces, appends and removes, keeping the rest") {
    std::string text = "# users\nalice:$6$a$b\r\n\nbob:$7$1$c$d\n";
    CHECK(set_user(text, "alice", "NEW") == "# users\nalice:NEW\r\n\nbob:$7$1$c$d\n");
    CHECK(set_user(text, "bob", "NEW") == "# users\nalice:$6$a$b\r\n\nbob:NEW\n");
    CHECK(set_user(text, "carol", "NEW") == text + "carol:NEW\n");
    CHECK(set_user("alice:x", "carol", "NEW") == "alice:x\ncarol:NEW\n");
    CHECK(set_user("", "carol", "NEW") == "carol:NEW\n");
    CHECK(set_user(text, "alice", "") == "# users\n\nbob:$7$1$c$d\n");
    CHECK(set_user(text, "nobody", "") == text);
    CHECK(set_user("bob:1\nbob:2\n", "bob", "3") == "bob:3\n");  // a second line for the user is dropped
    CHECK(set_user("bobby:1\n bob :2", "bob", "3") == "bobby:1\nbob:3\n");
    CHECK(set_user("#bob:1\n", "bob", "3") == "#bob:1\nbob:3\n");  // a comment is not the user
}

TEST_CASE("password file: load() reads a file and names it in errors") {
    char path[] = "/tmp/duplex-pwfile-test-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    std::string text = kMosquittoFile;
    REQUIRE(write(fd, text.data(), text.size()) == ssize_t(text.size()));
    close(fd);
    auto r = PasswordFile::load(path);
    REQUIRE(std::holds_alternative<PasswordFile>(r));
    CHECK(std::get<PasswordFile>(r).check("bob", "Tr0ub4dor&3") == Check::Ok);
    unlink(path);
    auto missing = PasswordFile::load(path);
    REQUIRE(std::holds_alternative<std::string>(missing));
    CHECK(std::get<std::string>(missing) == std::string(path) + ": cannot open");
}
