// Routes each published message to every matching subscriber, once per
// subscriber (overlapping subscriptions collapse to the highest QoS), and
// keeps retained messages.
#pragma once

#include "broker/message.h"
#include "broker/retained_store.h"
#include "broker/subscriber.h"
#include "broker/topic_tree.h"

#include <deque>
#include <functional>
#include <vector>

namespace duplex {

class Outbox;

// What one publish did: how many subscribers it reached (MQTT 5 answers 0x10
// "no matching subscribers" for none) and which outboxes it congested, whose
// publisher must now be held back (broker/backpressure.h). `congested` is
// empty (no allocation) unless a reader is slow.
struct PublishResult {
    size_t reached = 0;
    std::vector<Outbox*> congested;
    // A retained message the store refused (max_retained_*): routed, not kept.
    bool retain_refused = false;
};

class Router {
  public:
    bool subscribe(std::string_view filter, Subscriber* subscriber, const SubOptions& options) {
        return tree_.subscribe(filter, subscriber, options);
    }
    bool unsubscribe(std::string_view filter, Subscriber* subscriber) {
        return tree_.unsubscribe(filter, subscriber);
    }

    // Updates the retained store if message->retain, then delivers. Safe to
    // call from inside a deliver() (the nested message is routed after the
    // current one; its result is not known yet: reached 1, nothing congested).
    PublishResult publish(const MessagePtr& message, int64_t now_ms);

    void retained(std::string_view filter, int64_t now_ms,
                  const std::function<void(const MessagePtr&)>& visit) {
        retained_.match(filter, now_ms, visit);
    }

    size_t subscription_count() const { return tree_.subscription_count(); }
    size_t retained_count() const { return retained_.size(); }
    RetainedStore& retained_store() { return retained_; }
    uint64_t published() const { return published_; }
    uint64_t deliveries() const { return deliveries_; }

  private:
    PublishResult route(const MessagePtr& message);

    TopicTree tree_;
    RetainedStore retained_;
    uint64_t epoch_ = 0;
    std::vector<Subscriber*> matched_;
    bool routing_ = false;
    std::deque<MessagePtr> nested_;
    uint64_t published_ = 0;
    uint64_t deliveries_ = 0;
};

}  // namespace duplex
