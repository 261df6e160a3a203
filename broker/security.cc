#include "broker/security.h"

#include "auth/acl.h"
#include "auth/jwt.h"
#include "auth/password_file.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/printable.h"
#include "broker/topic.h"

#include <fmt/core.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace duplex {

namespace {

// What the built-in checks make of a client's credentials.
struct Verdict {
    enum Kind { Verified, Bad, Anonymous } kind = Anonymous;
    bool anonymous_allowed = false;  // Anonymous: the policy lets it in
    std::string username;            // Verified: the identity
    int64_t expires_at_s = 0;        // Verified by a token: when it stops being accepted (exp + leeway)
    std::string why;
};

std::string read_file(const std::string& path, std::string& error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = fmt::format("cannot read {}", path);
        return {};
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::unique_ptr<auth::PasswordFile> load_passwords(const std::string& path, std::string& error) {
    auto loaded = auth::PasswordFile::load(path);
    if (auto* e = std::get_if<std::string>(&loaded)) {
        error = fmt::format("password_file {}: {}", path, *e);
        return nullptr;
    }
    return std::make_unique<auth::PasswordFile>(std::move(std::get<auth::PasswordFile>(loaded)));
}

std::unique_ptr<auth::Acl> load_acl(const std::string& path, std::string& error) {
    auto loaded = auth::Acl::load(path);
    if (auto* e = std::get_if<std::string>(&loaded)) {
        error = fmt::format("acl_file {}: {}", path, *e);
        return nullptr;
    }
    return std::make_unique<auth::Acl>(std::move(std::get<auth::Acl>(loaded)));
}

std::unique_ptr<auth::JwtVerifier> load_tokens(const SecurityOptions& o, std::string& error) {
    auth::JwtOptions j;
    j.audience = o.jwt_audience;
    j.username_claim = o.jwt_username_claim;
    j.leeway_s = o.jwt_leeway;
    if (!o.jwt_secret_file.empty()) {
        j.hs256_secret = read_file(o.jwt_secret_file, error);
        if (!error.empty()) return nullptr;
        // A secret file usually ends with a newline the secret does not hold.
        while (!j.hs256_secret.empty() && (j.hs256_secret.back() == '\n' || j.hs256_secret.back() == '\r'))
            j.hs256_secret.pop_back();
        if (j.hs256_secret.size() < 32) {
            // RFC 7518 3.2: an HS256 key must be at least 256 bits.
            error = fmt::format("jwt_secret_file {}: the secret is shorter than 32 bytes", o.jwt_secret_file);
            return nullptr;
        }
    }
    if (!o.jwt_public_key_file.empty()) {
        j.public_key_pem = read_file(o.jwt_public_key_file, error);
        if (!error.empty()) return nullptr;
    }
    auto made = auth::JwtVerifier::make(j);
    if (auto* e = std::get_if<std::string>(&made)) {
        error = fmt::format("jwt: {}", *e);
        return nullptr;
    }
    return std::make_unique<auth::JwtVerifier>(std::move(std::get<auth::JwtVerifier>(made)));
}

auth::AclAccess acl_access(Resource resource, Access access) {
    if (resource == Resource::Command) return auth::AclAccess::Write;
    return access == Access::Publish ? auth::AclAccess::Write : auth::AclAccess::Subscribe;
}

// Where a queue name sits in the ACL's topic space: under "$queue/", so that
// rules for topics never grant queues by accident (a leading wildcard does
// not match '$' topics) and `topic read $queue/jobs` says what it means.
std::string queue_acl_topic(std::string_view queue) { return fmt::format("$queue/{}", queue); }

bool equal_ascii_nocase(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
               return lower(x) == lower(y);
           });
}

}  // namespace

Security::Security(const SecurityOptions& options, const CommandOptions& commands, Hooks& hooks, Post post,
                   bool identity_as_username)
    : options_(options), hooks_(hooks), post_(std::move(post)), identity_as_username_(identity_as_username) {
    if (!commands.command_prefix.empty()) {
        command_prefix_ = commands.command_prefix + "/";
        first_bytes_[static_cast<unsigned char>(command_prefix_[0])] = true;
    }
    std::string error;
    if (!options_.password_file.empty() && !(passwords_ = load_passwords(options_.password_file, error)))
        throw std::runtime_error(error);
    if (!options_.acl_file.empty() && !(acl_ = load_acl(options_.acl_file, error)))
        throw std::runtime_error(error);
    if ((!options_.jwt_secret_file.empty() || !options_.jwt_public_key_file.empty()) &&
        !(tokens_ = load_tokens(options_, error)))
        throw std::runtime_error(error);
    reserve("$SYS/#");
    if (!commands.reply_prefix.empty()) reserve(commands.reply_prefix + "/#");
    if (!commands.events_topic.empty()) reserve(commands.events_topic);
}

