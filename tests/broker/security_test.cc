// broker/security: the one place where logins and permissions are decided.
// Each case names the rule it pins; the files (password, ACL, token secret)
// are written to a scratch directory as an operator would write them.
#include "auth/password_file.h"
#include "base/base64.h"
#include "base/clock.h"
#include "broker/login_gate.h"
#include "broker/security.h"

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

using namespace duplex;

namespace {

struct Scratch {
    std::filesystem::path dir;
    Scratch() {
        char tmpl[] = "/tmp/duplex-security-XXXXXX";
        dir = mkdtemp(tmpl);
    }
    ~Scratch() { std::filesystem::remove_all(dir); }
    std::string write(const std::string& name, const std::string& text) {
        auto path = dir / name;
        std::ofstream(path, std::ios::binary) << text;
        return path.string();
    }
};

constexpr const char* kSecret = "a-test-secret-that-is-32-bytes-long!";

std::string hs256(const std::string& payload_json) {
    std::string head = base64_encode(R"({"alg":"HS256","typ":"JWT"})", Base64::Url);
    std::string body = base64_encode(payload_json, Base64::Url);
    std::string signing = head + "." + body;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), kSecret, static_cast<int>(std::string_view(kSecret).size()),
         reinterpret_cast<const unsigned char*>(signing.data()), signing.size(), mac, &len);
    return signing + "." + base64_encode(std::string(reinterpret_cast<char*>(mac), len), Base64::Url);
}

LoginResult login_now(Security& s, LoginRequest r) {
    auto answer = s.login(r, [](LoginResult) { FAIL("no asynchronous answer expected"); });
    REQUIRE(answer.has_value());
    return *answer;
}

LoginRequest mqtt(std::string_view user, std::optional<std::string_view> password,
                  std::string_view peer = "192.168.1.20:40000") {
    return {.protocol = "mqtt", .client_id = "c1", .username = user, .password = password, .peer = peer, .tls_identity = {}};
}

ClientInfo who(std::string_view user, bool authenticated = true) {
    return {.protocol = "mqtt", .client_id = "c1", .username = user, .peer = "10.0.0.1:1", .authenticated = authenticated};
}

CommandOptions commands() {
    CommandOptions c;
    return c;
}

}  // namespace

TEST_CASE("anonymous clients: loopback only by default, everywhere or nowhere when configured") {
    Hooks hooks;
    SecurityOptions o;
    Security local(o, commands(), hooks);
    CHECK(login_now(local, mqtt("", std::nullopt, "127.0.0.1:5000")).ok);
    CHECK(login_now(local, mqtt("", std::nullopt, "::1:5000")).ok);
    LoginResult remote = login_now(local, mqtt("", std::nullopt));
    CHECK_FALSE(remote.ok);
    CHECK_FALSE(remote.bad_credentials);  // not authorized, not a wrong password
    CHECK(local.counters().logins_failed == 1);

    o.allow_anonymous = SecurityOptions::Anonymous::Yes;
    Security open(o, commands(), hooks);
    LoginResult anon = login_now(open, mqtt("claimed", std::nullopt));
    CHECK(anon.ok);
    CHECK_FALSE(anon.authenticated);  // a claimed name is not an identity
    CHECK(anon.username == "claimed");

    o.allow_anonymous = SecurityOptions::Anonymous::No;
    Security closed(o, commands(), hooks);
    CHECK_FALSE(login_now(closed, mqtt("", std::nullopt, "127.0.0.1:5000")).ok);
}

