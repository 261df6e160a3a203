// SUBSCRIBE and UNSUBSCRIBE (MQTT 3.8 - 3.11), including MQTT 5
// subscription options, identifiers and shared subscriptions.
#include "protocols/mqtt/connection.h"

#include "base/log.h"
#include "base/printable.h"
#include "broker/shared_subscription.h"
#include "broker/topic.h"

#include <algorithm>

namespace duplex::mqtt {

void Connection::handle_subscribe(Subscribe& sub) {
    Session& s = *session_;
    const bool v5 = version_ == Version::v5;
    const uint8_t failure = 0x80;  // 3.1.1 SUBACK failure code
    Suback ack;
    ack.packet_id = sub.packet_id;
    uint32_t subscription_id =
        sub.properties.subscription_identifiers.empty() ? 0 : sub.properties.subscription_identifiers.front();
    struct Granted {
        std::string_view filter;
        SubOptions options;
    };
    std::vector<Granted> retained_for;
    for (const SubscribeTopic& t : sub.topics) {
        std::string_view group, inner;
        bool shared_ok = false;
        bool shared = SharedGroup::parse(t.filter, group, inner, shared_ok);
        if ((shared ? !shared_ok : !valid_topic_filter(t.filter)) || !core_.topic_depth_ok(t.filter)) {
            log::warn("client {}: invalid topic filter of {} bytes ({} levels, max_topic_levels {})", name(),
                      t.filter.size(), topic_levels(t.filter), core_.limits().max_topic_levels);
            ack.reason_codes.push_back(v5 ? uint8_t(Reason::TopicFilterInvalid) : failure);
            continue;
        }
        if (shared && v5 && t.no_local) {
            fail(Reason::ProtocolError, "No Local on a shared subscription [MQTT-3.8.3-4]");
            return;
        }
        if (!core_.security().allows(client_info(), Resource::Topic, shared ? inner : t.filter,
                                     Access::Subscribe)) {
            static log::Throttled throttle;
            throttle.warn("client {}: not authorized to subscribe to {}", name(), printable(t.filter, 64));
            ack.reason_codes.push_back(v5 ? uint8_t(Reason::NotAuthorized) : failure);
            continue;
        }
        SubOptions o;
        o.qos = std::min<uint8_t>(t.qos, 2);
        if (v5) {
            o.no_local = t.no_local;
            o.retain_as_published = t.retain_as_published;
            o.retain_handling = t.retain_handling;
            o.subscription_id = subscription_id;
        }
        if (!s.subscriptions().count(t.filter) &&
            s.subscriptions().size() >= core_.limits().max_subscriptions) {
            log::warn("client {}: more than max_subscriptions ({}): refused", name(),
                      core_.limits().max_subscriptions);
            ack.reason_codes.push_back(v5 ? uint8_t(Reason::QuotaExceeded) : failure);
            continue;
        }
        bool is_new = core_.subscribe(s, std::string(t.filter), o);
        ack.reason_codes.push_back(o.qos);
        // Retained messages: always for 3.1.1 [MQTT-3.3.1-6]; for 5.0 per
        // Retain Handling (0 always, 1 only for a new subscription, 2 never);
        // never for shared subscriptions [MQTT-3.8.4-?, 4.8.2].
        if (!shared && (o.retain_handling == 0 || (o.retain_handling == 1 && is_new)))
            retained_for.push_back(Granted{t.filter, o});
    }
    send(ack);
    // Queued as the client drains, however many there are (Session::send_retained).
    for (const Granted& g : retained_for)
        s.send_retained(core_.router(), std::string(g.filter), g.options, now_ms());
    log::debug("client {}: subscribed to {} filter(s)", name(), sub.topics.size());
}

void Connection::handle_unsubscribe(Unsubscribe& unsub) {
    Session& s = *session_;
    Unsuback ack;
    ack.packet_id = unsub.packet_id;
    for (std::string_view filter : unsub.filters) {
        bool existed = core_.unsubscribe(s, filter);
        if (version_ == Version::v5)
            ack.reason_codes.push_back(existed ? 0 : uint8_t(Reason::NoSubscriptionExisted));
    }
    send(ack);
}

}  // namespace duplex::mqtt