Security::~Security() = default;

std::string Security::reload() {
    std::vector<std::string> errors;
    std::string error;
    if (!options_.password_file.empty()) {
        if (auto p = load_passwords(options_.password_file, error)) passwords_ = std::move(p);
        else errors.push_back(std::exchange(error, {}));
    }
    if (!options_.acl_file.empty()) {
        if (auto a = load_acl(options_.acl_file, error)) acl_ = std::move(a);
        else errors.push_back(std::exchange(error, {}));
    }
    if (tokens_) {
        if (auto t = load_tokens(options_, error)) tokens_ = std::move(t);
        else errors.push_back(std::exchange(error, {}));
    }
    std::string all;
    for (auto& e : errors) all += (all.empty() ? "" : "; ") + e;
    return all;
}

namespace {
// "ip:port" (net/peer_name.h) -> "ip".
std::string_view peer_ip(std::string_view peer) {
    auto colon = peer.rfind(':');
    return colon == std::string_view::npos ? peer : peer.substr(0, colon);
}
}  // namespace

bool Security::loopback_peer(std::string_view peer) {
    std::string_view ip = peer_ip(peer);
    return ip.starts_with("127.") || ip == "::1";
}

std::optional<LoginResult> Security::login(const LoginRequest& r, std::function<void(LoginResult)> later) {
    const int64_t wall_s = static_cast<int64_t>(std::time(nullptr));
    Verdict v;
    const bool by_certificate = identity_as_username_ && !r.tls_identity.empty();
    if (r.password && !by_certificate) {
        // A password or token is checked only from an address that has not
        // failed too often lately: a refusal here costs no hash.
        auto admission = limiter_.admit(auth::LoginLimiter::key_for(peer_ip(r.peer)), now_ms());
        if (!admission.allowed) {
            LoginResult refused;
            refused.bad_credentials = true;
            refused.why = fmt::format("too many failed logins from this address (retry in {} s)",
                                      (admission.retry_after_ms + 999) / 1000);
            return finish(r, std::move(refused), true);
        }
    }
    if (by_certificate) {
        // mosquitto's use_identity_as_username: the certificate is the
        // credential; a username or password the client also sent is ignored.
        v.kind = Verdict::Verified;
        v.username = std::string(r.tls_identity);
    } else if (r.password && tokens_ && auth::JwtVerifier::looks_like_token(*r.password)) {
        auto checked = tokens_->verify(*r.password, wall_s);
        if (checked.ok) {
            v.kind = Verdict::Verified;
            v.username = std::move(checked.username);
            v.expires_at_s = checked.valid_until_s;  // exp + leeway: the check at connect agrees
        } else {
            v.kind = Verdict::Bad;
            v.why = "token refused: " + checked.error;
        }
    } else if (passwords_ && !r.username.empty() && r.password) {
        switch (passwords_->check(r.username, *r.password)) {
            case auth::PasswordFile::Check::Ok:
                v.kind = Verdict::Verified;
                v.username = std::string(r.username);
                break;
            case auth::PasswordFile::Check::WrongPassword:
                v.kind = Verdict::Bad;
                v.why = "wrong password";
                break;
            case auth::PasswordFile::Check::UnknownUser:
                v.kind = Verdict::Bad;
                v.why = "unknown user";
                break;
        }
    } else if (passwords_ && !r.username.empty()) {
        v.kind = Verdict::Bad;
        v.why = "no password";
    } else {
        using A = SecurityOptions::Anonymous;
        v.anonymous_allowed = options_.allow_anonymous == A::Yes ||
                              (options_.allow_anonymous == A::Local && loopback_peer(r.peer));
        if (!v.anonymous_allowed)
            v.why = options_.allow_anonymous == A::No
                        ? "anonymous clients are refused (allow_anonymous false)"
                        : "anonymous clients from other hosts are refused (allow_anonymous local)";
    }

    LoginResult result;
    if (v.kind == Verdict::Verified) {
        result.ok = true;
        result.authenticated = true;
        result.username = std::move(v.username);
        if (v.expires_at_s) {
            int64_t left_s = std::max<int64_t>(0, v.expires_at_s - wall_s);
            result.expires_at_ms = now_ms() + left_s * 1000;
        }
    } else if (v.kind == Verdict::Bad) {
        result.why = std::move(v.why);
        result.bad_credentials = true;
        return finish(r, std::move(result));  // no hook overrules a wrong credential
    } else {
        result.ok = v.anonymous_allowed;
        result.username = std::string(r.username);
        result.why = std::move(v.why);
    }

    // The embedder's hook: refuses what we allow; decides alone for a client
    // we know nothing of (anonymous, or credentials for its own users).
    const bool verified = result.authenticated;
    ClientInfo info{.protocol = r.protocol,
                    .client_id = r.client_id,
                    .username = verified ? std::string_view(result.username) : r.username,
                    .peer = r.peer,
                    .authenticated = verified};
    std::string_view password = r.password ? *r.password : std::string_view();
    auto decide = [verified](LoginResult res, bool allowed) {
        if (!allowed) {
            res.ok = false;
            res.why = "refused by the authenticate hook";
        } else if (!verified) {
            res.ok = true;
            res.authenticated = true;  // the embedder vouched for the claimed name
            res.why.clear();
        }
        return res;
    };
    if (hooks_.authenticate_async) {
        auto alive = std::weak_ptr<bool>(alive_);
        // `r` holds views into the caller's connection: copied for later.
        struct Copy {
            std::string protocol, client_id, username, peer, tls;
            bool had_password;  // finish() counts a refused password against the address
        };
        auto copy = std::make_shared<Copy>(Copy{std::string(r.protocol), std::string(r.client_id),
                                                std::string(r.username), std::string(r.peer),
                                                std::string(r.tls_identity), r.password.has_value()});
        auto answer = [this, alive, copy, decide, result, later = std::move(later)](bool allowed) mutable {
            if (!alive.lock()) return;
            LoginRequest again{
                .protocol = copy->protocol,
                .client_id = copy->client_id,
                .username = copy->username,
                .password = copy->had_password ? std::optional<std::string_view>("") : std::nullopt,
                .peer = copy->peer,
                .tls_identity = copy->tls};
            later(finish(again, decide(std::move(result), allowed)));
        };
        hooks_.authenticate_async(
            info, password, [post = post_, answer = std::move(answer)](bool allowed) mutable {
                if (post) post([answer = std::move(answer), allowed]() mutable { answer(allowed); });
                else answer(allowed);
            });
        return std::nullopt;
    }
    if (hooks_.authenticate) {
        // Asked before `result` moves: `info` views result.username (in one
        // call, the argument order is unspecified; armhf's GCC moved first).
        bool allowed = hooks_.authenticate(info, password);
        result = decide(std::move(result), allowed);
    }
    return finish(r, std::move(result));
}

