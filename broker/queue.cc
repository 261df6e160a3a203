#include "broker/queue.h"

#include "base/log.h"
#include "base/printable.h"
#include "duplex/config.h"

#include <fmt/core.h>

#include <algorithm>

namespace duplex {

std::string queue_key(std::string_view name) { return fmt::format("queue:{}", name); }

std::string temp_queue_key(std::string_view owner, std::string_view name) {
    return fmt::format("temp:{}/{}", owner, name);
}

std::string reply_address(std::string_view owner, std::string_view name) {
    return fmt::format("{}{}/{}", kReplyAddressPrefix, owner, name);
}

std::string temp_queue_key_of_reply(std::string_view owner_and_name) {
    return fmt::format("temp:{}", owner_and_name);
}

Outbox* Queue::push(const MessagePtr& message) {
    Outgoing o;
    o.message = message;
    o.qos = message->qos;
    Outbox::Admit admit = outbox_.offer(held_, std::move(o));
    if (admit == Outbox::Admit::Dropped) {
        static log::Throttled throttle;
        throttle.warn("queue {}: full ({} messages, {} bytes), message dropped", printable(name_, 64),
                      held_.size(), outbox_.bytes());
        return nullptr;
    }
    dispatch();
    return admit == Outbox::Admit::Held && outbox_.congested() ? &outbox_ : nullptr;
}

void Queue::requeue(const MessagePtr& message, const QueueConsumer* returned_by) {
    Outgoing o;
    o.message = message;
    o.qos = message->qos;
    o.redelivered = true;
    o.returned_by = returned_by;
    held_.push_front(std::move(o));
}

void Queue::add_consumer(QueueConsumer* consumer) {
    consumers_.push_back(consumer);
    outbox_.set_live(true);
    dispatch();
}

void Queue::remove_consumer(QueueConsumer* consumer) {
    auto it = std::find(consumers_.begin(), consumers_.end(), consumer);
    if (it == consumers_.end()) return;
    size_t index = static_cast<size_t>(it - consumers_.begin());
    consumers_.erase(it);
    if (index < next_) --next_;
    if (next_ >= consumers_.size()) next_ = 0;
    // Nobody left to drain it: it can hold no publisher back.
    if (consumers_.empty()) outbox_.set_live(false);
}

void Queue::dispatch() {
    // offer() may come back here (a consumer acking synchronously): the outer
    // loop carries on.
    if (dispatching_) return;
    dispatching_ = true;
    while (!held_.empty() && !consumers_.empty()) {
        // Round robin over consumers with room; a handed-back message goes to
        // another consumer when one has room, else back to the same one.
        const void* avoid = held_.front().returned_by;
        QueueConsumer* chosen = nullptr;
        for (int pass = avoid ? 0 : 1; pass < 2 && !chosen; ++pass) {
            for (size_t tries = 0; tries < consumers_.size(); ++tries) {
                if (next_ >= consumers_.size()) next_ = 0;
                QueueConsumer* c = consumers_[next_++];
                if ((pass == 1 || c != avoid) && c->can_accept()) {
                    chosen = c;
                    break;
                }
            }
        }
        if (!chosen) break;
        chosen->offer(held_.pop_front());
    }
    dispatching_ = false;
}

Queue& Queues::get(std::string_view key) {
    auto it = queues_.find(key);
    if (it == queues_.end())
        it = queues_
                 .emplace(std::string(key), std::make_unique<Queue>(std::string(key), limits_, backpressure_))
                 .first;
    return *it->second;
}

bool Queues::room_for(std::string_view key) const {
    return queues_.size() < limits_.max_queues || queues_.find(key) != queues_.end();
}

Queue* Queues::find(std::string_view key) {
    auto it = queues_.find(key);
    return it == queues_.end() ? nullptr : it->second.get();
}

Queue* Queues::find_reply_queue(std::string_view address) {
    if (!address.starts_with(kReplyAddressPrefix)) return nullptr;
    return find(temp_queue_key_of_reply(address.substr(kReplyAddressPrefix.size())));
}

void Queues::release(std::string_view key, bool force) {
    auto it = queues_.find(key);
    if (it == queues_.end()) return;
    if (it->second->idle() || (force && it->second->consumer_count() == 0)) queues_.erase(it);
}

}  // namespace duplex
