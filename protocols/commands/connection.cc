#include "protocols/commands/connection.h"

#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "base/printable.h"
#include "base/utf8.h"
#include "broker/commands/request.h"
#include "broker/core.h"

#include <fmt/core.h>

namespace duplex::commands {

namespace {
constexpr std::string_view kLogin = "login";
}  // namespace

Connection::Connection(Commands& commands, Core& core, net::Transport& transport)
    : commands_(commands),
      core_(core),
      limits_(core.limits()),
      transport_(transport),
      client_id_(fmt::format("commands-{}", transport.id())),
      last_rx_ms_(now_ms()) {
    log::debug("commands: {} connected (WebSocket, no subprotocol)", transport_.peer());
}

ClientInfo Connection::client_info() const {
    return ClientInfo{.protocol = "commands",
                      .client_id = client_id_,
                      .username = username_,
                      .peer = transport_.peer(),
                      .authenticated = authenticated_};
}

void Connection::on_data(std::span<const uint8_t> bytes, bool text) {
    if (closing_) return;
    on_peer_alive();
    if (message_.empty() && !too_large_) binary_ = !text;
    if (too_large_) return;
    if (message_.size() + bytes.size() > limits_.max_packet_size) {
        too_large_ = true;
        message_.clear();
        message_.shrink_to_fit();
        return;
    }
    message_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

void Connection::on_message_end() {
    if (closing_) return;
    std::string message = std::move(message_);
    message_.clear();
    if (too_large_) {
        too_large_ = false;
        send(commands::json_response("null",
                                     {.ok = false,
                                      .result = "null",
                                      .error = fmt::format("message larger than max_packet_size ({} bytes)",
                                                           limits_.max_packet_size)}));
        return;
    }
    if (binary_) {
        send("error: binary messages are not accepted: send commands as text");
        return;
    }
    handle(std::move(message));
}

void Connection::handle(std::string message) {
    switch (login_) {
        case Login::Done:
            return execute(message);
        case Login::Pending:
            if (waiting_.size() >= kMaxPending) {
                send("error: too many requests while logging in");
                return;
            }
            waiting_.push_back(std::move(message));
            return;
        case Login::None:
            break;
    }
    // The first request: a login, or a command sent as anonymous.
    bool json = commands::looks_like_json(message);
    commands::ParsedRequest req =
        json ? commands::parse_json_request(message) : commands::parse_text_request(message);
    bool explicit_login = req.error.empty() && req.command == kLogin;
    start_login(std::move(message), explicit_login, explicit_login ? std::string_view(req.args) : "null");
}

void Connection::start_login(std::string request, bool explicit_login, std::string_view args) {
    std::string username, password;
    bool has_password = false;
    if (explicit_login) {
        rapidjson::Document doc;
        if (parse_json(args, doc).empty()) {
            auto text = [](const rapidjson::Value& v) {
                return std::string(v.GetString(), v.GetStringLength());
            };
            if (doc.IsString()) {
                password = text(doc);
                has_password = true;
            } else if (doc.IsObject()) {
                auto field = [&](const char* name, std::string& out) {
                    auto it = doc.FindMember(name);
                    if (it == doc.MemberEnd() || !it->value.IsString()) return false;
                    out = text(it->value);
                    return true;
                };
                field("username", username);
                has_password = field("token", password) || field("password", password);
            }
        }
    }
    username_ = username;
    LoginRequest r{.protocol = "commands",
                   .client_id = client_id_,
                   .username = username,
                   .password = has_password ? std::optional<std::string_view>(password) : std::nullopt,
                   .peer = transport_.peer(),
                   .tls_identity = transport_.tls_identity()};
    login_ = Login::Pending;
    auto answer = login_gate_.ask(core_.security(), r, [this, request, explicit_login] {
        if (auto result = login_gate_.take()) logged_in(std::move(*result), request, explicit_login);
    });
    if (answer) logged_in(std::move(*answer), std::move(request), explicit_login);
}

void Connection::logged_in(LoginResult result, std::string request, bool explicit_login) {
    if (closing_) return;
    bool json = commands::looks_like_json(request);
    commands::ParsedRequest req =
        json ? commands::parse_json_request(request) : commands::parse_text_request(request);
    auto respond = [json, id = req.id](const CommandResult& r) {
        return json ? commands::json_response(id, r) : commands::text_response(r);
    };
    if (!result.ok) {
        send(respond({.ok = false,
                      .result = "null",
                      .error = result.bad_credentials ? "login refused: bad username, password or token"
                                                      : "not authorized: log in first (login <token>)"}));
        closing_ = true;
        waiting_.clear();
        transport_.close();
        return;
    }
    login_ = Login::Done;
    username_ = std::move(result.username);
    authenticated_ = result.authenticated;
    credential_expires_ms_ = result.expires_at_ms;
    if (explicit_login)
        send(respond({.ok = true,
                      .result = json_quote(authenticated_ ? username_ : std::string("anonymous")),
                      .error = {}}));
    else execute(request);
    while (!waiting_.empty() && !closing_) {
        std::string next = std::move(waiting_.front());
        waiting_.pop_front();
        execute(next);
    }
}

void Connection::execute(std::string_view message) {
    bool json = commands::looks_like_json(message);
    commands::ParsedRequest req =
        json ? commands::parse_json_request(message) : commands::parse_text_request(message);
    auto respond = [json, id = req.id](const CommandResult& r) {
        return json ? commands::json_response(id, r) : commands::text_response(r);
    };
    if (!req.error.empty()) {
        send(respond({.ok = false, .result = "null", .error = req.error}));
        return;
    }
    if (req.command == kLogin) {
        send(respond({.ok = false, .result = "null", .error = "already logged in"}));
        return;
    }
    if (!core_.security().allows(client_info(), Resource::Command, req.command, Access::Publish)) {
        static log::Throttled throttle;
        throttle.warn("commands: {}: not authorized to run '{}'", transport_.peer(),
                      printable(req.command, 64));
        send(respond({.ok = false, .result = "null", .error = "not authorized"}));
        return;
    }
    if (pending_ >= kMaxPending) {
        send(respond({.ok = false,
                      .result = "null",
                      .error = fmt::format("too many requests in progress (at most {})", kMaxPending)}));
        return;
    }
    ++pending_;
    CommandRequest request{std::move(req.command), std::move(req.args), "ws " + transport_.peer()};
    commands_.execute(std::move(request),
                      [self = std::weak_ptr<Connection*>(self_), respond](const CommandResult& r) {
                          auto alive = self.lock();
                          if (!alive) return;  // the connection closed first
                          Connection& c = **alive;
                          --c.pending_;
                          c.send(respond(r));
                      });
}

void Connection::send(std::string text) {
    if (closing_) return;
    // Every reply goes out as a text frame, which must be valid UTF-8 (RFC
    // 6455 8.1) whatever a handler or an echoed request put in it.
    if (!valid_utf8(text)) text = make_valid_utf8(text);
    out_bytes_ += text.size();
    out_.push_back(std::move(text));
    if (out_bytes_ > limits_.max_queued_bytes) {
        // A client that sends requests and never reads the answers.
        log::warn("commands: {}: {} bytes of replies unread (max_queued_bytes): closing", transport_.peer(),
                  out_bytes_);
        closing_ = true;
        out_.clear();
        out_bytes_ = 0;
        transport_.close();
        return;
    }
    transport_.request_write();
}

bool Connection::on_writable(net::OutBuffer& out, size_t budget) {
    while (!out_.empty() && out.size() < budget) {
        out.message(out_.front(), {}, true);
        out_bytes_ -= out_.front().size();
        out_.pop_front();
    }
    return !out_.empty();
}

void Connection::on_peer_alive() {
    last_rx_ms_ = now_ms();
    pinged_ms_ = 0;
}

// The same bound as MQTT's for a client with keep alive 0 (closed after
// 1.5 x max_keep_alive of silence), but a command client has no keep-alive
// packet to send and a browser cannot send pings: so after max_keep_alive
// seconds of silence we ping, which every WebSocket stack answers without
// its application, and only a peer that does not answer within the other
// half period (so after 1.5 x max_keep_alive of silence) is closed: a half-open TCP connection (the peer
// vanished without a FIN) or a client that neither speaks nor answers cannot hold its slot and memory for
// ever. max_keep_alive 0: no bound, as for MQTT.
void Connection::on_tick(int64_t now) {
    if (closing_) return;
    if (credential_expires_ms_ && now >= credential_expires_ms_) {
        log::info("commands: {}: token expired, closing", transport_.peer());
        send("error: token expired");
        closing_ = true;
        transport_.close();
        return;
    }
    if (limits_.max_keep_alive == 0) return;
    int64_t period = int64_t(limits_.max_keep_alive) * 1000;
    int64_t silent = now - last_rx_ms_;
    // Counted from the ping: ticks come about once a second.
    if (pinged_ms_ && now - pinged_ms_ >= period / 2) {
        log::info("commands: {}: closing: nothing received for {} s, ping unanswered (max_keep_alive {} s)",
                  transport_.peer(), silent / 1000, limits_.max_keep_alive);
        closing_ = true;
        out_.clear();
        out_bytes_ = 0;
        transport_.close();
        return;
    }
    if (silent >= period && !pinged_ms_) {
        pinged_ms_ = now;
        transport_.ping();
    }
}

void Connection::on_closed() {
    self_.reset();
    log::debug("commands: {} disconnected", transport_.peer());
}

}  // namespace duplex::commands
