// The bounded store of messages waiting for one client, whatever protocol it
// speaks: an MQTT session's queue, a STOMP connection's subscriptions, a
// point-to-point queue's held messages. One drop policy, one backpressure
// rule and one release, so the README's promise holds for every protocol:
//
//   1. Within the limits (max_queued_messages, max_queued_bytes) every
//      message offered is kept.
//   2. Over them, queued QoS 0 messages go first, oldest first, but only if
//      dropping them does make room: otherwise they would be lost for nothing.
//   3. Still no room: a reliable message (QoS 1/2; STOMP: also any message a
//      client must acknowledge) offered to a *live* outbox (its client is
//      connected, or the queue has consumers) is kept anyway, up to twice the
//      limits, and the outbox becomes congested: offer() answers Held, and
//      the publisher is held back (broker/backpressure.h) until the outbox
//      drains to half its limits, when it releases every held publisher
//      itself. No acknowledged message is dropped because a reader is slow.
//   4. Otherwise (QoS 0, not live, or at twice the limits) the message is
//      dropped and counted.
//
// An outbox has one or more lanes (STOMP: one per subscription; a session or
// a queue: one), each a FIFO; limits and accounting are per outbox, so the
// lanes of one client share its quota. Step 2 walks the lanes in the order
// they were made, oldest message first within each.
//
// Threading: loop thread only. Lifetimes: a Lane must not outlive its Outbox;
// the Backpressure (if any) must outlive the Outbox.
#pragma once

#include "broker/lazy_deque.h"
#include "broker/message.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace duplex {

struct Limits;
class Backpressure;
class SharedGroup;

// One message on its way to one client.
struct Outgoing {
    MessagePtr message;
    // The QoS it is delivered with. 0 means the client was promised nothing:
    // such messages are the first to go (rule 2). A STOMP subscription that
    // acknowledges uses at least 1.
    uint8_t qos = 0;
    bool retain = false;                     // MQTT retain flag to send; STOMP "retain: true"
    bool redelivered = false;                // handed back once (NACK, a consumer left)
    std::vector<uint32_t> subscription_ids;  // MQTT 5 Subscription Identifiers
    // Came through a shared subscription: if the session ends before
    // acknowledging it, it goes to another member of the group.
    SharedGroup* shared = nullptr;
    // Queue: the consumer that handed it back; others are offered it first.
    const void* returned_by = nullptr;

    size_t bytes() const { return message->payload.size(); }
};

class Outbox {
  public:
    // What offer() did with a message.
    enum class Admit : uint8_t {
        Queued,   // kept within the limits
        Held,     // kept over the limits: hold the publisher back (rule 3)
        Dropped,  // not kept (rule 4), counted in dropped()
    };

    class Lane {
      public:
        explicit Lane(Outbox& owner);
        ~Lane();  // its messages leave the outbox's accounting
        Lane(const Lane&) = delete;
        Lane& operator=(const Lane&) = delete;

        bool empty() const { return items_.empty(); }
        size_t size() const { return items_.size(); }
        const Outgoing& front() const { return items_[0]; }
        // Takes the oldest message off (accounted; may release publishers).
        Outgoing pop_front();
        // Puts a message handed back by its consumer in front. Never dropped:
        // it was admitted once already.
        void push_front(Outgoing entry);
        // Removes every message for which `pred(const Outgoing&)` is true.
        template <class Pred>
        size_t remove_if(Pred pred) {
            size_t n = items_.erase_if([&](const Outgoing& o) {
                if (!pred(o)) return false;
                owner_.account(-1, o.bytes());
                return true;
            });
            owner_.maybe_release();
            return n;
        }
        // Everything, oldest first, leaving the lane empty (accounted).
        std::vector<Outgoing> take_all();
        template <class Each>
        void for_each(Each&& each) {
            for (Outgoing& o : items_) each(o);
        }
        template <class Each>
        void for_each(Each&& each) const {
            for (const Outgoing& o : items_) each(o);
        }
        // Gives the storage back when empty (an idle client keeps none).
        void shrink() { items_.shrink(); }

      private:
        friend class Outbox;
        Outbox& owner_;
        Lane* next_ = nullptr;  // the owner's lanes, in creation order
        LazyDeque<Outgoing> items_;
    };

    // `backpressure` may be null: then nothing is ever Held (rule 3 needs
    // someone to hold the publishers).
    Outbox(const Limits& limits, Backpressure* backpressure);
    ~Outbox();  // releases any publisher still held for it
    Outbox(const Outbox&) = delete;
    Outbox& operator=(const Outbox&) = delete;

    // Applies the policy above and adds `entry` to the back of `lane`.
    Admit offer(Lane& lane, Outgoing entry);

    // Live: the client is connected (a queue: has consumers). An outbox that
    // stops being live releases its publishers at once: it can no longer
    // hold anybody back, so from then on it drops at its limits instead.
    void set_live(bool live);
    bool live() const { return live_; }

    // Room for one more message of `bytes` within the limits.
    bool has_room(size_t bytes) const;
    // Room for one more message of a backlog (the retained messages of a new
    // subscription, broker/retained_cursor.h): within half the limits, so
    // that live messages still find the other half and neither are dropped
    // nor hold their publishers back because of it; an empty outbox takes
    // any message within the limits.
    bool has_room_for_backlog(size_t bytes) const;
    const Limits& limits() const { return limits_; }
    // Drops every queued QoS 0 message (counted), e.g. when a session goes
    // offline: QoS 0 is not kept for an absent client.
    void drop_qos0();

    size_t messages() const { return messages_; }
    size_t bytes() const { return bytes_; }
    uint64_t dropped() const { return dropped_; }
    // Over its limits with publishers held back, until it drains to half.
    bool congested() const { return congested_; }
    // Since when (clock ms) it has been congested; 0 when it is not.
    int64_t congested_since_ms() const { return congested_ ? congested_since_ms_ : 0; }
    // Drops the newest messages until it is within its limits (counted):
    // an outbox that can no longer hold anybody back (its client went away)
    // keeps no more than an offline client may have.
    size_t trim_to_limits();

  private:
    friend class Lane;
    void account(int sign, size_t bytes);
    void maybe_release();
    void release();
    bool fits(size_t messages, size_t bytes, size_t incoming) const;
    bool make_room(size_t incoming);

    const Limits& limits_;
    Backpressure* backpressure_;
    Lane* lanes_ = nullptr;
    size_t messages_ = 0;
    size_t bytes_ = 0;
    uint64_t dropped_ = 0;
    int64_t congested_since_ms_ = 0;
    bool live_ = false;
    bool congested_ = false;
};

}  // namespace duplex