LoginResult Security::finish(const LoginRequest& r, LoginResult result, bool throttled) {
    const std::string address = auth::LoginLimiter::key_for(peer_ip(r.peer));
    if (throttled) {
        ++counters_.logins_throttled;
    } else if (r.password && !result.ok) {
        limiter_.record_failure(address, now_ms());  // a wrong password, token, or one the hook refused
    } else if (result.ok && result.authenticated) {
        limiter_.record_success(address);
    }
    if (!result.ok) {
        if (!throttled) ++counters_.logins_failed;
        static log::Throttled throttle;
        throttle.warn("{} login refused for '{}' from {}: {}", r.protocol, printable(r.username, 64), r.peer,
                      result.why);
    }
    return result;
}

bool Security::owned(std::string_view topic) const {
    for (const Reserved& r : reserved_) {
        if (topic.substr(0, r.head) != std::string_view(r.filter).substr(0, r.head)) continue;
        if (r.head == r.filter.size() ? topic.size() == r.head : topic_matches(r.filter, topic)) return true;
    }
    return false;
}

void Security::reserve(std::string filter) {
    for (const Reserved& r : reserved_)
        if (r.filter == filter) return;
    size_t head = std::min(filter.find_first_of("+#"), filter.size());
    // "a/#" matches "a" too: its head is "a".
    if (head < filter.size() && filter[head] == '#' && head > 0) --head;
    if (head == 0) first_bytes_.fill(true);
    else first_bytes_[static_cast<unsigned char>(filter[0])] = true;
    reserved_.push_back(Reserved{std::move(filter), head});
}

