// SUBSCRIBE and UNSUBSCRIBE (MQTT 3.8 - 3.11).
#include "protocols/mqtt/connection.h"

#include "broker/log.h"
#include "broker/topic.h"

#include <algorithm>

namespace duplex::mqtt {

void Connection::handle_subscribe(Subscribe& sub) {
    Session& s = *session_;
    const bool v5 = version_ == Version::v5;
    Suback ack;
    ack.packet_id = sub.packet_id;
    std::vector<std::pair<std::string_view, SubOptions>> granted;
    for (const SubscribeTopic& t : sub.topics) {
        if (!valid_topic_filter(t.filter)) {
            log::warn("client {}: invalid topic filter '{}'", name(), t.filter);
            ack.reason_codes.push_back(v5 ? uint8_t(Reason::TopicFilterInvalid) : 0x80);
            continue;
        }
        SubOptions o;
        o.qos = std::min<uint8_t>(t.qos, 2);
        if (v5) {
            o.no_local = t.no_local;
            o.retain_as_published = t.retain_as_published;
            o.retain_handling = t.retain_handling;
            if (!sub.properties.subscription_identifiers.empty())
                o.subscription_id = sub.properties.subscription_identifiers.front();
        }
        bool is_new = core_.router().subscribe(t.filter, &s, o);
        s.subscriptions.insert_or_assign(std::string(t.filter), o);
        ack.reason_codes.push_back(o.qos);
        // Retained messages: always for 3.1.1 [MQTT-3.3.1-6]; for 5.0 per
        // Retain Handling (0 always, 1 only for a new subscription, 2 never).
        if (o.retain_handling == 0 || (o.retain_handling == 1 && is_new)) granted.emplace_back(t.filter, o);
    }
    send(ack);
    for (auto& [filter, o] : granted) {
        core_.router().retained(filter, Core::now_ms(), [&](const MessagePtr& m) {
            std::vector<uint32_t> ids;
            if (o.subscription_id) ids.push_back(o.subscription_id);
            // Retained messages sent because of a new subscription keep retain=1 [MQTT-3.3.1-8].
            s.enqueue(m, std::min(m->qos, o.qos), true, std::move(ids));
        });
    }
    log::debug("client {}: subscribed to {} filter(s)", name(), sub.topics.size());
}

void Connection::handle_unsubscribe(Unsubscribe& unsub) {
    Session& s = *session_;
    Unsuback ack;
    ack.packet_id = unsub.packet_id;
    for (std::string_view filter : unsub.filters) {
        bool existed = core_.router().unsubscribe(filter, &s);
        auto it = s.subscriptions.find(filter);
        if (it != s.subscriptions.end()) s.subscriptions.erase(it);
        if (version_ == Version::v5)
            ack.reason_codes.push_back(existed ? 0 : uint8_t(Reason::NoSubscriptionExisted));
    }
    send(ack);
}

}  // namespace duplex::mqtt
