// The broker's state that every protocol shares: configuration, the router
// (topic tree + retained messages), MQTT sessions by client id, queues, and
// the backpressure registry. Lives on the loop thread; protocol handlers get
// a reference to it.
#pragma once

#include "base/clock.h"
#include "broker/backpressure.h"
#include "broker/message.h"
#include "broker/queue.h"
#include "broker/router.h"
#include "broker/security.h"
#include "broker/session.h"
#include "broker/shared_subscription.h"
#include "broker/topic.h"
#include "duplex/config.h"
#include "duplex/hooks.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace duplex {

class Core final {
  public:
    // Throws std::runtime_error when a security file (password file, ACL,
    // token key) cannot be used. `post` runs a task on the loop thread
    // (asynchronous hooks answer through it); null runs it at once.
    explicit Core(const Config& config, Security::Post post = {});
    ~Core();

    const Config& config() const { return config_; }
    const Limits& limits() const { return config_.limits; }
    Router& router() { return router_; }
    // Point-to-point queues (STOMP /queue/...).
    Queues& queues() { return queues_; }

    // Unique non-zero ids for connections and assigned client ids.
    uint64_t next_id() { return ++last_id_; }

    // Routes a message: who it reached, and which outboxes it congested
    // (the publisher holds itself back on those: HeldPublisher::hold).
    // A topic deeper than max_topic_levels is not routed (the protocols refuse
    // it earlier with their own error; this is the safety net for the rest).
    PublishResult publish(const MessagePtr& message);
    // Within max_topic_levels.
    // A topic of fewer bytes than the limit cannot have more levels: no scan
    // for the usual short topic (the scan was 2 % of a QoS 1 message's cost).
    bool topic_depth_ok(std::string_view topic) const {
        return topic.size() < config_.limits.max_topic_levels ||
               topic_levels(topic) <= config_.limits.max_topic_levels;
    }
    Backpressure& backpressure() { return backpressure_; }

    // Embedder's hooks (consulted by security() after the built-in checks).
    Hooks& hooks() { return hooks_; }
    // Who may connect and do what (broker/security.h).
    Security& security() { return security_; }
    void client_connected(const ClientInfo& c) const {
        if (hooks_.connected) hooks_.connected(c);
    }
    void client_disconnected(const ClientInfo& c) const {
        if (hooks_.disconnected) hooks_.disconnected(c);
    }

    // MQTT sessions by client id.
    Session* find_session(std::string_view client_id);
    // A new, empty session for `client_id`; one that existed is removed first.
    Session& create_session(const std::string& client_id);
    // Unsubscribes everything the session holds and forgets it.
    void remove_session(const std::string& client_id);
    size_t session_count() const { return sessions_.size(); }
    size_t persistent_session_count() const { return persistent_sessions_; }

    // Ends persistent sessions whose expiry interval has passed since their
    // client disconnected (MQTT 5 Session Expiry Interval), and publishes
    // delayed wills that are due.
    void expire_sessions(int64_t now_ms);

    // A session's subscription, plain or shared ("$share/group/filter").
    // Returns true if it is new. The filter must be valid.
    bool subscribe(Session& session, const std::string& filter, const SubOptions& options);
    bool unsubscribe(Session& session, std::string_view filter);

    // MQTT 5 Will Delay Interval: the will of `client_id` is published at
    // `due_ms` unless cancelled by a new connection of that client first, or
    // earlier if its session ends [MQTT-3.1.3-9].
    void delay_will(const std::string& client_id, MessagePtr will, int64_t due_ms);
    void cancel_will(std::string_view client_id);

  private:
    Config config_;
    Backpressure backpressure_;  // before everything that holds an Outbox
    Router router_;
    Queues queues_{config_.limits, &backpressure_};
    Hooks hooks_;
    Security security_;
    uint64_t last_id_ = 0;
    size_t persistent_sessions_ = 0;  // kept by the sessions themselves
    // Keyed by a view of the session's own client id: one copy of the id.
    std::unordered_map<std::string_view, std::unique_ptr<Session>, StringHash, std::equal_to<>> sessions_;
    // Shared subscription groups by "group/filter".
    std::unordered_map<std::string, std::unique_ptr<SharedGroup>, StringHash, std::equal_to<>> shared_;
    struct DelayedWill {
        MessagePtr will;
        int64_t due_ms;
    };
    std::unordered_map<std::string, DelayedWill, StringHash, std::equal_to<>> delayed_wills_;

    void publish_delayed_will(std::string_view client_id);
};

}  // namespace duplex
