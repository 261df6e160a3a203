// The retained messages a new subscription has still to receive, handed
// over as its client drains rather than all at subscribe time: pushed into
// the outbox at once, they were cut at max_queued_messages, so a subscriber
// to "#" over 100,000 retained messages silently got the first 1,000.
//
// A cursor is a snapshot of MessagePtrs (shared with the store, never
// copies of a payload: 16 bytes per message), sorted by topic so that the
// message on one topic can be found: a live message on topic T must not
// overtake T's older retained message (per-topic order, MQTT 4.6), so
// before a live message on T is queued for the subscriber, take(T) hands
// T's retained message over first.
//
// Few matches cost no cursor at all: collect() offers messages straight to
// the outbox while it has room for them and only defers the rest.
//
// Threading: loop thread only.
#pragma once

#include "broker/message.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

namespace duplex {

class Router;

class RetainedCursor {
  public:
    explicit RetainedCursor(std::vector<MessagePtr> messages);

    // The retained messages matching `filter`: each is offered to
    // `direct(m)` until it answers false (no room); that one and all later
    // ones go to the cursor returned, at most `max_deferred` of them (more
    // are dropped and counted in `refused`). Null when nothing was deferred.
    static std::unique_ptr<RetainedCursor> collect(Router& router, std::string_view filter, int64_t now_ms,
                                                   const std::function<bool(const MessagePtr&)>& direct,
                                                   size_t max_deferred, size_t& refused);

    bool done() const { return next_ == messages_.size(); }
    size_t remaining() const { return remaining_; }
    // The next message in order; !done().
    const MessagePtr& peek() const { return messages_[next_]; }
    // Takes the next message off; !done().
    MessagePtr pop();
    // Takes the message on `topic` off if it is still to be handed over
    // (null otherwise): a live message on that topic is about to be queued.
    MessagePtr take(std::string_view topic);
    // Takes off every message still to be handed over for which pred(m).
    template <class Pred>
    void remove_if(Pred pred) {
        for (size_t i = next_; i < messages_.size(); ++i)
            if (!taken(i) && pred(messages_[i])) mark_taken(i);
        skip_taken();
    }

  private:
    bool taken(size_t i) const { return !taken_.empty() && taken_[i]; }
    void mark_taken(size_t i);
    void skip_taken();

    std::vector<MessagePtr> messages_;  // sorted by topic; before next_: reset
    std::vector<bool> taken_;           // taken out of order; allocated on the first take
    size_t next_ = 0;
    size_t remaining_ = 0;
};

}  // namespace duplex
