// Commands over a plain WebSocket (no subprotocol) on the ws port: each
// WebSocket text message is one request, answered by one text message.
// A message starting with '{' is a JSON request with an id (replies may come
// back in any order, correlated by id); anything else is a text command line.
// The formats are in broker/commands/request.h.
//
// Identity: the first request may be the reserved command `login`, whose
// args are a token (a JSON string: `login eyJ...`) or an object
// {"username": ..., "password": ...} / {"token": ...}. A connection whose
// first request is anything else logs in as anonymous, which the anonymous
// policy may refuse (then the request is answered with an error and the
// connection closed). Every command is then authorized as a write to
// "<command_prefix>/<name>" (broker/security.h), whatever path it came by.
#pragma once

#include "broker/login_gate.h"
#include "duplex/commands.h"
#include "duplex/config.h"
#include "net/transport.h"

#include <deque>
#include <memory>
#include <string>

namespace duplex {
class Core;
}

namespace duplex::commands {

class Connection final : public net::ProtocolHandler {
  public:
    // Requests one connection may have waiting for a handler at once.
    static constexpr size_t kMaxPending = 64;

    Connection(Commands& commands, Core& core, net::Transport& transport);

    void on_data(std::span<const uint8_t> bytes, bool text) override;
    void on_message_end() override;
    bool on_writable(net::OutBuffer& out, size_t budget) override;
    void on_peer_alive() override;
    // The idle bound: a WebSocket ping after max_keep_alive seconds of
    // silence, closed if unanswered for half that (see connection.cc).
    void on_tick(int64_t now_ms) override;
    void on_closed() override;

  private:
    void handle(std::string message);
    // The login request (or the implicit anonymous login of a first request
    // that is not one); `request` is answered once the login is decided.
    void start_login(std::string request, bool explicit_login, std::string_view args);
    void logged_in(LoginResult result, std::string request, bool explicit_login);
    void execute(std::string_view message);
    void send(std::string text);
    ClientInfo client_info() const;

    Commands& commands_;
    Core& core_;
    const Limits& limits_;
    net::Transport& transport_;
    enum class Login : uint8_t { None, Pending, Done } login_ = Login::None;
    LoginGate login_gate_;   // Security's answer, kept until logged_in() takes it
    std::string client_id_;  // "commands-<connection id>", for hooks and logs
    std::string username_;
    bool authenticated_ = false;
    int64_t credential_expires_ms_ = 0;  // a token's expiry: closed then; 0 = never
    std::deque<std::string> waiting_;    // requests that came while the login was pending
    std::string message_;                // the WebSocket message being received
    bool binary_ = false;                // it came in binary frames
    bool too_large_ = false;             // it outgrew max_packet_size; dropped
    bool closing_ = false;
    size_t pending_ = 0;  // requests waiting for their handler
    std::deque<std::string> out_;
    size_t out_bytes_ = 0;
    int64_t last_rx_ms_ = 0;  // data, ping or pong from the peer
    int64_t pinged_ms_ = 0;   // when a ping of ours went unanswered; 0 = none
    // Replies completing after the connection is gone find this expired.
    std::shared_ptr<Connection*> self_ = std::make_shared<Connection*>(this);
};

}  // namespace duplex::commands
