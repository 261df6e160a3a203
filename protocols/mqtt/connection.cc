// Connection life cycle: bytes in, packets dispatched, bytes out, close.
#include "protocols/mqtt/connection.h"

#include "base/log.h"
#include "base/printable.h"

#include <algorithm>

namespace duplex::mqtt {

namespace {
// Encoding scratch, one per loop thread rather than one per connection.
std::string& scratch() {
    static thread_local std::string s;
    s.clear();
    return s;
}
}  // namespace

Connection::Connection(Core& core, net::Transport& transport)
    : HeldPublisher(core.backpressure()), core_(core), transport_(transport) {
    opened_ms_ = last_rx_ms_ = now_ms();
}

Connection::~Connection() { detach_session(); }

void Connection::update_reading() {
    bool pause = !closing_ && (held() || control_.over_bound() || login_.pending());
    if (pause == reading_paused_) return;
    reading_paused_ = pause;
    transport_.pause_reading(pause);
    if (pause) return;
    log::debug("client {}: congestion cleared, reading again", name());
    // What we kept unparsed while paused.
    input_.feed({}, [this](std::span<const uint8_t> b) { return parse_one(b); });
}

std::string Connection::name() const {
    // The client id is client text: escaped (a newline in it once forged a log line).
    return fmt::format("{} ({})", client_id_.empty() ? "-" : printable(client_id_, 64), transport_.peer());
}

void Connection::on_data(std::span<const uint8_t> bytes, bool text) {
    if (closing_) return;
    if (text) {
        // MQTT over WebSocket uses binary frames only [MQTT-6.0.0-1].
        fail(Reason::ProtocolError, "WebSocket text frame [MQTT-6.0.0-1]");
        return;
    }
    last_rx_ms_ = now_ms();
    input_.feed(bytes, [this](std::span<const uint8_t> b) { return parse_one(b); });
    // partial_packet_timeout runs from the last complete unit while a started
    // one is incomplete.
    if (input_.pending() == 0) partial_since_ms_ = 0;
    else if (partial_since_ms_ == 0) partial_since_ms_ = last_rx_ms_;
}

long Connection::parse_one(std::span<const uint8_t> bytes) {
    if (closing_) return -1;
    // Held back, or too much output owed: keep the bytes until that clears.
    if (held() || control_.over_bound() || login_.pending()) return 0;
    Packet packet;
    ParseResult r = parse(bytes, version_, core_.limits().max_packet_size, packet);
    switch (r.status) {
        case ParseStatus::NeedMore:
            return 0;
        case ParseStatus::Ok:
            partial_since_ms_ = 0;
            dispatch(packet);
            if (login_.pending()) return 0;  // the CONNECT is parsed again with the answer
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
            // A reason only CONNACK may carry (a second CONNECT of an unknown
            // version) is a protocol error in a DISCONNECT [MQTT-3.14.2-1].
            fail(r.reason == Reason::UnsupportedProtocolVersion ? Reason::ProtocolError : r.reason,
                 r.error ? r.error : "malformed packet");
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
    serialize(packet, version_, control_.open());
    control_.seal();
    if (control_.over_bound()) update_reading();
    transport_.request_write();
}

size_t Connection::send_window() const {
    return std::min<size_t>(core_.limits().max_inflight, client_receive_maximum_);
}

bool Connection::write_publish(net::OutBuffer& out, const Outgoing& o, uint16_t packet_id, bool dup) {
    const Message& m = *o.message;
    // One scratch packet per loop thread: its property vectors keep their
    // capacity, and connections do not each carry a ~700-byte Publish.
    static thread_local Publish p;
    p.qos = o.qos;
    p.retain = o.retain;
    p.dup = dup;
    p.topic = m.topic;
    p.packet_id = packet_id;
    if (version_ == Version::v5) {
        Properties& pr = p.properties;
        pr.payload_format_indicator = m.payload_format;
        pr.message_expiry_interval.reset();
        if (m.expires_at_ms) {
            // Forward the remaining lifetime, rounded up [MQTT-3.3.2-6].
            int64_t left = m.expires_at_ms - now_ms();
            pr.message_expiry_interval = static_cast<uint32_t>(std::max<int64_t>(1, (left + 999) / 1000));
        }
        pr.content_type =
            m.content_type.empty() ? std::nullopt : std::optional<std::string_view>(m.content_type);
        pr.response_topic =
            m.response_topic.empty() ? std::nullopt : std::optional<std::string_view>(m.response_topic);
        pr.correlation_data =
            m.correlation_data ? std::optional<std::string_view>(*m.correlation_data) : std::nullopt;
        pr.user_properties.clear();
        for (auto& [k, v] : m.user_properties) pr.user_properties.push_back(UserProperty{k, v});
        pr.subscription_identifiers.assign(o.subscription_ids.begin(), o.subscription_ids.end());
        pr.topic_alias.reset();
        if (client_topic_alias_maximum_) {
            // Our aliases towards the client: the first topics seen get one
            // each, later publishes on them send the alias alone.
            auto& outgoing = aliases().outgoing;
            auto it = outgoing.find(m.topic);
            if (it != outgoing.end()) {
                pr.topic_alias = it->second;
                p.topic = {};
            } else if (outgoing.size() <
                       std::min(client_topic_alias_maximum_, core_.limits().topic_alias_maximum)) {
                // At most topic_alias_maximum of ours too: a client announcing
                // 65,535 aliases once made us keep 21 MiB of topics for it.
                uint16_t alias = static_cast<uint16_t>(outgoing.size() + 1);
                outgoing.emplace(m.topic, alias);
                pr.topic_alias = alias;
            }
        }
        if (client_maximum_packet_size_ &&
            publish_size(p, version_, m.payload.size()) > client_maximum_packet_size_) {
            // Too big for the client: dropped as if sent [MQTT-3.1.2-25].
            log::debug("client {}: message on {} exceeds its Maximum Packet Size, dropped", name(), m.topic);
            if (pr.topic_alias && !p.topic.empty()) aliases().outgoing.erase(m.topic);
            return false;
        }
    }
    std::string& head = scratch();
    serialize_publish_head(p, version_, m.payload.size(), head);
    out.message(head, m.payload);
    return true;
}

bool Connection::on_writable(net::OutBuffer& out, size_t budget) {
    bool released = take_resume();
    control_.drain([&](std::string_view packet) { out.message(packet); });
    if (released || reading_paused_) update_reading();
    if (closing_ || !session_) return false;

    Session& s = *session_;
    if (resend_inflight_) {
        // Reconnected persistent session: resend unacknowledged messages in their
        // original order, PUBLISH with DUP, or PUBREL [MQTT-4.4.0-1].
        resend_inflight_ = false;
        s.for_each_to_resend([&](const InFlight& f) {
            if (f.state == InFlight::State::WaitPubcomp) {
                std::string& pubrel = scratch();
                serialize(ack(PacketType::Pubrel, f.packet_id), version_, pubrel);
                out.message(pubrel);
            } else {
                write_publish(out, f.out, f.packet_id, f.dup);
            }
        });
    }
    const size_t window = send_window();
    const int64_t now = now_ms();
    uint16_t packet_id = 0;
    while (out.size() < budget) {
        const Outgoing* o = s.next_to_send(window, now, packet_id);
        if (!o) break;
        s.sent(write_publish(out, *o, packet_id, false), packet_id);
    }
    return s.has_sendable(window);
}

void Connection::session_has_output() {
    if (session_ && session_->queued()) transport_.request_write();
}

void Connection::on_tick(int64_t now) {
    if (closing_) return;
    if (!connected_) {
        if (now - opened_ms_ > int64_t(core_.limits().connect_timeout) * 1000)
            fail(Reason::MaximumConnectTime, "no CONNECT within connect_timeout");
        return;
    }
    // Keep alive: close after one and a half keep-alive periods of silence
    // [MQTT-3.1.2-24]; not while we are the ones not reading.
    if (reading_paused_) last_rx_ms_ = now, partial_since_ms_ = partial_since_ms_ ? now : 0;
    // A client that makes us owe it control output (acks, receipts) and does
    // not read it is not read either; after slow_consumer_timeout it goes.
    if (!control_.over_bound()) backlog_since_ms_ = 0;
    else if (!backlog_since_ms_) backlog_since_ms_ = now;
    else if (int t = core_.limits().slow_consumer_timeout; t && now - backlog_since_ms_ > int64_t(t) * 1000) {
        std::string why = fmt::format("{} bytes of replies unread for {} s", control_.size(), t);
        fail(Reason::QuotaExceeded, why);
        return;
    }
    if (partial_since_ms_ &&
        now - partial_since_ms_ > int64_t(core_.limits().partial_packet_timeout) * 1000) {
        fail(Reason::ProtocolError,
             fmt::format("a packet left incomplete for more than partial_packet_timeout ({} s)",
                         core_.limits().partial_packet_timeout));
        return;
    }
    if (credential_expires_ms_ && now >= credential_expires_ms_) {
        fail(Reason::NotAuthorized, "token expired");
        return;
    }
    if (keep_alive_ && now - last_rx_ms_ > int64_t(keep_alive_) * 1500) {
        fail(Reason::KeepAliveTimeout, fmt::format("keep alive timeout ({} s)", keep_alive_));
        return;
    }
    if (session_ && slow_consumer(now)) return;
    // A queue that emptied gives its storage back: after a broadcast, 100k idle
    // subscribers would otherwise each keep a deque block (~600 bytes).
    if (session_) session_->compact();
}

bool Connection::slow_consumer(int64_t now) {
    int timeout = core_.limits().slow_consumer_timeout;
    int64_t since = session_->congested_since_ms();
    if (!timeout || !since || now - since < int64_t(timeout) * 1000) return false;
    // Congested for too long: first its QoS 0 messages go (counted); if that
    // does not drain it, it is cut off so its publishers can go on (its
    // persistent session keeps what fits the offline limits).
    size_t dropped = session_->drop_queued_qos0();
    if (!session_->congested()) {
        log::warn("client {}: slow consumer: {} QoS 0 messages dropped after {} s congested", name(), dropped,
                  timeout);
        return false;
    }
    fail(Reason::QuotaExceeded,
         fmt::format("slow consumer: congested for {} s ({} messages queued, {} QoS 0 dropped)", timeout,
                     session_->queued(), dropped));
    return true;
}

void Connection::fail(Reason reason, std::string_view why) {
    if (closing_) return;
    log::warn("client {}: closing: {} (reason 0x{:02x})", name(), why, uint8_t(reason));
    if (connected_ && version_ == Version::v5) {
        Disconnect d;
        d.reason_code = uint8_t(reason);
        // Reason strings only for clients that did not opt out [MQTT-3.1.2-29],
        // and only if the packet still fits the client's Maximum Packet Size
        // [MQTT-3.1.2-24]: otherwise the DISCONNECT goes without it.
        std::string text(why);
        if (problem_information_) d.properties.reason_string = text;
        if (client_maximum_packet_size_ && d.properties.reason_string) {
            std::string& encoded = scratch();
            serialize(d, version_, encoded);
            if (encoded.size() > client_maximum_packet_size_) d.properties.reason_string.reset();
        }
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
    if (connected_) {
        log::info("client {} disconnected: {}", name(), why);
        core_.client_disconnected(client_info());
    }
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
        core_.client_disconnected(client_info());
        publish_will();
    }
    closing_ = true;
    will_.reset();
    detach_session();
}

void Connection::publish_will() {
    if (!will_) return;
    std::unique_ptr<Will> w = std::move(will_);
    int64_t now = now_ms();
    MessagePtr will = make_message(std::move(w->fields), w->expiry, now);
    // Allowed at CONNECT; asked again now, as the ACL may have been reloaded since.
    if (!core_.security().allows(client_info(), Resource::Topic, will->topic, Access::Publish)) {
        log::warn("client {}: will on {} not published: not authorized", name(), printable(will->topic, 64));
        return;
    }
    // MQTT 5 Will Delay: published when the delay or the session ends,
    // whichever is first, unless the client reconnects [MQTT-3.1.3-9].
    if (w->delay && session_ && session_->persistent()) {
        uint32_t delay = std::min(w->delay, session_->expiry_interval());
        log::info("client {}: will on {} delayed {} s", name(), will->topic, delay);
        core_.delay_will(client_id_, std::move(will), now + int64_t(delay) * 1000);
        return;
    }
    log::info("client {}: publishing will on {}", name(), will->topic);
    core_.publish(will);
}

void Connection::detach_session() {
    if (!session_) return;
    Session* s = session_;
    core_.security().leave(s->origin_id());
    session_ = nullptr;
    if (!s->persistent()) {
        core_.remove_session(s->client_id());
        return;
    }
    s->go_offline(now_ms());
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
    // A new connection to the session exists at once, so a delayed will is
    // never due; an undelayed one is published as for any abnormal close.
    if (will_ && will_->delay == 0) publish_will();
    will_.reset();
    closing_ = true;
    transport_.close();
}

}  // namespace duplex::mqtt
