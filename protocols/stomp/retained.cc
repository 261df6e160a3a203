// Retained messages for a new /topic subscription, handed over as the
// client drains (broker/retained_cursor.h): the ones that fit in half the
// connection's outbox at once, the rest as it empties, none overtaken by a
// later live message on its topic.
#include "protocols/stomp/connection.h"

#include "base/log.h"
#include "base/printable.h"

namespace duplex::stomp {

void Subscription::queue_retained(const MessagePtr& message) {
    Outgoing o;
    o.message = message;
    o.qos = held_qos(*message);
    o.retain = true;
    connection_.outbox().offer(pending, std::move(o));
}

void Subscription::refill_retained() {
    Outbox& outbox = connection_.outbox();
    while (retained && !retained->done()) {
        size_t bytes = retained->peek()->payload.size();
        if (!outbox.has_room_for_backlog(bytes)) {
            if (outbox.messages() > 0) return;  // later, as the client drains
            // Larger than max_queued_bytes: it could never be queued.
            log::warn("stomp {}: retained message on {} ({} bytes) exceeds max_queued_bytes: not sent",
                      connection_.name(), printable(retained->peek()->topic, 64), bytes);
            retained->pop();
            continue;
        }
        queue_retained(retained->pop());
    }
    retained.reset();
}

void Connection::send_retained(Subscription& s) {
    // At most max_retained_messages wait per connection.
    size_t cap = core_.limits().max_retained_messages;
    for (auto& [id, other] : subscriptions_)
        if (other->retained) cap -= std::min(cap, other->retained->remaining());
    size_t refused = 0;
    s.retained = RetainedCursor::collect(
        core_.router(), s.destination.name, now_ms(),
        [&](const MessagePtr& m) {
            if (!outbox_.has_room_for_backlog(m->payload.size())) return false;
            s.queue_retained(m);
            return true;
        },
        cap, refused);
    if (refused)
        log::warn(
            "stomp {}: {} retained messages for {} not sent: more than max_retained_messages ({}) waiting",
            name(), refused, printable(s.destination.header, 64), core_.limits().max_retained_messages);
    if (!s.pending.empty()) transport_.request_write();
}

}  // namespace duplex::stomp
