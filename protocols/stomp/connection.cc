// Connection life cycle: bytes in, frames dispatched, frames out, heart-beats,
// errors and close.
#include "protocols/stomp/connection.h"

#include "base/log.h"
#include "base/printable.h"
#include "base/utf8.h"

#include <algorithm>
#include <cstring>

namespace duplex::stomp {

namespace {

// The largest header block we accept on top of the body limit:
// guards the reassembly buffer while a frame is still incomplete.
constexpr size_t kHeaderAllowance = 64 * 1024;

}  // namespace

Connection::Connection(Core& core, net::Transport& transport)
    : HeldPublisher(core.backpressure()),
      core_(core),
      transport_(transport),
      outbox_(core.limits(), &core.backpressure()) {
    opened_ms_ = last_rx_ms_ = last_tx_ms_ = now_ms();
}

Connection::~Connection() { cleanup(); }

std::string Connection::name() const {
    return fmt::format("{} ({})", session_.empty() ? "stomp" : session_, transport_.peer());
}

void Connection::on_data(std::span<const uint8_t> bytes, bool text) {
    (void)text;  // STOMP frames may arrive in text or binary WebSocket messages
    if (closing_) return;
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
    if (held() || control_.over_bound() || login_gate_.pending()) return 0;
    // Every frame ends with a NUL: bytes added since the last NeedMore that
    // hold none cannot complete it, so the frame is not parsed again from
    // its start (a frame split into many small WebSocket messages once cost
    // ~0.7 CPU-s per MB that way). Only the new bytes are scanned.
    if (scanned_ && bytes.size() >= scanned_ &&
        !std::memchr(bytes.data() + scanned_, 0, bytes.size() - scanned_)) {
        scanned_ = bytes.size();
        if (bytes.size() > core_.limits().max_packet_size + kHeaderAllowance) {
            fail(fmt::format("frame larger than max_packet_size {}", core_.limits().max_packet_size));
            return -1;
        }
        return 0;
    }
    scanned_ = 0;
    Limits limits;
    limits.max_body = core_.limits().max_packet_size;
    Frame frame;
    ParseResult r = parse(bytes, version_, limits, frame);
    switch (r.status) {
        case ParseStatus::NeedMore:
            if (bytes.size() > core_.limits().max_packet_size + kHeaderAllowance) {
                fail(fmt::format("frame larger than max_packet_size {}", core_.limits().max_packet_size));
                return -1;
            }
            scanned_ = bytes.size();
            return 0;
        case ParseStatus::Heartbeat:
            partial_since_ms_ = 0;
            return static_cast<long>(r.consumed);
        case ParseStatus::Ok:
            partial_since_ms_ = 0;
            dispatch(frame);
            if (login_gate_.pending()) return 0;  // the CONNECT is parsed again with the answer
            return closing_ ? -1 : static_cast<long>(r.consumed);
        default:
            fail(r.error ? r.error : "malformed frame");
            return -1;
    }
}

void Connection::dispatch(Frame& f) {
    const std::string& c = f.command;
    // STOMP frames are UTF-8 (and headers cannot carry NUL): refused here, at
    // the way in, because headers travel on as MQTT topics and properties,
    // where invalid text breaks the receiving client [MQTT-1.5.4-1/2].
    for (const Header& h : f.headers) {
        if (valid_utf8(h.name, false) && valid_utf8(h.value, false)) continue;
        // No receipt-id echoed: it may be the offending header.
        return fail("header is not valid UTF-8 (or contains NUL)", nullptr, printable(h.name, 64));
    }
    if (!connected_) {
        if (c == "CONNECT" || c == "STOMP") return handle_connect(f);
        return fail("expected CONNECT or STOMP frame first", &f, fmt::format("got {}", c));
    }
    if (c == "SEND") return handle_send(f);
    if (c == "SUBSCRIBE") return handle_subscribe(f);
    if (c == "UNSUBSCRIBE") return handle_unsubscribe(f);
    if (c == "ACK") return handle_ack(f, true);
    if (c == "NACK") {
        if (version_ == Version::v10) return fail("NACK is not a STOMP 1.0 frame", &f);
        return handle_ack(f, false);
    }
    if (c == "BEGIN") return handle_begin(f);
    if (c == "COMMIT") return handle_commit(f);
    if (c == "ABORT") return handle_abort(f);
    if (c == "DISCONNECT") return handle_disconnect(f);
    if (c == "CONNECT" || c == "STOMP") return fail("already connected", &f);
    fail("unknown command", &f, c);
}

// --- output ------------------------------------------------------------------

void Connection::send_frame(std::string_view command, std::span<const Header> headers,
                            std::string_view body) {
    serialize(command, headers, body, version_, control_.open());
    control_.seal();
    if (control_.over_bound()) update_reading();
    transport_.request_write();
}

void Connection::update_reading() {
    bool pause = !closing_ && (held() || control_.over_bound() || login_gate_.pending());
    if (pause == reading_paused_) return;
    reading_paused_ = pause;
    transport_.pause_reading(pause);
    if (!pause) input_.feed({}, [this](std::span<const uint8_t> b) { return parse_one(b); });
}

void Connection::send_receipt(const Frame& f) {
    const std::string* r = f.header("receipt");
    if (!r) return;
    Header h{"receipt-id", *r};
    send_frame("RECEIPT", std::span(&h, 1));
}

void Connection::subscription_has_output() {
    if (!closing_) transport_.request_write();
}

void Connection::note_dropped(std::string_view topic) {
    // At most one line a second, with the count, not one per message.
    static log::Throttled throttle;
    throttle.warn(
        "stomp {}: output queue full ({} messages, {} bytes): dropping messages ({} dropped, on {})", name(),
        outbox_.messages(), outbox_.bytes(), outbox_.dropped(), printable(topic, 64));
}

std::string Connection::queue_key_of(const Destination& d) const {
    return d.kind == Destination::Kind::TempQueue ? temp_queue_key(token_, d.name) : queue_key(d.name);
}

bool Connection::on_writable(net::OutBuffer& out, size_t budget) {
    bool released = take_resume();
    control_.drain(
        [&](std::string_view frame) { out.message(frame, {}, out.websocket() && valid_utf8(frame)); });
    if (released || reading_paused_) update_reading();
    if (closing_) {
        if (!out.empty()) last_tx_ms_ = now_ms();
        return false;
    }

    // Round robin over subscriptions: one message from each per pass.
    std::vector<Subscription*> drained;  // queue consumers that gained room
    bool wrote = true;
    while (wrote && out.size() < budget) {
        wrote = false;
        for (auto& [id, sp] : subscriptions_) {
            Subscription& s = *sp;
            if (s.retained) s.refill_retained();
            if (s.pending.empty() || !s.may_send()) continue;
            Outgoing p = s.pending.pop_front();
            uint64_t ack_id = ++last_ack_id_;
            if (write_message(out, s, p, ack_id) && s.ack != AckMode::Auto)
                s.unacked.emplace(ack_id, std::move(p));
            if (s.destination.is_queue() && std::find(drained.begin(), drained.end(), &s) == drained.end())
                drained.push_back(&s);
            wrote = true;
            if (out.size() >= budget) break;
        }
    }
    if (!out.empty()) last_tx_ms_ = now_ms();
    // Queue consumers with room pull the next messages (lazily, into pending).
    for (Subscription* s : drained)
        if (Queue* q = core_.queues().find(queue_key_of(s->destination))) q->dispatch();
    for (auto& [id, s] : subscriptions_) {
        if (s->retained) s->refill_retained();
        if (!s->pending.empty() && s->may_send()) return true;
    }
    return false;
}

// --- heart-beats and timeouts ------------------------------------------------------

void Connection::on_tick(int64_t now) {
    if (closing_) return;
    if (!connected_) {
        if (now - opened_ms_ > int64_t(core_.limits().connect_timeout) * 1000)
            fail("no CONNECT frame within connect_timeout");
        return;
    }
    if (credential_expires_ms_ && now >= credential_expires_ms_) {
        fail("token expired");
        return;
    }
    // Not while we are the ones not reading.
    if (reading_paused_) last_rx_ms_ = now, partial_since_ms_ = partial_since_ms_ ? now : 0;
    // A client that makes us owe it control output (acks, receipts) and does
    // not read it is not read either; after slow_consumer_timeout it goes.
    if (!control_.over_bound()) backlog_since_ms_ = 0;
    else if (!backlog_since_ms_) backlog_since_ms_ = now;
    else if (int t = core_.limits().slow_consumer_timeout; t && now - backlog_since_ms_ > int64_t(t) * 1000) {
        std::string why = fmt::format("{} bytes of replies unread for {} s", control_.size(), t);
        fail(why);
        return;
    }
    if (partial_since_ms_ &&
        now - partial_since_ms_ > int64_t(core_.limits().partial_packet_timeout) * 1000) {
        fail(fmt::format("a frame left incomplete for more than partial_packet_timeout ({} s)",
                         core_.limits().partial_packet_timeout));
        return;
    }
    // Grace: half an interval more, plus a tick for our 1 s granularity.
    if (rx_interval_ms_ && now - last_rx_ms_ > rx_interval_ms_ + rx_interval_ms_ / 2 + 1000) {
        fail(fmt::format("heart-beat timeout: nothing received for {} ms (interval {} ms)", now - last_rx_ms_,
                         rx_interval_ms_));
        return;
    }
    // slow_consumer_timeout (see Limits): QoS 0 first, then the connection.
    int timeout = core_.limits().slow_consumer_timeout;
    if (int64_t since = outbox_.congested_since_ms();
        timeout && since && now - since >= int64_t(timeout) * 1000) {
        uint64_t before = outbox_.dropped();
        outbox_.drop_qos0();
        if (outbox_.congested()) {
            fail(fmt::format("slow consumer: congested for {} s ({} messages queued)", timeout,
                             outbox_.messages()));
            return;
        }
        log::warn("stomp {}: slow consumer: {} non-persistent messages dropped after {} s congested", name(),
                  outbox_.dropped() - before, timeout);
    }
    // Ticks come about once a second: send when the next tick would be late.
    if (tx_interval_ms_ && now - last_tx_ms_ + 1000 > tx_interval_ms_ && control_.empty()) {
        control_.open().push_back('\n');
        control_.seal();
        transport_.request_write();
    }
}

// --- errors and close --------------------------------------------------------

void Connection::fail(std::string_view message, const Frame* frame, std::string_view detail) {
    if (closing_) return;
    log::warn("stomp {}: closing: {}{}{}", name(), message, detail.empty() ? "" : ": ", detail);
    std::vector<Header> h;
    h.push_back({"message", std::string(message)});
    if (frame)
        if (const std::string* r = frame->header("receipt")) h.push_back({"receipt-id", *r});
    std::string body;
    if (frame) body = fmt::format("{}{}{}\n", message, detail.empty() ? "" : ": ", detail);
    else if (!detail.empty()) body = fmt::format("{}: {}\n", message, detail);
    h.push_back({"content-type", "text/plain"});
    h.push_back({"content-length", std::to_string(body.size())});
    send_frame("ERROR", h, body);
    close(message);
}

void Connection::close(std::string_view why) {
    if (closing_) return;
    if (connected_) log::info("stomp {} disconnected: {}", name(), why);
    cleanup();
    closing_ = true;
    transport_.close();
}

void Connection::on_closed() {
    if (!closing_ && connected_) log::info("stomp {} connection lost", name());
    closing_ = true;
    cleanup();
}

void Connection::cleanup() {
    if (cleaned_) return;
    cleaned_ = true;
    if (origin_) core_.security().leave(origin_);
    // Nobody reads our output any more: we hold no publisher back.
    outbox_.set_live(false);
    // Open transactions abort; unacknowledged queue messages go back to their
    // queue for another consumer.
    transactions_.clear();
    tx_bytes_ = 0;
    for (auto& [id, s] : subscriptions_) end_subscription(*s);
    subscriptions_.clear();
    for (const std::string& key : temp_queues_) core_.queues().release(key, true);
    temp_queues_.clear();
    if (connected_) {
        core_.client_disconnected(client_info());  // the same identity as at connect
    }
}

}  // namespace duplex::stomp