TEST_CASE("password file: right password verified, wrong and unknown refused as bad credentials") {
    Scratch scratch;
    Hooks hooks;
    SecurityOptions o;
    o.password_file = scratch.write("passwd", auth::set_user("", "alice", auth::hash_password("secret", 10)));
    Security s(o, commands(), hooks);
    LoginResult ok = login_now(s, mqtt("alice", "secret"));
    CHECK(ok.ok);
    CHECK(ok.authenticated);
    CHECK(ok.username == "alice");
    LoginResult wrong = login_now(s, mqtt("alice", "Secret"));
    CHECK_FALSE(wrong.ok);
    CHECK(wrong.bad_credentials);
    LoginResult unknown = login_now(s, mqtt("mallory", "secret"));
    CHECK_FALSE(unknown.ok);
    CHECK(unknown.bad_credentials);
    // A username without a password is no anonymous client: it claims a user.
    CHECK_FALSE(login_now(s, mqtt("alice", std::nullopt, "127.0.0.1:1")).ok);
}

TEST_CASE("failed logins from one address are throttled, without checking, and others are not") {
    Scratch scratch;
    Hooks hooks;
    SecurityOptions o;
    o.password_file = scratch.write("passwd", auth::set_user("", "alice", auth::hash_password("secret", 10)));
    Security s(o, commands(), hooks);
    for (int i = 0; i < 5; ++i) CHECK_FALSE(login_now(s, mqtt("alice", "guess", "10.1.1.1:1000")).ok);
    CHECK(s.counters().logins_failed == 5);
    // Locked out: even the right password is refused now (a guesser cannot
    // tell a right guess from the lockout), and no check is counted.
    LoginResult locked = login_now(s, mqtt("alice", "secret", "10.1.1.1:1001"));
    CHECK_FALSE(locked.ok);
    CHECK(locked.bad_credentials);
    CHECK(locked.why.find("too many failed logins") != std::string::npos);
    CHECK(s.counters().logins_throttled == 1);
    CHECK(s.counters().logins_failed == 5);
    // Another address is not affected.
    CHECK(login_now(s, mqtt("alice", "secret", "10.1.1.2:1000")).ok);
    CHECK(s.limiter_counters().lockouts_total == 1);
}

TEST_CASE("a verified client certificate is the identity when identity_as_username is on") {
    Scratch scratch;
    Hooks hooks;
    SecurityOptions o;
    o.allow_anonymous = SecurityOptions::Anonymous::No;
    o.password_file = scratch.write("passwd", auth::set_user("", "alice", auth::hash_password("secret", 10)));
    LoginRequest r = mqtt("alice", "not her password");
    r.tls_identity = "device-7";
    Security by_cert(o, commands(), hooks, {}, true);
    LoginResult cert = login_now(by_cert, r);
    CHECK(cert.ok);
    CHECK(cert.authenticated);
    CHECK(cert.username == "device-7");  // the claimed "alice" is ignored
    Security off(o, commands(), hooks, {}, false);
    CHECK_FALSE(login_now(off, r).ok);  // without the option the password decides
}

