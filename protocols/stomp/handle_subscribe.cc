// SUBSCRIBE and UNSUBSCRIBE; subscriptions as topic-tree subscribers and
// queue consumers.
#include "protocols/stomp/connection.h"

#include "base/log.h"

#include <charconv>

namespace duplex::stomp {

Outbox* Subscription::deliver(const MessagePtr& message, const Delivery&) {
    if (!connection_.may_read(message->topic)) return nullptr;
    // Not before the retained message still waiting for this topic.
    if (retained)
        if (MessagePtr r = retained->take(message->topic)) queue_retained(r);
    Outgoing o;
    o.message = message;
    o.qos = held_qos(*message);
    Outbox& outbox = connection_.outbox();
    switch (outbox.offer(pending, std::move(o))) {
        case Outbox::Admit::Dropped:
            // A slow consumer loses QoS 0 topic messages rather than costing memory for all.
            connection_.note_dropped(message->topic);
            return nullptr;
        case Outbox::Admit::Held:
            connection_.subscription_has_output();
            return &outbox;
        case Outbox::Admit::Queued:
            break;
    }
    connection_.subscription_has_output();
    return nullptr;
}

bool Subscription::can_accept() const {
    if (!connection_.accepting()) return false;
    size_t held = pending.size() + (ack == AckMode::Auto ? 0 : unacked.size());
    // The window, and the connection's outbox: a queue message offered now
    // must not be dropped (the queue's own bound holds it meanwhile).
    return held < window && connection_.outbox().has_room(0);
}

void Subscription::offer(Outgoing message) {
    message.qos = held_qos(*message.message);
    message.returned_by = nullptr;
    connection_.outbox().offer(pending, std::move(message));
    connection_.subscription_has_output();
}

void Connection::handle_subscribe(Frame& f) {
    Destination d;
    if (!resolve(f, true, d)) return;
    const std::string* id_header = f.header("id");
    std::string sid;
    if (id_header) sid = *id_header;
    else if (version_ == Version::v10) sid = d.header;  // 1.0: id optional
    else return fail("missing id header in SUBSCRIBE", &f);
    if (subscriptions_.count(sid)) return fail("duplicate subscription id", &f, sid);
    if (subscriptions_.size() >= core_.limits().max_subscriptions)
        return fail(
            fmt::format("too many subscriptions (max_subscriptions {})", core_.limits().max_subscriptions),
            &f);

    AckMode mode = AckMode::Auto;
    if (const std::string* a = f.header("ack")) {
        if (*a == "auto") mode = AckMode::Auto;
        else if (*a == "client") mode = AckMode::Client;
        else if (*a == "client-individual") mode = AckMode::ClientIndividual;
        else return fail("invalid ack header (auto, client or client-individual)", &f, *a);
    }
    size_t window = core_.limits().max_inflight;
    if (const std::string* pc = f.header("prefetch-count")) {
        size_t n = 0;
        auto [end, ec] = std::from_chars(pc->data(), pc->data() + pc->size(), n);
        if (ec != std::errc() || end != pc->data() + pc->size())
            return fail("invalid prefetch-count header", &f, *pc);
        // 0 means "no limit" in RabbitMQ; the output queue bound still applies.
        window = n ? std::min(n, core_.limits().max_queued_messages) : core_.limits().max_queued_messages;
    }

    auto sub = std::make_unique<Subscription>(*this, outbox_, sid, d, mode, window);
    Subscription& s = *sub;
    subscriptions_.emplace(sid, std::move(sub));
    send_receipt(f);

    if (d.kind == Destination::Kind::Topic) {
        SubOptions o;
        o.qos = 2;  // the message's own QoS decides `persistent`
        core_.router().subscribe(d.name, &s, o);
        // Retained messages, as for a new MQTT subscription.
        send_retained(s);
    } else {
        std::string key = queue_key_of(d);
        if (d.kind == Destination::Kind::TempQueue &&
            std::find(temp_queues_.begin(), temp_queues_.end(), key) == temp_queues_.end())
            temp_queues_.push_back(key);
        core_.queues().get(key).add_consumer(&s);
    }
    log::debug("stomp {}: subscribed {} to {} (ack {})", name(), sid, d.header,
               mode == AckMode::Auto     ? "auto"
               : mode == AckMode::Client ? "client"
                                         : "client-individual");
}

void Connection::handle_unsubscribe(Frame& f) {
    const std::string* id_header = f.header("id");
    std::string sid;
    if (id_header) sid = *id_header;
    else if (const std::string* d = f.header("destination"); d && version_ == Version::v10) sid = *d;
    else return fail("missing id header in UNSUBSCRIBE", &f);
    auto it = subscriptions_.find(sid);
    if (it == subscriptions_.end()) return fail("no subscription with this id", &f, sid);
    std::unique_ptr<Subscription> s = std::move(it->second);
    subscriptions_.erase(it);
    end_subscription(*s);
    send_receipt(f);
}

void Connection::end_subscription(Subscription& s) {
    std::vector<Outgoing> pending = s.pending.take_all();
    if (s.destination.kind == Destination::Kind::Topic) {
        core_.router().unsubscribe(s.destination.name, &s);
        s.unacked.clear();
        return;
    }
    // Queue messages not yet acknowledged go back, oldest first in front.
    std::string key = queue_key_of(s.destination);
    Queue* q = core_.queues().find(key);
    if (!q) return;
    q->remove_consumer(&s);
    for (auto it = pending.rbegin(); it != pending.rend(); ++it) q->requeue(it->message);
    for (auto it = s.unacked.rbegin(); it != s.unacked.rend(); ++it) q->requeue(it->second.message);
    s.unacked.clear();
    q->dispatch();
    if (s.destination.kind == Destination::Kind::Queue) core_.queues().release(key);
}

}  // namespace duplex::stomp
