#include "net/websocket_session.h"

#include "base/log.h"
#include "base/printable.h"
#include "net/tcp_connection.h"

namespace duplex::net {

namespace {
// WebSocket subprotocols we speak, and what each selects: the one table of
// them (the refusal below lists it).
struct Subprotocol {
    std::string_view name;
    Protocol protocol;
};
constexpr Subprotocol kSubprotocols[] = {
    {"mqtt", Protocol::Mqtt},       {"mqttv3.1", Protocol::Mqtt},   {"v12.stomp", Protocol::Stomp},
    {"v11.stomp", Protocol::Stomp}, {"v10.stomp", Protocol::Stomp}, {"stomp", Protocol::Stomp},
};

// The first subprotocol of the client's list that we speak, or null.
const Subprotocol* choose(const std::vector<std::string>& offered) {
    for (const std::string& o : offered)
        for (const Subprotocol& s : kSubprotocols)
            if (o == s.name) return &s;
    return nullptr;
}

std::string no_subprotocol_text() {
    std::string text = "no supported subprotocol (";
    for (const Subprotocol& s : kSubprotocols) {
        if (&s != kSubprotocols) text += ", ";
        text += s.name;
    }
    return text + ")";
}
}  // namespace

WebSocketSession::Step WebSocketSession::handshake(std::span<const uint8_t> bytes,
                                                   const MakeHandler& make_handler, size_t max_http_bytes,
                                                   const OriginCheck& origin_allowed) {
    head_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    ws::Handshake h = ws::parse_handshake(head_, max_http_bytes);
    using Status = ws::Handshake::Status;
    switch (h.status) {
        case Status::NeedMore:
            return Step::NeedMore;
        case Status::NotWebSocket:
            if (head_.size() > max_http_bytes) return refuse(431, "request head too large");
            return Step::Http;
        case Status::Bad:
            return refuse(h.http_status, h.error);
        case Status::Upgrade:
            break;
    }
    // Cross-site WebSocket hijacking: a page on another site, opened by a
    // user on the LAN, must not drive the device.
    if (origin_allowed && !origin_allowed(h.origin, h.host))
        return refuse(403,
                      fmt::format("Origin '{}' not allowed (allowed_origins)", printable(h.origin, 128)));
    const Subprotocol* chosen = choose(h.subprotocols);
    if (!h.subprotocols.empty() && !chosen) return refuse(400, no_subprotocol_text());
    // None offered means plain text commands.
    c_.handler = make_handler(chosen ? chosen->protocol : Protocol::Commands, c_);
    if (!c_.handler) return refuse(503, "connection refused");
    c_.mode = TcpConnection::Mode::WebSocket;
    c_.close_at_ms = 0;
    c_.send_raw(ws::response_101(h.key, chosen ? chosen->name : std::string_view()));
    // Frames sent right behind the request head.
    std::string rest = head_.substr(h.head_size);
    std::string().swap(head_);
    if (!rest.empty()) feed(std::span(reinterpret_cast<uint8_t*>(rest.data()), rest.size()));
    return Step::Upgraded;
}

WebSocketSession::Step WebSocketSession::refuse(int http_status, std::string_view why) {
    // Anyone can send upgrades: one line a second at most.
    static log::Throttled throttle;
    throttle.warn("{}: WebSocket upgrade refused ({}): {}", c_.peer(), http_status, why);
    c_.send_raw(ws::response_error(http_status, why));
    c_.close();
    return Step::Refused;
}

void WebSocketSession::feed(std::span<uint8_t> bytes) {
    std::string error;
    if (uint16_t code = decoder_.feed(bytes, *this, error)) {
        log::warn("{}: closing: WebSocket protocol error: {}", c_.peer(), error);
        send_close(code, error);
        c_.close();
    }
}

void WebSocketSession::finish(OutBuffer& out) {
    if (close_frame_sent_) return;
    std::string frame;
    ws::append_close(frame, ws::kCloseNormal);
    out.raw(frame);
    close_frame_sent_ = true;
}

void WebSocketSession::send_close(uint16_t code, std::string_view reason) {
    std::string frame;
    ws::append_close(frame, code, reason);
    close_frame_sent_ = true;
    c_.send_raw(frame);
}

void WebSocketSession::on_data(std::span<const uint8_t> bytes, bool text) {
    if (!c_.close_requested) c_.handler->on_data(bytes, text);
}

void WebSocketSession::on_message_end() {
    if (!c_.close_requested) c_.handler->on_message_end();
}

void WebSocketSession::on_ping(std::span<const uint8_t> payload) {
    std::string pong;
    ws::append_frame(pong, ws::kOpPong,
                     std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()));
    c_.send_raw(pong);
    if (!c_.close_requested) c_.handler->on_peer_alive();
}

void WebSocketSession::on_pong() {
    if (!c_.close_requested) c_.handler->on_peer_alive();
}

void WebSocketSession::ping() {
    std::string frame;
    ws::append_frame(frame, ws::kOpPing, {});
    c_.send_raw(frame);
}

void WebSocketSession::on_close(uint16_t code, std::string_view) {
    // Answer with the same code, then close (RFC 6455 5.5.1); the handler sees
    // an ordinary close (for MQTT without DISCONNECT: an abnormal one).
    if (!close_frame_sent_) send_close(code == 1005 ? uint16_t(ws::kCloseNormal) : code, {});
    c_.close();
}

}  // namespace duplex::net
