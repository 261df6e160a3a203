// SEND: destination, header -> Message mapping, delivery to the topic tree or
// a queue (at once, or at COMMIT inside a transaction).
#include "protocols/stomp/connection.h"

#include "base/log.h"

namespace duplex::stomp {

namespace {

// Headers with a meaning of their own in a SEND; every other header travels
// as a user property (MQTT 5) and comes back as a header on MESSAGE.
bool stomp_header(std::string_view name) {
    for (std::string_view h :
         {"destination", "content-length", "content-type", "receipt", "transaction", "persistent", "reply-to",
          "correlation-id", "retain", "message-id", "subscription", "ack", "redelivered"})
        if (name == h) return true;
    return false;
}

}  // namespace

bool Connection::resolve(const Frame& f, bool for_subscribe, Destination& out) {
    const std::string* d = f.header("destination");
    if (!d) {
        fail("missing destination header", &f);
        return false;
    }
    if (const char* error = parse_destination(*d, for_subscribe, out)) {
        fail(error, &f, *d);
        return false;
    }
    if (out.is_queue() && out.kind != Destination::Kind::RemoteTempQueue &&
        !core_.queues().room_for(queue_key_of(out))) {
        fail(fmt::format("too many queues (max_queues {})", core_.limits().max_queues), &f);
        return false;
    }
    if (!out.is_queue() && !core_.topic_depth_ok(out.name)) {
        fail(fmt::format("topic of more than max_topic_levels ({}) levels", core_.limits().max_topic_levels),
             &f);
        return false;
    }
    // A temp queue is this connection's own; a reply address is a capability
    // (its owner part is unguessable): neither is the ACL's business.
    if (out.kind == Destination::Kind::TempQueue || out.kind == Destination::Kind::RemoteTempQueue)
        return true;
    Resource resource = out.is_queue() ? Resource::Queue : Resource::Topic;
    if (resource == Resource::Topic && !for_subscribe && !core_.security().publish_needs_check(out.name))
        return true;
    if (!core_.security().allows(client_info(), resource, out.name,
                                 for_subscribe ? Access::Subscribe : Access::Publish)) {
        fail("not authorized", &f, *d);
        return false;
    }
    return true;
}

void Connection::handle_send(Frame& f) {
    Destination d;
    if (!resolve(f, false, d)) return;

    auto fields = std::make_shared<Message>();
    Message* m = fields.get();
    m->payload = std::string(f.body);
    m->origin = origin_;
    // Topic for the tree; for queues, the queue name (seen by hooks and logs).
    m->topic = d.name;
    for (const Header& h : f.headers) {
        if (h.name == "content-type") {
            if (m->content_type.empty()) m->content_type = h.value;
        } else if (h.name == "correlation-id") {
            if (!m->correlation_data) m->correlation_data = h.value;
        } else if (h.name == "persistent") {
            if (h.value == "true") m->qos = 1;
        } else if (h.name == "retain") {
            if (h.value == "true") m->retain = true;
        } else if (h.name == "reply-to") {
            if (!m->response_topic.empty()) continue;
            std::string_view r = h.value;
            if (r.substr(0, kTopicPrefix.size()) == kTopicPrefix) {
                m->response_topic = std::string(r.substr(kTopicPrefix.size()));
            } else if (r.substr(0, kTempQueuePrefix.size()) == kTempQueuePrefix) {
                // A temp queue is private to this connection: the reply-to
                // becomes a broker-unique name that routes back here.
                std::string_view tname = r.substr(kTempQueuePrefix.size());
                std::string key = temp_queue_key(token_, tname);
                if (!core_.queues().room_for(key))
                    return fail(fmt::format("too many queues (max_queues {})", core_.limits().max_queues),
                                &f);
                if (std::find(temp_queues_.begin(), temp_queues_.end(), key) == temp_queues_.end())
                    temp_queues_.push_back(key);
                core_.queues().get(key);
                m->user_properties.emplace_back("reply-to", reply_address(token_, tname));
            } else {
                m->user_properties.emplace_back(h.name, h.value);
            }
        } else if (!stomp_header(h.name)) {
            m->user_properties.emplace_back(h.name, h.value);
        }
    }
    if (m->retain && d.is_queue()) m->retain = false;  // retained only means something on topics
    MessagePtr message = make_message(std::move(fields), 0, now_ms());

    if (const std::string* tx = f.header("transaction")) {
        auto it = transactions_.find(*tx);
        if (it == transactions_.end()) return fail("unknown transaction", &f, *tx);
        if (it->second.size() >= core_.limits().max_queued_messages)
            return fail("too many frames in transaction", &f, *tx);
        // What open transactions hold is bounded like any client's output
        // (one transaction once held 98 MiB).
        if (tx_bytes_ + message->payload.size() > core_.limits().max_queued_bytes)
            return fail(
                fmt::format("transactions over max_queued_bytes ({})", core_.limits().max_queued_bytes), &f,
                *tx);
        tx_bytes_ += message->payload.size();
        it->second.push_back({TxAction::Kind::Send, std::move(d), std::move(message), {}});
        send_receipt(f);
        return;
    }
    route(d, message);
    send_receipt(f);
}

void Connection::route(const Destination& d, const MessagePtr& message) {
    switch (d.kind) {
        case Destination::Kind::Topic: {
            PublishResult result = core_.publish(message);
            if (!result.congested.empty()) {
                log::debug("stomp {}: holding back publisher, {} subscriber(s) congested", name(),
                           result.congested.size());
                hold(result.congested);
            }
            return;
        }
        case Destination::Kind::Queue:
            if (Outbox* congested = core_.queues().get(queue_key(d.name)).push(message))
                hold({&congested, 1});
            return;
        case Destination::Kind::TempQueue: {
            std::string key = temp_queue_key(token_, d.name);
            if (std::find(temp_queues_.begin(), temp_queues_.end(), key) == temp_queues_.end())
                temp_queues_.push_back(key);
            if (Outbox* congested = core_.queues().get(key).push(message)) hold({&congested, 1});
            return;
        }
        case Destination::Kind::RemoteTempQueue:
            // Only while its connection lives; a reply to a closed requester is dropped.
            if (Queue* q = core_.queues().find(temp_queue_key_of_reply(d.name))) {
                if (Outbox* congested = q->push(message)) hold({&congested, 1});
            } else {
                log::debug("stomp {}: no temp queue {} (requester gone): message dropped", name(), d.name);
            }
            return;
    }
}

}  // namespace duplex::stomp
