// Point-to-point queues (STOMP /queue/<name> and temp queues): each message
// goes to exactly one consumer, round robin over the consumers that have room;
// with no consumer (or none with room) messages are held in the queue's
// outbox (broker/outbox.h): bounded by max_queued_messages / max_queued_bytes
// with the same policy as every client's output: QoS 0 dropped first; a
// persistent message for a queue that has consumers is kept over the limit
// and its publisher held back until the consumers drain it; with no consumer
// at all it is dropped at the limit and counted. A message handed back by a
// consumer (NACK, unacknowledged at unsubscribe or disconnect) is put back in
// front and marked redelivered; round robin then offers it to the next
// consumer first. Lives on the loop thread, owned by Queues (in Core).
//
// Names: a queue's key in Queues is "queue:<name>"; a temp queue (private to
// the connection that made it) is "temp:<owner>/<name>", and other clients
// reply to it through its reply address "/remote-temp-queue/<owner>/<name>"
// (what a STOMP reply-to header becomes, and what the command bridge
// answers to). These spellings live here and nowhere else.
#pragma once

#include "broker/message.h"
#include "broker/outbox.h"

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
class Backpressure;

// Queue keys and reply addresses (see above).
std::string queue_key(std::string_view name);
// `owner` is the owning connection's unguessable token (base/random.h): a
// reply address is a capability, and a sequential owner id once let a third
// party send forged replies into another client's temp queue.
std::string temp_queue_key(std::string_view owner, std::string_view name);
inline constexpr std::string_view kReplyAddressPrefix = "/remote-temp-queue/";
std::string reply_address(std::string_view owner, std::string_view name);
// "<owner>/<name>" of a reply address without its prefix -> the temp queue key.
std::string temp_queue_key_of_reply(std::string_view owner_and_name);

class QueueConsumer {
  public:
    virtual ~QueueConsumer() = default;
    // True while the consumer can take one more message now (prefetch window).
    virtual bool can_accept() const = 0;
    // Takes one message (its `redelivered` and `returned_by` set); called
    // only after can_accept() returned true.
    virtual void offer(Outgoing message) = 0;
};

class Queue {
  public:
    Queue(std::string name, const Limits& limits, Backpressure* backpressure)
        : name_(std::move(name)), outbox_(limits, backpressure) {}

    const std::string& name() const { return name_; }

    // Adds a message at the back (then dispatches). Returns the queue's
    // outbox if the message congested it (its publisher should be held
    // back, see broker/backpressure.h), else null; a dropped message is
    // counted and logged.
    Outbox* push(const MessagePtr& message);
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

    size_t size() const { return held_.size(); }
    size_t bytes() const { return outbox_.bytes(); }
    size_t consumer_count() const { return consumers_.size(); }
    bool idle() const { return held_.empty() && consumers_.empty(); }
    uint64_t dropped() const { return outbox_.dropped(); }

  private:
    std::string name_;
    Outbox outbox_;
    Outbox::Lane held_{outbox_};
    std::vector<QueueConsumer*> consumers_;
    size_t next_ = 0;  // round-robin position in consumers_
    bool dispatching_ = false;
};

// Queues by name, created on first use and forgotten once empty with no
// consumer (so a stream of distinct names cannot pin memory).
class Queues {
  public:
    Queues(const Limits& limits, Backpressure* backpressure) : limits_(limits), backpressure_(backpressure) {}

    Queue& get(std::string_view key);
    // get(key) would not pass max_queues: the queue exists or there is room.
    bool room_for(std::string_view key) const;
    Queue* find(std::string_view key);
    // The temp queue a reply address names ("/remote-temp-queue/<owner>/<name>"),
    // if its connection still lives.
    Queue* find_reply_queue(std::string_view address);
    // Forgets the queue if it is idle; `force` drops held messages too (temp
    // queues of a closed connection).
    void release(std::string_view name, bool force = false);
    size_t size() const { return queues_.size(); }

  private:
    const Limits& limits_;
    Backpressure* backpressure_;
    std::map<std::string, std::unique_ptr<Queue>, std::less<>> queues_;
};

}  // namespace duplex
