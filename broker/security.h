// Who may connect and what each client may do, decided in one place for
// every protocol and path: MQTT, STOMP and plain-WebSocket commands call
// login() at connect and allows() before each publish, subscribe, command,
// will and session takeover; sessions and STOMP subscriptions call
// may_read() before each delivery; the command bridge checks reply topics
// with allows_origin(). The built-in checks (the anonymous policy, the
// password file, tokens, the ACL, topics the broker owns) come first, then
// the embedder's hooks (duplex/hooks.h), which see every decision with the
// kind of object and the client's identity.
//
// Lifetime: owned by the Core; files are read at construction and on
// reload(). Threading: loop thread only, except that an asynchronous
// authenticate hook may answer from any thread (its answer is posted back
// through the `post` function given at construction). Errors: the
// constructor throws std::runtime_error for a file that cannot be used (the
// broker must not start more open than configured); reload() returns an
// error text and keeps what it had.
#pragma once

#include "auth/login_limiter.h"
#include "duplex/config.h"
#include "duplex/hooks.h"

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace duplex {

namespace auth {
class PasswordFile;
class JwtVerifier;
class Acl;
}  // namespace auth

// What a client offers at connect.
struct LoginRequest {
    std::string_view protocol;  // "mqtt", "stomp", "commands"
    std::string_view client_id;
    std::string_view username;  // claimed; may be empty
    std::optional<std::string_view> password;
    std::string_view peer;          // "ip:port"
    std::string_view tls_identity;  // verified client certificate CN, or empty
};

struct LoginResult {
    bool ok = false;
    // The identity from here on: verified when `authenticated`, else the
    // claimed name of an anonymous client (ACL: anonymous rules).
    std::string username;
    bool authenticated = false;
    // Steady-clock ms at which the credential (a token) expires and the
    // connection must be closed; 0 = never.
    int64_t expires_at_ms = 0;
    bool bad_credentials = false;  // refused for a wrong password or token (not as anonymous)
    std::string why;               // for the log line when refused (never sent to the client)
};

class Security {
  public:
    using Post = std::function<void(std::function<void()>)>;

    // `post` runs a function on the loop thread (for asynchronous hooks);
    // null runs it at once (tests). `identity_as_username`: a verified client
    // certificate's CN is the client's identity (TlsOptions).
    Security(const SecurityOptions& options, const CommandOptions& commands, Hooks& hooks, Post post = {},
             bool identity_as_username = false);
    ~Security();
    Security(const Security&) = delete;
    Security& operator=(const Security&) = delete;

    // Re-reads the password file, the ACL and the token key. Returns the
    // errors (each file that failed keeps its previous version), empty if
    // all went well.
    std::string reload();

    // The answer now, or nullopt when the asynchronous hook will answer
    // through `later` (called on the loop thread, at most once; the caller
    // makes sure it is still alive then: broker/login_gate.h does).
    //
    // Order: a verified client certificate (identity_as_username), a token,
    // the password file, the anonymous policy; then the hooks. A client that
    // offers a password from an address with too many recent failures is
    // refused unchecked (auth/login_limiter.h); every refused password or
    // token counts as a failure of its address, a verified login clears it.
    std::optional<LoginResult> login(const LoginRequest& request, std::function<void(LoginResult)> later);

    // May `who` do `access` on `name`? Topic publishes under the command
    // prefix are Command decisions (one rule for every path to a command).
    // Counts denials.
    bool allows(const ClientInfo& who, Resource resource, std::string_view name, Access access);
    // False when a publish to topic `name` is allowed whoever sends it, so
    // the hot paths may skip allows() and the ClientInfo it takes: no ACL,
    // no authorize hook, and `name` starts with no reserved filter's (or the
    // command prefix's) first byte. A few instructions; allows() with
    // its ClientInfo was ~160 per message (tools/bench/instructions).
    bool publish_needs_check(std::string_view name) const {
        return acl_ || hooks_.authorize || name.empty() || first_bytes_[static_cast<unsigned char>(name[0])];
    }
    // The same for the client whose messages carry Message::origin `origin`
    // (the command bridge asking whether a requester may write its reply
    // topic). Origins not registered (in-process publishers, 0) are trusted.
    bool allows_origin(uint64_t origin, Resource resource, std::string_view name, Access access);
    // Connections register their identity under their origin id while
    // connected.
    void enter(uint64_t origin, const ClientInfo& who);
    void leave(uint64_t origin);

    // Whether deliveries need may_read(): only when an ACL is loaded.
    bool reads_checked() const { return acl_ != nullptr; }
    // ACL Read for one delivery of `topic`; counts denials.
    bool may_read(std::string_view username, bool authenticated, std::string_view client_id,
                  std::string_view topic);

    // Topics the broker and in-process code publish on ($SYS/#, the reply
    // prefix, the events topic, embedders' reserve_topic()): clients may not
    // write them unless an ACL grants it.
    void reserve(std::string filter);

    // A line for the start-up log: how the broker is exposed and how to
    // change it.
    std::string exposure() const;

    // The WebSocket Origin allow-list (SecurityOptions::allowed_origins):
    // `origin` empty = no Origin header; `host` is the request's Host.
    bool origin_allowed(std::string_view origin, std::string_view host) const;

    struct Counters {
        uint64_t logins_failed = 0;     // wrong password / token, refused anonymous
        uint64_t logins_throttled = 0;  // refused without a check: too many failures from the address
        uint64_t denied_publish = 0;
        uint64_t denied_subscribe = 0;
        uint64_t denied_read = 0;  // deliveries the ACL filtered out
        uint64_t denied_command = 0;
        uint64_t denied_takeover = 0;
    };
    const Counters& counters() const { return counters_; }
    auth::LoginLimiter::Counters limiter_counters() const { return limiter_.counters(); }

    // "127.0.0.1:5000" / "::1:5000" (net/peer_name.h) -> loopback?
    static bool loopback_peer(std::string_view peer);

  private:
    LoginResult finish(const LoginRequest& request, LoginResult result, bool throttled = false);
    bool owned(std::string_view topic) const;

    SecurityOptions options_;
    std::string command_prefix_;  // "<command_prefix>/", empty when commands are off
    Hooks& hooks_;
    Post post_;
    std::unique_ptr<auth::PasswordFile> passwords_;
    std::unique_ptr<auth::JwtVerifier> tokens_;
    std::unique_ptr<auth::Acl> acl_;
    // Each reserved filter with the length of its literal head (before the
    // first wildcard, "/#" included): a topic that does not start with the
    // head cannot match, and nearly none does, so owned() costs a few byte
    // compares per publish (a full match per filter was ~360 instructions
    // per message, measured with tools/bench/instructions).
    struct Reserved {
        std::string filter;
        size_t head;
    };
    std::vector<Reserved> reserved_;
    // First bytes a topic under a reserved filter or the command prefix can
    // start with (all of them once a filter starts with a wildcard).
    std::array<bool, 256> first_bytes_{};
    struct Known {
        std::string username, client_id, peer, protocol;
        bool authenticated;
    };
    std::unordered_map<uint64_t, Known> by_origin_;
    Counters counters_;
    bool identity_as_username_;
    auth::LoginLimiter limiter_;
    // Alive while this object is: asynchronous answers arriving later check it.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace duplex
