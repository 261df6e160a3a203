// Helpers shared by the broker core unit tests.
#pragma once

#include "broker/message.h"
#include "broker/retained_store.h"
#include "broker/subscriber.h"
#include "broker/topic_tree.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace duplex::test {

inline MessagePtr make_message(std::string topic, std::string payload = "x", uint8_t qos = 0,
                               bool retain = false, uint64_t origin = 0, int64_t expires_at_ms = 0) {
    auto m = std::make_shared<Message>();
    m->topic = std::move(topic);
    m->payload = std::move(payload);
    m->qos = qos;
    m->retain = retain;
    m->origin = origin;
    m->expires_at_ms = expires_at_ms;
    return m;
}

// A subscriber that records every delivery (copying the span of ids).
struct Received {
    MessagePtr message;
    uint8_t qos;
    bool retain;
    std::vector<uint32_t> subscription_ids;
};

class RecordingSubscriber : public Subscriber {
  public:
    explicit RecordingSubscriber(std::string name = {}) : name(std::move(name)) {}
    Outbox* deliver(const MessagePtr& message, const Delivery& delivery) override {
        received.push_back({message, delivery.qos, delivery.retain,
                            {delivery.subscription_ids.begin(), delivery.subscription_ids.end()}});
        if (on_deliver) on_deliver(message, delivery);
        return nullptr;
    }
    std::vector<std::string> topics() const {
        std::vector<std::string> t;
        for (auto& r : received) t.push_back(r.message->topic);
        return t;
    }
    std::string name;
    std::vector<Received> received;
    std::function<void(const MessagePtr&, const Delivery&)> on_deliver;
};

// Subscribers matched by `topic`, one entry per matching subscription, sorted.
inline std::vector<Subscriber*> matches(const TopicTree& tree, std::string_view topic) {
    std::vector<Subscriber*> out;
    tree.match(topic, [&](Subscriber* s, const SubOptions&) { out.push_back(s); });
    std::sort(out.begin(), out.end());
    return out;
}

// Topics of retained messages matched by `filter`, sorted.
inline std::vector<std::string> retained_topics(RetainedStore& store, std::string_view filter,
                                                int64_t now_ms = 0) {
    std::vector<std::string> out;
    store.match(filter, now_ms, [&](const MessagePtr& m) { out.push_back(m->topic); });
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace duplex::test
