// Assembles the broker: core state, the event loop, which protocol handler
// serves which kind of connection, and the embedding API.
#include "duplex/broker.h"

#include "base/log.h"
#include "broker/commands/bridge.h"
#include "broker/core.h"
#include "broker/message.h"
#include "broker/topic.h"
#include "net/loop.h"
#include "protocols/commands/connection.h"
#include "protocols/mqtt/connection.h"
#include "protocols/stomp/connection.h"

#include <atomic>
#include <stdexcept>
#include <thread>
#include <unordered_map>

namespace duplex {

namespace {
// An in-process subscription: a callback on the loop thread.
class CallbackSubscriber final : public Subscriber {
  public:
    explicit CallbackSubscriber(std::function<void(const Message&)> cb) : callback_(std::move(cb)) {}
    Outbox* deliver(const MessagePtr& message, const Delivery&) override {
        callback_(*message);
        return nullptr;
    }

  private:
    std::function<void(const Message&)> callback_;
};
}  // namespace

struct Broker::Impl {
    Core core;
    // Before the loop: handlers hold a reference. Destroyed after the loop,
    // so no connection outlives it; its door closes before core goes.
    Commands commands{[this](std::function<void()> task) { exec(std::move(task)); }, &now_ms};
    net::Loop loop;
    std::thread thread;
    std::atomic<bool> running{false};
    std::thread::id loop_thread;
    std::atomic<SubscriptionId> last_subscription{0};
    struct InProcess {
        std::string filter;
        std::unique_ptr<CallbackSubscriber> subscriber;
    };
    std::unordered_map<SubscriptionId, InProcess> subscriptions;
    std::unique_ptr<commands::TopicBridge> bridge;

    explicit Impl(const Config& config)
        : core(config, [this](std::function<void()> task) { exec(std::move(task)); }),
          loop(
              config,
              [this](net::Protocol protocol, net::Transport& t) -> std::unique_ptr<net::ProtocolHandler> {
                  switch (protocol) {
                      case net::Protocol::Mqtt:
                          return std::make_unique<mqtt::Connection>(core, t);
                      case net::Protocol::Stomp:
                          return std::make_unique<stomp::Connection>(core, t);
                      case net::Protocol::Commands:  // WebSocket without a subprotocol
                          return std::make_unique<commands::Connection>(commands, core, t);
                      default:
                          log::warn("{}: no handler for this protocol yet", t.peer());
                          return nullptr;
                  }
              },
              [this](int64_t now) {
                  core.expire_sessions(now);
                  commands.expire(now);
              }) {
        commands.set_timeout_ms(config.commands.command_timeout_ms);
        if (!config.commands.events_topic.empty())
            commands.set_observer([this, topic = config.commands.events_topic](const CommandRequest& req,
                                                                               const CommandResult& r) {
                PublishOptions o;
                o.content_type = "application/json";
                core.publish(make_message(topic, commands::event_payload(req, r), std::move(o), now_ms()));
            });
    }

    // Runs `task` now if nothing else can be touching the loop's state,
    // otherwise on the loop thread.
    void exec(std::function<void()> task) {
        if (!running.load() || std::this_thread::get_id() == loop_thread) task();
        else loop.post(std::move(task));
    }

