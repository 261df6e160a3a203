#include "broker/queue.h"

#include "base/log.h"
#include "duplex/config.h"

#include <algorithm>

namespace duplex {

bool Queue::push(const MessagePtr& message) {
    size_t n = message->payload.size();
    if (messages_.size() >= limits_.max_queued_messages || bytes_ + n > limits_.max_queued_bytes) {
        ++dropped_;
        log::warn("queue {}: full ({} messages, {} bytes), message dropped", name_, messages_.size(),
                  bytes_);
        return false;
    }
    messages_.push_back({message, false});
    bytes_ += n;
    dispatch();
    return true;
}

void Queue::requeue(const MessagePtr& message, const QueueConsumer* returned_by) {
    messages_.push_front({message, true, returned_by});
    bytes_ += message->payload.size();
}

void Queue::add_consumer(QueueConsumer* consumer) {
    consumers_.push_back(consumer);
    dispatch();
}

void Queue::remove_consumer(QueueConsumer* consumer) {
    auto it = std::find(consumers_.begin(), consumers_.end(), consumer);
    if (it == consumers_.end()) return;
    size_t index = static_cast<size_t>(it - consumers_.begin());
    consumers_.erase(it);
    if (index < next_) --next_;
    if (next_ >= consumers_.size()) next_ = 0;
}

void Queue::dispatch() {
    // offer() may come back here (a consumer acking synchronously): the outer
    // loop carries on.
    if (dispatching_) return;
    dispatching_ = true;
    while (!messages_.empty() && !consumers_.empty()) {
        // Round robin over consumers with room; a handed-back message goes to
        // another consumer when one has room, else back to the same one.
        const void* avoid = messages_.front().returned_by;
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
        QueuedMessage m = std::move(messages_.front());
        messages_.pop_front();
        bytes_ -= m.message->payload.size();
        chosen->offer(std::move(m));
    }
    dispatching_ = false;
}

Queue& Queues::get(std::string_view name) {
    auto it = queues_.find(name);
    if (it == queues_.end())
        it = queues_.emplace(std::string(name), std::make_unique<Queue>(std::string(name), limits_)).first;
    return *it->second;
}

Queue* Queues::find(std::string_view name) {
    auto it = queues_.find(name);
    return it == queues_.end() ? nullptr : it->second.get();
}

void Queues::release(std::string_view name, bool force) {
    auto it = queues_.find(name);
    if (it == queues_.end()) return;
    if (it->second->idle() || (force && it->second->consumer_count() == 0)) queues_.erase(it);
}

}  // namespace duplex
