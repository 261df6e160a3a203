#include "broker/session.h"

#include "broker/security.h"

#include "base/log.h"
#include "base/printable.h"
#include "broker/router.h"
#include "duplex/config.h"

#include <algorithm>

namespace duplex {

Session::Session(std::string client_id, const Limits& limits, Backpressure* backpressure,
                 size_t* persistent_count)
    : client_id_(std::move(client_id)), persistent_count_(persistent_count), outbox_(limits, backpressure) {}

bool Session::expired(int64_t now_ms) const {
    if (output_ || disconnected_at_ms_ == 0 || expiry_interval_ == UINT32_MAX) return false;
    return now_ms - disconnected_at_ms_ >= int64_t(expiry_interval_) * 1000;
}

void Session::go_online(SessionOutput* output) {
    output_ = output;
    disconnected_at_ms_ = 0;
    outbox_.set_live(true);
}

void Session::go_offline(int64_t now_ms) {
    output_ = nullptr;
    disconnected_at_ms_ = now_ms;
    // An offline session holds nobody back: it drops at its limit instead.
    outbox_.set_live(false);
    outbox_.drop_qos0();
    // Nor are retained messages that would arrive as QoS 0.
    retained_.erase_if([](RetainedBacklog& b) {
        if (b.options.qos == 0) return true;
        b.cursor->remove_if([](const MessagePtr& m) { return m->qos == 0; });
        return b.cursor->done();
    });
    retained_.shrink();
    if (size_t trimmed = outbox_.trim_to_limits())
        log::warn("client {}: offline with {} messages over the queue limits: dropped",
                  printable(client_id_, 64), trimmed);
    compact();
}

bool Session::add_subscription(const std::string& filter, const SubOptions& options) {
    bool is_new = !subscriptions_.count(filter);
    subscriptions_.insert_or_assign(filter, options);
    return is_new;
}

bool Session::remove_subscription(std::string_view filter) {
    auto it = subscriptions_.find(filter);
    if (it == subscriptions_.end()) return false;
    subscriptions_.erase(it);
    // No new messages for a filter unsubscribed [MQTT-3.10.4-2].
    retained_.erase_if([&](const RetainedBacklog& b) { return b.filter == filter; });
    retained_.shrink();
    return true;
}

void Session::send_retained(Router& router, const std::string& filter, const SubOptions& options,
                            int64_t now_ms) {
    retained_.erase_if([&](const RetainedBacklog& b) { return b.filter == filter; });
    size_t cap = outbox_.limits().max_retained_messages;
    size_t waiting = retained_pending();
    cap = waiting < cap ? cap - waiting : 0;
    size_t refused = 0;
    std::unique_ptr<RetainedCursor> cursor = RetainedCursor::collect(
        router, filter, now_ms,
        [&](const MessagePtr& m) {
            if (!outbox_.has_room_for_backlog(m->payload.size())) return false;
            queue_retained(options, m);
            return true;
        },
        cap, refused);
    if (refused)
        log::warn(
            "client {}: {} retained messages for {} not sent: more than max_retained_messages ({}) waiting",
            printable(client_id_, 64), refused, printable(filter, 64),
            outbox_.limits().max_retained_messages);
    if (cursor) retained_.push_back(RetainedBacklog{filter, options, std::move(cursor)});
}

size_t Session::retained_pending() const {
    size_t n = 0;
    for (const RetainedBacklog& b : retained_) n += b.cursor->remaining();
    return n;
}

void Session::queue_retained(const SubOptions& options, const MessagePtr& message) {
    std::vector<uint32_t> ids;
    if (options.subscription_id) ids.push_back(options.subscription_id);
    // Retained messages sent because of a new subscription keep retain=1 [MQTT-3.3.1-8].
    offer(message, std::min(message->qos, options.qos), true, std::move(ids), nullptr);
}

void Session::refill_retained() {
    while (!retained_.empty()) {
        RetainedBacklog& b = retained_.front();
        if (b.cursor->done()) {
            retained_.pop_front();
            continue;
        }
        size_t bytes = b.cursor->peek()->payload.size();
        if (!outbox_.has_room_for_backlog(bytes)) {
            if (outbox_.messages() > 0) return;  // later, as the client drains
            // Larger than max_queued_bytes: it could never be queued.
            log::warn("client {}: retained message on {} ({} bytes) exceeds max_queued_bytes: not sent",
                      printable(client_id_, 64), printable(b.cursor->peek()->topic, 64), bytes);
            b.cursor->pop();
            continue;
        }
        queue_retained(b.options, b.cursor->pop());
    }
    retained_.shrink();
}

void Session::release_retained_before(std::string_view topic) {
    for (RetainedBacklog& b : retained_)
        if (MessagePtr m = b.cursor->take(topic)) queue_retained(b.options, m);
}

Outbox* Session::deliver(const MessagePtr& message, const Delivery& delivery) {
    // QoS 0 messages are not kept for a disconnected client (MQTT 3.1.2.4
    // allows it; queueing them would let offline clients pin memory for
    // messages nobody was promised).
    if (delivery.qos == 0 && !output_) return nullptr;
    return enqueue(message, delivery.qos, delivery.retain,
                   std::vector<uint32_t>(delivery.subscription_ids.begin(), delivery.subscription_ids.end()));
}

Outbox* Session::enqueue(const MessagePtr& message, uint8_t qos, bool retain,
                         std::vector<uint32_t> subscription_ids, SharedGroup* shared) {
    // Per-topic order [MQTT-4.6.0-6]: a live message does not overtake the
    // retained one still waiting for its topic.
    if (!retained_.empty()) release_retained_before(message->topic);
    return offer(message, qos, retain, std::move(subscription_ids), shared);
}

Outbox* Session::offer(const MessagePtr& message, uint8_t qos, bool retain,
                       std::vector<uint32_t> subscription_ids, SharedGroup* shared) {
    // The ACL's read rule, per message: a wildcard subscription the ACL let
    // through may still cover topics the client must not see.
    if (security_ && security_->reads_checked() &&
        !security_->may_read(owner_, owner_authenticated_, client_id_, message->topic))
        return nullptr;
    Outgoing o;
    o.message = message;
    o.qos = qos;
    o.retain = retain;
    o.subscription_ids = std::move(subscription_ids);
    o.shared = shared;
    Outbox::Admit admit = outbox_.offer(queue_, std::move(o));
    if (admit == Outbox::Admit::Dropped) {
        // Nothing of lower value was left to drop. Log QoS 1/2 losses: they
        // are the ones a client may count on.
        static log::Throttled throttle;
        if (qos > 0)
            throttle.warn("client {}: queue full ({} messages, {} bytes), dropped QoS {} message on {}",
                          printable(client_id_, 64), outbox_.messages(), outbox_.bytes(), qos,
                          printable(message->topic, 64));
        return nullptr;
    }
    if (output_) output_->session_has_output();
    return admit == Outbox::Admit::Held ? &outbox_ : nullptr;
}

const Outgoing* Session::next_to_send(size_t window, int64_t now_ms, uint16_t& packet_id) {
    if (!retained_.empty()) refill_retained();
    while (!queue_.empty()) {
        const Outgoing& o = queue_.front();
        if (o.message->expires_at_ms && o.message->expires_at_ms <= now_ms) {
            queue_.pop_front();  // expired while queued [MQTT-3.3.2-5]
            if (!retained_.empty()) refill_retained();
            continue;
        }
        if (o.qos > 0 && inflight_.size() >= window) return nullptr;
        packet_id = o.qos > 0 ? next_packet_id() : 0;
        return &o;
    }
    return nullptr;
}

void Session::sent(bool written, uint16_t packet_id) {
    Outgoing o = queue_.pop_front();
    // The queue is never left empty while a backlog waits (has_sendable).
    if (!retained_.empty()) refill_retained();
    if (!written || o.qos == 0) return;
    InFlight f;
    f.state = o.qos == 1 ? InFlight::State::WaitPuback : InFlight::State::WaitPubrec;
    f.out = std::move(o);
    f.packet_id = packet_id;
    inflight_.push_back(std::move(f));
}

bool Session::has_sendable(size_t window) const {
    if (queue_.empty()) return false;
    return queue_.front().qos == 0 || inflight_.size() < window;
}

void Session::for_each_queued(const std::function<void(const Outgoing&)>& each) const {
    queue_.for_each(each);
}

uint16_t Session::next_packet_id() {
    for (;;) {
        if (++last_packet_id_ == 0) last_packet_id_ = 1;
        if (!find_inflight(last_packet_id_)) return last_packet_id_;
    }
}

InFlight* Session::find_inflight(uint16_t packet_id) {
    for (auto& f : inflight_)
        if (f.packet_id == packet_id) return &f;
    return nullptr;
}

bool Session::acknowledge(uint16_t packet_id, InFlight::State state) {
    auto it = std::find_if(inflight_.begin(), inflight_.end(),
                           [&](const InFlight& f) { return f.packet_id == packet_id; });
    if (it == inflight_.end() || it->state != state) return false;
    inflight_.erase(it);
    return true;
}

bool Session::received_pubrec(uint16_t packet_id) {
    InFlight* f = find_inflight(packet_id);
    if (!f || f->state == InFlight::State::WaitPuback) return false;
    f->state = InFlight::State::WaitPubcomp;
    // Only the packet id is needed from now on [MQTT-4.3.3]: the payload goes.
    f->out.message.reset();
    f->out.subscription_ids.clear();
    return true;
}

void Session::for_each_to_resend(const std::function<void(const InFlight&)>& each) {
    for (InFlight& f : inflight_) {
        if (f.state != InFlight::State::WaitPubcomp) f.dup = true;
        each(f);
    }
}

void Session::forget_group(const SharedGroup* group) {
    queue_.for_each([&](Outgoing& o) {
        if (o.shared == group) o.shared = nullptr;
    });
    for (InFlight& f : inflight_)
        if (f.out.shared == group) f.out.shared = nullptr;
}

void Session::hand_back_shared(const std::function<void(SharedGroup&, const Outgoing&)>& hand_on) {
    for (const InFlight& f : inflight_)
        if (f.out.shared && f.state != InFlight::State::WaitPubcomp) hand_on(*f.out.shared, f.out);
    queue_.for_each([&](const Outgoing& o) {
        if (o.shared && o.qos > 0) hand_on(*o.shared, o);
    });
}

void Session::compact() {
    queue_.shrink();
    inflight_.shrink();
}

}  // namespace duplex