TEST_CASE("tokens: a valid HS256 token is the identity until it expires; a forged one is refused") {
    Scratch scratch;
    Hooks hooks;
    SecurityOptions o;
    o.jwt_secret_file = scratch.write("secret", std::string(kSecret) + "\n");
    Security s(o, commands(), hooks);
    long long now = static_cast<long long>(std::time(nullptr));
    std::string token = hs256(R"({"sub":"browser-1","exp":)" + std::to_string(now + 600) + "}");
    LoginResult ok = login_now(s, mqtt("", token));
    CHECK(ok.ok);
    CHECK(ok.authenticated);
    CHECK(ok.username == "browser-1");
    CHECK(ok.expires_at_ms > 0);
    std::string expired = hs256(R"({"sub":"browser-1","exp":)" + std::to_string(now - 3600) + "}");
    CHECK(login_now(s, mqtt("", expired)).bad_credentials);
    // Within the clock-skew leeway (30 s past exp) a token is accepted, and
    // the connection then lasts to the end of the leeway, not closed at once
    // (a reconnecting client would loop: accepted, dropped, accepted).
    std::string skewed = hs256(R"({"sub":"browser-1","exp":)" + std::to_string(now - 10) + "}");
    LoginResult in_leeway = login_now(s, mqtt("", skewed));
    CHECK(in_leeway.ok);
    CHECK(in_leeway.expires_at_ms >= duplex::now_ms() + 15'000);
    std::string forged = token;
    forged.back() = forged.back() == 'A' ? 'B' : 'A';
    CHECK(login_now(s, mqtt("", forged)).bad_credentials);
}

TEST_CASE("a short HS256 secret keeps the broker from starting") {
    Scratch scratch;
    Hooks hooks;
    SecurityOptions o;
    o.jwt_secret_file = scratch.write("secret", "short\n");
    CHECK_THROWS_AS(Security(o, commands(), hooks), std::runtime_error);
}

TEST_CASE("the authenticate hook refuses what the files allow and vouches for clients they do not know") {
    Scratch scratch;
    SecurityOptions o;
    o.password_file = scratch.write("passwd", auth::set_user("", "alice", auth::hash_password("secret", 10)));
    Hooks hooks;
    hooks.authenticate = [](const ClientInfo& c, std::string_view password) {
        return c.username != "alice" ? password == "hook-pass" : c.peer != "10.9.9.9:1";
    };
    Security s(o, commands(), hooks);
    CHECK(login_now(s, mqtt("alice", "secret")).ok);
    CHECK_FALSE(login_now(s, mqtt("alice", "secret", "10.9.9.9:1")).ok);
    // A wrong password is final: no hook overrules it.
    CHECK_FALSE(login_now(s, mqtt("alice", "hook-pass")).ok);
}

TEST_CASE("an asynchronous answer is posted to the loop and kept by the gate for the re-parse") {
    SecurityOptions o;
    o.allow_anonymous = SecurityOptions::Anonymous::No;
    Hooks hooks;
    Hooks::AuthenticateDone pending;
    hooks.authenticate_async = [&](const ClientInfo&, std::string_view, Hooks::AuthenticateDone done) {
        pending = std::move(done);
    };
    std::vector<std::function<void()>> posted;
    Security s(o, commands(), hooks, [&](std::function<void()> f) { posted.push_back(std::move(f)); });
    LoginGate gate;
    int resumed = 0;
    auto request = mqtt("bob", "pw");
    CHECK_FALSE(gate.ask(s, request, [&] { ++resumed; }).has_value());
    CHECK(gate.pending());
    CHECK_FALSE(gate.ask(s, request, [&] { ++resumed; }).has_value());  // asked once only
    REQUIRE(pending);
    pending(true);  // from the embedder's thread: nothing runs until posted
    CHECK(resumed == 0);
    REQUIRE(posted.size() == 1);
    posted[0]();
    CHECK(resumed == 1);
    CHECK_FALSE(gate.pending());
    auto answer = gate.ask(s, request, [&] { ++resumed; });
    REQUIRE(answer.has_value());
    CHECK(answer->ok);
    CHECK(answer->authenticated);
    CHECK(answer->username == "bob");
}

TEST_CASE("an asynchronous answer for a connection that is gone is dropped") {
    SecurityOptions o;
    Hooks hooks;
    Hooks::AuthenticateDone pending;
    hooks.authenticate_async = [&](const ClientInfo&, std::string_view, Hooks::AuthenticateDone done) {
        pending = std::move(done);
    };
    Security s(o, commands(), hooks);
    int resumed = 0;
    {
        LoginGate gate;
        CHECK_FALSE(gate.ask(s, mqtt("bob", "pw"), [&] { ++resumed; }).has_value());
    }
    pending(true);
    CHECK(resumed == 0);
}

TEST_CASE("without an ACL, clients may not publish on the topics the broker owns") {
    Hooks hooks;
    CommandOptions c;
    c.reply_prefix = "duplex/reply";
    c.events_topic = "duplex/events";
    Security s(SecurityOptions{}, c, hooks);
    s.reserve("led/status");
    CHECK_FALSE(s.allows(who("a"), Resource::Topic, "$SYS/broker/uptime", Access::Publish));
    CHECK_FALSE(s.allows(who("a"), Resource::Topic, "duplex/reply/anyone", Access::Publish));
    CHECK_FALSE(s.allows(who("a"), Resource::Topic, "duplex/events", Access::Publish));
    CHECK_FALSE(s.allows(who("a"), Resource::Topic, "led/status", Access::Publish));
    CHECK(s.allows(who("a"), Resource::Topic, "led/status", Access::Subscribe));
    CHECK(s.allows(who("a"), Resource::Topic, "sensors/1", Access::Publish));
    CHECK(s.counters().denied_publish == 4);
}

TEST_CASE("ACL: topics, queues under $queue/, commands under the command prefix, reads per delivery") {
    Scratch scratch;
    Hooks hooks;
    SecurityOptions o;
    o.acl_file = scratch.write("acl",
                               "user alice\n"
                               "topic readwrite sensors/#\n"
                               "topic write duplex/cmd/status\n"
                               "topic readwrite $queue/jobs\n"
                               "pattern read private/%u/#\n");
    CommandOptions c;
    c.command_prefix = "duplex/cmd";
    Security s(o, c, hooks);
    CHECK(s.reads_checked());
    CHECK(s.allows(who("alice"), Resource::Topic, "sensors/1", Access::Publish));
    CHECK_FALSE(s.allows(who("alice"), Resource::Topic, "other", Access::Publish));
    // A publish to the command prefix is the command decision.
    CHECK(s.allows(who("alice"), Resource::Topic, "duplex/cmd/status", Access::Publish));
    CHECK(s.allows(who("alice"), Resource::Command, "status", Access::Publish));
    CHECK_FALSE(s.allows(who("alice"), Resource::Command, "on", Access::Publish));
    CHECK_FALSE(s.allows(who("alice"), Resource::Topic, "duplex/cmd/on", Access::Publish));
    CHECK(s.counters().denied_command == 2);
    // Queues and topics of the same name are different things.
    CHECK(s.allows(who("alice"), Resource::Queue, "jobs", Access::Publish));
    CHECK_FALSE(s.allows(who("alice"), Resource::Topic, "jobs", Access::Publish));
    // The same name, unauthenticated, is not alice.
    CHECK_FALSE(s.allows(who("alice", false), Resource::Topic, "sensors/1", Access::Publish));
    CHECK(s.may_read("alice", true, "c1", "private/alice/inbox"));
    CHECK_FALSE(s.may_read("bob", true, "c2", "private/alice/inbox"));
    CHECK(s.counters().denied_read == 1);
}

TEST_CASE("taking over another identity's session needs the authorize hook") {
    Hooks hooks;
    Security strict(SecurityOptions{}, commands(), hooks);
    CHECK_FALSE(strict.allows(who("mallory"), Resource::Session, "c1", Access::Publish));
    CHECK(strict.counters().denied_takeover == 1);
    hooks.authorize = [](const ClientInfo& c, Resource r, std::string_view, Access) {
        return r != Resource::Session || c.username == "admin";
    };
    Security hooked(SecurityOptions{}, commands(), hooks);
    CHECK(hooked.allows(who("admin"), Resource::Session, "c1", Access::Publish));
    CHECK_FALSE(hooked.allows(who("mallory"), Resource::Session, "c1", Access::Publish));
}

TEST_CASE("command replies go only to topics the requester may write") {
    Scratch scratch;
    Hooks hooks;
    SecurityOptions o;
    o.acl_file = scratch.write("acl", "user alice\ntopic write replies/alice/#\n");
    Security s(o, commands(), hooks);
    s.enter(7, who("alice"));
    CHECK(s.allows_origin(7, Resource::Topic, "replies/alice/1", Access::Publish));
    CHECK_FALSE(s.allows_origin(7, Resource::Topic, "replies/bob/1", Access::Publish));
    CHECK(s.allows_origin(0, Resource::Topic, "replies/bob/1", Access::Publish));  // in-process
    s.leave(7);
    CHECK(s.allows_origin(7, Resource::Topic, "replies/bob/1", Access::Publish));  // unknown now
}

TEST_CASE("WebSocket origins: the page's own, listed ones, and clients without Origin") {
    Hooks hooks;
    SecurityOptions o;
    Security same(o, commands(), hooks);
    CHECK(same.origin_allowed("", "pi.local:8080"));
    CHECK(same.origin_allowed("http://pi.local:8080", "pi.local:8080"));
    CHECK(same.origin_allowed("http://PI.local:8080", "pi.local:8080"));
    CHECK_FALSE(same.origin_allowed("http://evil.example", "pi.local:8080"));
    CHECK_FALSE(same.origin_allowed("http://pi.local:8080.evil.example", "pi.local:8080"));
    CHECK_FALSE(same.origin_allowed("null", "pi.local:8080"));
    o.allowed_origins = {"https://app.example.com"};
    Security listed(o, commands(), hooks);
    CHECK(listed.origin_allowed("https://app.example.com", "pi.local:8080"));
    CHECK_FALSE(listed.origin_allowed("http://app.example.com", "pi.local:8080"));
}

TEST_CASE("reload keeps the old file when the new one is broken, and picks up a good one") {
    Scratch scratch;
    Hooks hooks;
    SecurityOptions o;
    o.password_file = scratch.write("passwd", auth::set_user("", "alice", auth::hash_password("one", 10)));
    Security s(o, commands(), hooks);
    CHECK(login_now(s, mqtt("alice", "one")).ok);
    scratch.write("passwd", "alice:not-a-hash\n");
    CHECK_FALSE(s.reload().empty());
    CHECK(login_now(s, mqtt("alice", "one")).ok);
    scratch.write("passwd", auth::set_user("", "alice", auth::hash_password("two", 10)));
    CHECK(s.reload().empty());
    CHECK(login_now(s, mqtt("alice", "two")).ok);
}

TEST_CASE("reserved filters match as MQTT filters do: the parent of /#, + levels, exact names") {
    Hooks hooks;
    Security s(SecurityOptions{}, CommandOptions{}, hooks);
    s.reserve("own/#");
    s.reserve("dev/+/state");
    s.reserve("exact/name");
    for (const char* t : {"own", "own/", "own/a/b", "dev/1/state", "exact/name"})
        CHECK_MESSAGE(!s.allows(who("a"), Resource::Topic, t, Access::Publish), t);
    for (const char* t : {"owner", "ow", "dev/1/state/x", "dev/state", "exact/name/x", "exact/nam", "exact"})
        CHECK_MESSAGE(s.allows(who("a"), Resource::Topic, t, Access::Publish), t);
}

TEST_CASE("the fast path skips the check only where allows() could not refuse") {
    Hooks hooks;
    CommandOptions c;
    c.command_prefix = "duplex/cmd";
    Security s(SecurityOptions{}, c, hooks);
    CHECK_FALSE(s.publish_needs_check("sensors/1"));
    CHECK(s.publish_needs_check("$SYS/x"));       // reserved
    CHECK(s.publish_needs_check("duplex/cmd/on"));  // a command
    CHECK(s.publish_needs_check(""));
    s.reserve("sensors/private/#");
    CHECK(s.publish_needs_check("sensors/1"));  // may be reserved now: allows() decides
    CHECK(s.allows(who("a"), Resource::Topic, "sensors/1", Access::Publish));
    hooks.authorize = [](const ClientInfo&, Resource, std::string_view, Access) { return false; };
    CHECK(s.publish_needs_check("other/1"));  // a hook sees every publish
    Scratch scratch;
    SecurityOptions o;
    o.acl_file = scratch.write("acl", "topic readwrite #\n");
    Hooks none;
    Security with_acl(o, c, none);
    CHECK(with_acl.publish_needs_check("other/1"));  // the ACL sees every publish
}
