// Commands over a plain WebSocket (no subprotocol) on the ws port: each
// WebSocket text message is one request, answered by one text message.
// A message starting with '{' is a JSON request with an id (replies may come
// back in any order, correlated by id); anything else is a text command line.
// The formats are in broker/commands/request.h.
#pragma once

#include "duplex/commands.h"
#include "duplex/config.h"
#include "net/transport.h"

#include <deque>
#include <memory>
#include <string>

namespace duplex::commands {

class Connection final : public net::ProtocolHandler {
  public:
    // Requests one connection may have waiting for a handler at once.
    static constexpr size_t kMaxPending = 64;

    Connection(Commands& commands, const Limits& limits, net::Transport& transport);

    void on_data(std::span<const uint8_t> bytes, bool text) override;
    void on_message_end() override;
    bool on_writable(net::OutBuffer& out, size_t budget) override;
    void on_peer_alive() override;
    // The idle bound: a WebSocket ping after max_keep_alive seconds of
    // silence, closed if unanswered for half that (see connection.cc).
    void on_tick(int64_t now_ms) override;
    void on_closed() override;

  private:
    void handle(std::string_view message);
    void send(std::string text);

    Commands& commands_;
    const Limits& limits_;
    net::Transport& transport_;
    std::string message_;     // the WebSocket message being received
    bool binary_ = false;     // it came in binary frames
    bool too_large_ = false;  // it outgrew max_packet_size; dropped
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
