#include "broker/router.h"

#include <algorithm>

namespace duplex {

PublishResult Router::publish(const MessagePtr& message, int64_t now_ms) {
    (void)now_ms;
    bool refused = message->retain && !retained_.update(message);
    ++published_;
    if (routing_) {
        nested_.push_back(message);
        return PublishResult{.reached = 1, .congested = {}, .retain_refused = refused};
    }
    routing_ = true;
    PublishResult result = route(message);
    result.retain_refused = refused;
    while (!nested_.empty()) {
        MessagePtr next = std::move(nested_.front());
        nested_.pop_front();
        route(next);
    }
    routing_ = false;
    return result;
}

PublishResult Router::route(const MessagePtr& message) {
    ++epoch_;
    matched_.clear();
    tree_.match(message->topic, [&](Subscriber* s, const SubOptions& o) {
        if (o.no_local && message->origin != 0 && s->origin_id_ == message->origin) return;
        if (s->match_epoch_ != epoch_) {
            s->match_epoch_ = epoch_;
            s->match_qos_ = o.qos;
            s->match_retain_as_published_ = o.retain_as_published;
            s->match_ids_.clear();
            matched_.push_back(s);
        } else {
            s->match_qos_ = std::max(s->match_qos_, o.qos);
            s->match_retain_as_published_ |= o.retain_as_published;
        }
        if (o.subscription_id) s->match_ids_.push_back(o.subscription_id);
    });
    // Subscribers may unsubscribe or publish while being delivered to; the
    // matched list is a snapshot and nested publishes are queued.
    PublishResult result;
    result.reached = matched_.size();
    for (Subscriber* s : matched_) {
        Delivery d;
        d.qos = std::min(message->qos, s->match_qos_);
        // Messages routed live carry retain=0 unless Retain As Published [MQTT-3.3.1-12].
        d.retain = s->match_retain_as_published_ && message->retain;
        d.subscription_ids = s->match_ids_;
        if (Outbox* congested = s->deliver(message, d)) result.congested.push_back(congested);
        ++deliveries_;
    }
    return result;
}

}  // namespace duplex
