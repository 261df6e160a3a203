#include "protocols/commands/connection.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/utf8.h"
#include "broker/commands/request.h"

namespace duplex::commands {

Connection::Connection(Commands& commands, const Limits& limits, net::Transport& transport)
    : commands_(commands), limits_(limits), transport_(transport), last_rx_ms_(now_ms()) {
    log::debug("commands: {} connected (WebSocket, no subprotocol)", transport_.peer());
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
    handle(message);
}

void Connection::handle(std::string_view message) {
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
    if (closing_ || limits_.max_keep_alive == 0) return;
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
