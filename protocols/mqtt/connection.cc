// Connection life cycle: bytes in, packets dispatched, bytes out, close.
#include "protocols/mqtt/connection.h"

#include "broker/log.h"

#include <algorithm>

namespace duplex::mqtt {

Connection::Connection(Core& core, net::Transport& transport)
    : core_(core), transport_(transport) {
    opened_ms_ = last_rx_ms_ = Core::now_ms();
}

Connection::~Connection() { detach_session(); }

std::string Connection::name() const {
    return fmt::format("{} ({})", client_id_.empty() ? "-" : client_id_, transport_.peer());
}

void Connection::on_data(std::span<const uint8_t> bytes, bool text) {
    if (closing_) return;
    if (text) {
        // MQTT over WebSocket uses binary frames only [MQTT-6.0.0-1].
        fail(Reason::ProtocolError, "WebSocket text frame [MQTT-6.0.0-1]");
        return;
    }
    last_rx_ms_ = Core::now_ms();
    input_.feed(bytes, [this](std::span<const uint8_t> b) { return parse_one(b); });
}

long Connection::parse_one(std::span<const uint8_t> bytes) {
    if (closing_) return -1;
    Packet packet;
    ParseResult r = parse(bytes, version_, core_.limits().max_packet_size, packet);
    switch (r.status) {
        case ParseStatus::NeedMore:
            return 0;
        case ParseStatus::Ok:
            dispatch(packet);
            return closing_ ? -1 : static_cast<long>(r.consumed);
        case ParseStatus::TooLarge:
            fail(Reason::PacketTooLarge,
                 fmt::format("packet larger than max_packet_size {}", core_.limits().max_packet_size));
            return -1;
        default:
            if (!connected_ && r.reason == Reason::UnsupportedProtocolVersion) {
                refuse_connect(version_ == Version::v5 ? uint8_t(Reason::UnsupportedProtocolVersion) : 1,
                               r.error ? r.error : "unsupported protocol version");
                return -1;
            }
            fail(r.reason, r.error ? r.error : "malformed packet");
            return -1;
    }
}

void Connection::dispatch(Packet& packet) {
    if (!connected_ && !std::holds_alternative<Connect>(packet)) {
        fail(Reason::ProtocolError, "first packet is not CONNECT [MQTT-3.1.0-1]");
        return;
    }
    std::visit(
        [this](auto& p) {
            using P = std::decay_t<decltype(p)>;
            if constexpr (std::is_same_v<P, Connect>) {
                handle_connect(p);
            } else if constexpr (std::is_same_v<P, Publish>) {
                handle_publish(p);
            } else if constexpr (std::is_same_v<P, Ack>) {
                handle_ack(p);
            } else if constexpr (std::is_same_v<P, Subscribe>) {
                handle_subscribe(p);
            } else if constexpr (std::is_same_v<P, Unsubscribe>) {
                handle_unsubscribe(p);
            } else if constexpr (std::is_same_v<P, Pingreq>) {
                send(Pingresp{});
            } else if constexpr (std::is_same_v<P, Disconnect>) {
                handle_disconnect(p);
            } else if constexpr (std::is_same_v<P, Auth>) {
                // Enhanced authentication is not offered; an AUTH packet without an
                // Authentication Method in CONNECT is a protocol error [MQTT-4.12.0-1].
                fail(Reason::ProtocolError, "AUTH without enhanced authentication");
            } else {
                // CONNACK, SUBACK, UNSUBACK, PINGRESP only travel server -> client.
                fail(Reason::ProtocolError, "server-to-client packet sent by client");
            }
        },
        packet);
}

void Connection::send(const Packet& packet) {
    serialize(packet, version_, control_);
    control_ends_.push_back(static_cast<uint32_t>(control_.size()));
    transport_.request_write();
}

size_t Connection::send_window() const { return core_.limits().max_inflight; }

void Connection::write_publish(net::OutBuffer& out, const Outbound& o) {
    Publish p;
    p.qos = o.qos;
    p.retain = o.retain;
    p.dup = o.dup;
    p.topic = o.message->topic;
    p.packet_id = o.packet_id;
    scratch_.clear();
    serialize_publish_head(p, version_, o.message->payload.size(), scratch_);
    out.message(scratch_, o.message->payload);
}

bool Connection::on_writable(net::OutBuffer& out, size_t budget) {
    size_t start = 0;
    for (uint32_t end : control_ends_) {
        out.message(std::string_view(control_).substr(start, end - start));
        start = end;
    }
    control_.clear();
    control_ends_.clear();
    if (closing_ || !session_) return false;

    Session& s = *session_;
    if (resend_inflight_) {
        // Reconnected persistent session: resend unacknowledged messages in their
        // original order, PUBLISH with DUP, or PUBREL [MQTT-4.4.0-1].
        resend_inflight_ = false;
        for (Outbound& o : s.inflight) {
            if (o.state == Outbound::State::WaitPubcomp) {
                scratch_.clear();
                serialize(ack(PacketType::Pubrel, o.packet_id), version_, scratch_);
                out.message(scratch_);
            } else {
                o.dup = true;
                write_publish(out, o);
            }
        }
    }
    int64_t now = 0;
    while (!s.queue.empty() && out.size() < budget) {
        Outbound& o = s.queue.front();
        if (o.message->expires_at_ms) {
            if (!now) now = Core::now_ms();
            if (o.message->expires_at_ms <= now) {
                s.on_dequeued(o);
                s.queue.pop_front();
                continue;
            }
        }
        if (o.qos > 0 && s.inflight.size() >= send_window()) break;
        s.on_dequeued(o);
        if (o.qos > 0) {
            o.packet_id = s.next_packet_id();
            o.state = o.qos == 1 ? Outbound::State::WaitPuback : Outbound::State::WaitPubrec;
            write_publish(out, o);
            s.inflight.push_back(std::move(o));
        } else {
            write_publish(out, o);
        }
        s.queue.pop_front();
    }
    if (s.queue.empty()) return false;
    return s.queue.front().qos == 0 || s.inflight.size() < send_window();
}

void Connection::session_has_output() {
    if (session_ && !session_->queue.empty()) transport_.request_write();
}

void Connection::on_tick(int64_t now) {
    if (closing_) return;
    if (!connected_) {
        if (now - opened_ms_ > int64_t(core_.limits().connect_timeout) * 1000)
            fail(Reason::MaximumConnectTime, "no CONNECT within connect_timeout");
        return;
    }
    // Keep alive: close after one and a half keep-alive periods of silence [MQTT-3.1.2-24].
    if (keep_alive_ && now - last_rx_ms_ > int64_t(keep_alive_) * 1500)
        fail(Reason::KeepAliveTimeout, fmt::format("keep alive timeout ({} s)", keep_alive_));
}

void Connection::fail(Reason reason, std::string_view why) {
    if (closing_) return;
    log::warn("client {}: closing: {} (reason 0x{:02x})", name(), why, uint8_t(reason));
    if (connected_ && version_ == Version::v5) {
        Disconnect d;
        d.reason_code = uint8_t(reason);
        send(d);
    }
    close(false, why);
}

void Connection::refuse_connect(uint8_t code, const char* why) {
    log::warn("client {}: CONNECT refused: {} (code 0x{:02x})", name(), why, code);
    Connack c;
    c.reason_code = code;
    send(c);
    closing_ = true;
    transport_.close();
}

void Connection::close(bool clean, std::string_view why) {
    if (closing_) return;
    if (connected_) log::info("client {} disconnected: {}", name(), why);
    if (!clean) publish_will();
    will_.reset();
    detach_session();
    closing_ = true;
    transport_.close();
}

void Connection::on_closed() {
    if (!closing_ && connected_) {
        // The peer went away without DISCONNECT: an abnormal close, the will is
        // published [MQTT-3.1.2-8].
        log::info("client {} connection lost", name());
        publish_will();
    }
    closing_ = true;
    will_.reset();
    detach_session();
}

void Connection::publish_will() {
    if (!will_) return;
    log::info("client {}: publishing will on {}", name(), will_->topic);
    MessagePtr will = std::move(will_);
    core_.publish(will);
}

void Connection::detach_session() {
    if (!session_) return;
    Session* s = session_;
    session_ = nullptr;
    s->attach(nullptr);
    if (!s->persistent) {
        core_.remove_session(s->client_id());
        return;
    }
    s->disconnected_at_ms = Core::now_ms();
    // QoS 0 messages are not kept for an offline client.
    std::erase_if(s->queue, [&](const Outbound& o) {
        if (o.qos != 0) return false;
        s->on_dequeued(o);
        return true;
    });
}

void Connection::session_taken_over() {
    // The new connection owns the session now [MQTT-3.1.4-3]: close ours,
    // publishing our will as for any non-DISCONNECT close.
    session_ = nullptr;
    if (version_ == Version::v5) {
        Disconnect d;
        d.reason_code = uint8_t(Reason::SessionTakenOver);
        send(d);
    }
    log::info("client {}: session taken over by a new connection", name());
    publish_will();
    will_.reset();
    closing_ = true;
    transport_.close();
}

}  // namespace duplex::mqtt