bool Security::allows(const ClientInfo& who, Resource resource, std::string_view name, Access access) {
    // A publish to "<command_prefix>/<name>" runs command <name>: the same
    // decision as the command over any other path.
    if (resource == Resource::Topic && access == Access::Publish && !command_prefix_.empty() &&
        name.starts_with(command_prefix_)) {
        resource = Resource::Command;
        name.remove_prefix(command_prefix_.size());
    }
    bool allowed = true;
    std::string acl_topic;
    std::string_view checked = name;
    if (resource == Resource::Queue) checked = acl_topic = queue_acl_topic(name);
    if (resource == Resource::Command) checked = acl_topic = command_prefix_ + std::string(name);
    if (resource != Resource::Session) {
        if (acl_) {
            allowed = acl_->allows(who.authenticated ? who.username : std::string_view(), who.client_id,
                                   checked, acl_access(resource, access));
        } else if (resource == Resource::Topic && access == Access::Publish) {
            allowed = !owned(name);
        }
    } else {
        allowed = false;  // taking over another identity's session: only the hook may allow it
    }
    if (resource == Resource::Session && hooks_.authorize)
        allowed = hooks_.authorize(who, resource, name, access);
    else if (allowed && hooks_.authorize) allowed = hooks_.authorize(who, resource, name, access);
    if (!allowed) {
        switch (resource) {
            case Resource::Command:
                ++counters_.denied_command;
                break;
            case Resource::Session:
                ++counters_.denied_takeover;
                break;
            default:
                ++(access == Access::Publish ? counters_.denied_publish : counters_.denied_subscribe);
        }
    }
    return allowed;
}

bool Security::allows_origin(uint64_t origin, Resource resource, std::string_view name, Access access) {
    auto it = by_origin_.find(origin);
    if (it == by_origin_.end()) return true;
    const Known& k = it->second;
    ClientInfo who{.protocol = k.protocol,
                   .client_id = k.client_id,
                   .username = k.username,
                   .peer = k.peer,
                   .authenticated = k.authenticated};
    return allows(who, resource, name, access);
}

void Security::enter(uint64_t origin, const ClientInfo& who) {
    by_origin_[origin] = Known{std::string(who.username), std::string(who.client_id), std::string(who.peer),
                               std::string(who.protocol), who.authenticated};
}

void Security::leave(uint64_t origin) { by_origin_.erase(origin); }

bool Security::may_read(std::string_view username, bool authenticated, std::string_view client_id,
                        std::string_view topic) {
    if (!acl_) return true;
    if (acl_->allows(authenticated ? username : std::string_view(), client_id, topic, auth::AclAccess::Read))
        return true;
    ++counters_.denied_read;
    return false;
}

bool Security::origin_allowed(std::string_view origin, std::string_view host) const {
    if (origin.empty()) return true;  // not a browser: browsers always send Origin on WebSocket
    for (const std::string& allowed : options_.allowed_origins)
        if (allowed == "*" || equal_ascii_nocase(allowed, origin)) return true;
    // The page's own origin: scheme://<Host>.
    auto scheme_end = origin.find("://");
    if (scheme_end == std::string_view::npos || host.empty()) return false;
    return equal_ascii_nocase(origin.substr(scheme_end + 3), host);
}

std::string Security::exposure() const {
    using A = SecurityOptions::Anonymous;
    std::string who;
    std::vector<std::string> methods;
    if (passwords_)
        methods.push_back(
            fmt::format("password file {} ({} users)", options_.password_file, passwords_->size()));
    if (tokens_) methods.push_back("JWT bearer tokens");
    std::string auth;
    for (auto& m : methods) auth += (auth.empty() ? "" : ", ") + m;
    if (auth.empty()) auth = "no credentials configured";
    switch (options_.allow_anonymous) {
        case A::Local:
            who =
                "anonymous clients from this machine only; anonymous clients from other hosts are refused "
                "(set \"allow_anonymous\": true, or --allow-anonymous true, to let them in)";
            break;
        case A::Yes:
            who = "anonymous clients from ANY host (allow_anonymous true)";
            break;
        case A::No:
            who = "no anonymous clients (allow_anonymous false)";
            break;
    }
    std::string acl = acl_ ? fmt::format("ACL {} ({} rules)", options_.acl_file, acl_->rule_count())
                           : std::string("no ACL (clients may use every topic except the broker's own)");
    return fmt::format("security: {}; {}; {}", auth, who, acl);
}

}  // namespace duplex
