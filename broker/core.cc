#include "broker/core.h"

#include "base/log.h"
#include "base/printable.h"

#include <chrono>
#include <vector>

namespace duplex {

Core::Core(const Config& config, Security::Post post)
    : config_(config),
      security_(config_.security, config_.commands, hooks_, std::move(post),
                config_.tls.use_identity_as_username) {
    router_.retained_store().set_limits(config_.limits.max_retained_messages,
                                        config_.limits.max_retained_bytes);
}

PublishResult Core::publish(const MessagePtr& message) {
    if (!topic_depth_ok(message->topic)) {
        static log::Throttled throttle;
        throttle.warn("message on a topic of {} levels (max_topic_levels {}) not routed",
                      topic_levels(message->topic), config_.limits.max_topic_levels);
        return {};
    }
    PublishResult r = router_.publish(message, now_ms());
    if (r.retain_refused) {
        static log::Throttled throttle;
        throttle.warn(
            "retained store full (max_retained_messages {}, max_retained_bytes {}): {} not retained",
            config_.limits.max_retained_messages, config_.limits.max_retained_bytes,
            printable(message->topic, 64));
    }
    return r;
}

Core::~Core() {
    // Sessions and groups are subscribers: take them out of the tree before they go.
    for (auto& [id, session] : sessions_)
        for (auto& [filter, options] : session->subscriptions()) router_.unsubscribe(filter, session.get());
    for (auto& [key, group] : shared_) router_.unsubscribe(group->filter(), group.get());
}

bool Core::subscribe(Session& session, const std::string& filter, const SubOptions& options) {
    std::string_view group, inner;
    bool valid = false;
    bool is_new = session.add_subscription(filter, options);
    if (!SharedGroup::parse(filter, group, inner, valid)) {
        router_.subscribe(filter, &session, options);
        return is_new;
    }
    std::string key = filter.substr(7);  // "group/filter"
    auto it = shared_.find(std::string_view(key));
    if (it == shared_.end()) {
        auto g = std::make_unique<SharedGroup>(std::string(group), std::string(inner));
        SubOptions all;
        all.qos = 2;  // each member's own QoS applies when the group hands a message on
        router_.subscribe(g->filter(), g.get(), all);
        it = shared_.emplace(key, std::move(g)).first;
    }
    it->second->add(&session, options);
    return is_new;
}

bool Core::unsubscribe(Session& session, std::string_view filter) {
    if (!session.remove_subscription(filter)) return false;
    std::string_view group, inner;
    bool valid = false;
    if (!SharedGroup::parse(filter, group, inner, valid)) return router_.unsubscribe(filter, &session);
    auto it = shared_.find(filter.substr(7));
    if (it == shared_.end()) return false;
    SharedGroup* g = it->second.get();
    g->remove(&session);
    // Messages this member still holds from the group stay with it (it
    // unsubscribed, it did not leave), but must not point at a dead group.
    if (g->empty()) {
        session.forget_group(g);
        router_.unsubscribe(g->filter(), g);
        shared_.erase(it);
    }
    return true;
}

void Core::delay_will(const std::string& client_id, MessagePtr will, int64_t due_ms) {
    delayed_wills_.insert_or_assign(client_id, DelayedWill{std::move(will), due_ms});
}

void Core::cancel_will(std::string_view client_id) {
    auto it = delayed_wills_.find(client_id);
    if (it == delayed_wills_.end()) return;
    log::info("client {}: reconnected within the will delay, will cancelled", client_id);
    delayed_wills_.erase(it);
}

void Core::publish_delayed_will(std::string_view client_id) {
    auto it = delayed_wills_.find(client_id);
    if (it == delayed_wills_.end()) return;
    MessagePtr will = std::move(it->second.will);
    delayed_wills_.erase(it);
    log::info("client {}: publishing delayed will on {}", client_id, will->topic);
    publish(will);
}

Session* Core::find_session(std::string_view client_id) {
    auto it = sessions_.find(client_id);
    return it == sessions_.end() ? nullptr : it->second.get();
}

Session& Core::create_session(const std::string& client_id) {
    remove_session(client_id);
    auto session =
        std::make_unique<Session>(client_id, config_.limits, &backpressure_, &persistent_sessions_);
    session->set_origin_id(next_id());
    session->set_security(&security_);
    Session& ref = *session;
    sessions_.emplace(std::string_view(ref.client_id()), std::move(session));
    return ref;
}

void Core::remove_session(const std::string& client_id) {
    auto it = sessions_.find(std::string_view(client_id));
    if (it == sessions_.end()) return;
    std::unique_ptr<Session> s = std::move(it->second);
    sessions_.erase(it);
    while (!s->subscriptions().empty()) {
        std::string filter = s->subscriptions().begin()->first;
        unsubscribe(*s, filter);
    }
    // A shared-subscription member that leaves does not take its unacknowledged
    // QoS 1/2 messages with it: they go to the rest of its group.
    s->hand_back_shared([](SharedGroup& group, const Outgoing& o) {
        Delivery d;
        d.qos = o.qos;
        group.deliver(o.message, d);
    });
    // Its will, if delayed, is due now that the session is over [MQTT-3.1.3-9].
    publish_delayed_will(client_id);
    // The session's outbox goes with it, releasing any publisher it held.
}

void Core::expire_sessions(int64_t now) {
    std::vector<std::string> expired;
    for (auto& [id, s] : sessions_) {
        if (s->expired(now)) expired.emplace_back(id);
    }
    for (auto& id : expired) {
        log::info("session {} expired", id);
        remove_session(id);
    }
    std::vector<std::string> due;
    for (auto& [id, w] : delayed_wills_)
        if (w.due_ms <= now) due.push_back(id);
    for (auto& id : due) publish_delayed_will(id);
}

}  // namespace duplex
