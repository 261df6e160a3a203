// Point-to-point queues (STOMP /queue/<name> and temp queues): each message
// goes to exactly one consumer, round robin over the consumers that have room;
// with no consumer (or none with room) messages are held, bounded by
// limits.max_queued_messages / max_queued_bytes. A message handed back by a
// consumer (NACK, unacknowledged at unsubscribe or disconnect) is put back in
// front and marked redelivered; round robin then offers it to the next
// consumer first. Lives on the loop thread, owned by Queues (in Core).
#pragma once

#include "broker/message.h"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace duplex {

struct Limits;

struct QueuedMessage {
    MessagePtr message;
    bool redelivered = false;
    // Consumer that handed it back; others are preferred for the redelivery.
    const void* returned_by = nullptr;
};

class QueueConsumer {
  public:
    virtual ~QueueConsumer() = default;
    // True while the consumer can take one more message now (prefetch window).
    virtual bool can_accept() const = 0;
    // Takes one message; called only after can_accept() returned true.
    virtual void offer(QueuedMessage message) = 0;
};

class Queue {
  public:
    Queue(std::string name, const Limits& limits) : name_(std::move(name)), limits_(limits) {}

    const std::string& name() const { return name_; }

    // Adds a message at the back. Returns false (message dropped) when the
    // queue holds its limit of messages or bytes.
    bool push(const MessagePtr& message);
    // Puts a message handed back by a consumer in front, marked redelivered.
    // Never dropped: it was already counted once. Does not dispatch: callers
    // hand back all their messages (newest first), then call dispatch(), so
    // the original order survives.
    void requeue(const MessagePtr& message, const QueueConsumer* returned_by = nullptr);

    void add_consumer(QueueConsumer* consumer);
    void remove_consumer(QueueConsumer* consumer);

    // Offers held messages to consumers with room, round robin. Called after
    // push/requeue/add_consumer and whenever a consumer gains room.
    void dispatch();

    size_t size() const { return messages_.size(); }
    size_t bytes() const { return bytes_; }
    size_t consumer_count() const { return consumers_.size(); }
    bool idle() const { return messages_.empty() && consumers_.empty(); }
    uint64_t dropped() const { return dropped_; }

  private:
    std::string name_;
    const Limits& limits_;
    std::deque<QueuedMessage> messages_;
    size_t bytes_ = 0;
    std::vector<QueueConsumer*> consumers_;
    size_t next_ = 0;  // round-robin position in consumers_
    bool dispatching_ = false;
    uint64_t dropped_ = 0;
};

// Queues by name, created on first use and forgotten once empty with no
// consumer (so a stream of distinct names cannot pin memory).
class Queues {
  public:
    explicit Queues(const Limits& limits) : limits_(limits) {}

    Queue& get(std::string_view name);
    Queue* find(std::string_view name);
    // Forgets the queue if it is idle; `force` drops held messages too (temp
    // queues of a closed connection).
    void release(std::string_view name, bool force = false);
    size_t size() const { return queues_.size(); }

  private:
    const Limits& limits_;
    std::map<std::string, std::unique_ptr<Queue>, std::less<>> queues_;
};

}  // namespace duplex