    void serve() {
        loop_thread = std::this_thread::get_id();
        loop.run();
        log::info("shutting down: closing {} connection(s); wills of connected clients are published",
                  loop.connection_count());
    }
};

Broker::Broker(const Config& config) {
    log::Level level;
    if (log::parse_level(config.log_level, level)) log::set_level(level);
    impl_ = std::make_unique<Impl>(config);
    impl_->bridge = std::make_unique<commands::TopicBridge>(impl_->core, impl_->commands, config.commands);
    impl_->loop.set_origin_check([this](std::string_view origin, std::string_view host) {
        return impl_->core.security().origin_allowed(origin, host);
    });
    log::info("{}", impl_->core.security().exposure());
}

std::unique_ptr<Broker> Broker::from_json(std::string_view json) {
    Config config;
    if (auto err = apply_json_config(json, config); !err.empty()) throw std::runtime_error(err);
    return std::make_unique<Broker>(config);
}

Broker::~Broker() {
    stop();
    impl_->bridge.reset();
    // Callback subscribers leave the tree before the tree goes.
    for (auto& [id, s] : impl_->subscriptions) impl_->core.router().unsubscribe(s.filter, s.subscriber.get());
}

void Broker::run() {
    impl_->running = true;
    impl_->serve();
    impl_->running = false;
}

void Broker::start() {
    if (impl_->thread.joinable()) return;
    impl_->running = true;
    impl_->thread = std::thread([this] {
        impl_->serve();
        impl_->running = false;
    });
}

void Broker::stop() {
    impl_->loop.stop();
    if (impl_->thread.joinable() && std::this_thread::get_id() != impl_->thread.get_id())
        impl_->thread.join();
}

int Broker::port(std::string_view listener) const { return impl_->loop.port(listener); }

void Broker::publish(std::string topic, std::string payload, PublishOptions o) {
    MessagePtr m = make_message(std::move(topic), std::move(payload), std::move(o), now_ms());
    impl_->exec([this, m = std::move(m)] {
        if (!valid_topic_name(m->topic) || !impl_->core.topic_depth_ok(m->topic)) {
            log::warn("in-process publish to invalid topic '{}' ignored", m->topic);
            return;
        }
        impl_->core.publish(m);
    });
}

SubscriptionId Broker::subscribe(std::string filter, std::function<void(const Message&)> callback) {
    SubscriptionId id = ++impl_->last_subscription;
    impl_->exec([this, id, filter = std::move(filter), cb = std::move(callback)]() mutable {
        if (!valid_topic_filter(filter) || !impl_->core.topic_depth_ok(filter)) {
            log::warn("in-process subscription to invalid filter '{}' ignored", filter);
            return;
        }
        auto sub = std::make_unique<CallbackSubscriber>(std::move(cb));
        SubOptions o;
        o.qos = 2;
        impl_->core.router().retained(filter, now_ms(),
                                      [&](const MessagePtr& m) { sub->deliver(m, Delivery{}); });
        impl_->core.router().subscribe(filter, sub.get(), o);
        impl_->subscriptions.emplace(id, Impl::InProcess{std::move(filter), std::move(sub)});
    });
    return id;
}

void Broker::unsubscribe(SubscriptionId id) {
    auto task = [this, id] {
        auto it = impl_->subscriptions.find(id);
        if (it == impl_->subscriptions.end()) return;
        impl_->core.router().unsubscribe(it->second.filter, it->second.subscriber.get());
        impl_->subscriptions.erase(it);
    };
    // Deferred even on the loop thread: the callback being removed may be the
    // one running right now (a subscriber that unsubscribes itself), and the
    // router may still hold it in the list of the message being routed.
    if (impl_->running.load()) impl_->loop.post(std::move(task));
    else task();
}

void Broker::post(std::function<void()> task) { impl_->exec(std::move(task)); }

Hooks& Broker::hooks() { return impl_->core.hooks(); }

void Broker::reserve_topic(std::string filter) {
    impl_->exec(
        [this, filter = std::move(filter)]() mutable { impl_->core.security().reserve(std::move(filter)); });
}

void Broker::reload() {
    impl_->exec([this] {
        impl_->loop.reload_tls();
        std::string error = impl_->core.security().reload();
        if (error.empty()) log::info("reload: password file, ACL and token keys re-read");
        else log::error("reload: {} (kept the previous version)", error);
    });
}

Commands& Broker::commands() { return impl_->commands; }

void Broker::execute(std::string name, std::string args_json,
                     std::function<void(const CommandResult&)> done) {
    impl_->exec(
        [this, name = std::move(name), args = std::move(args_json), done = std::move(done)]() mutable {
            impl_->commands.execute(CommandRequest{std::move(name), std::move(args), "in-process"},
                                    std::move(done));
        });
}

}  // namespace duplex
