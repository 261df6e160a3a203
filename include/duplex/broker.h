// duplex: an embeddable MQTT + STOMP broker over WebSocket and TCP.
//
//   duplex::Broker broker(duplex::Config{.ws = {.port = 8080}});
//   broker.subscribe("led/#", [](const duplex::Message& m) { ... });
//   broker.start();                       // serves on its own thread
//   broker.publish("led/status", "on", {.qos = 1, .retain = true});
//   ...
//   broker.stop();                        // closes connections, joins
//
// Threading: the broker runs one event loop on one thread (run() on the
// caller's thread, or start() on its own). publish(), subscribe(),
// unsubscribe(), post() and stop() may be called from any thread: they are
// posted to the loop thread (woken with lws_cancel_service) or run at once
// when called on it. Subscription callbacks and hooks run on the loop
// thread and must not block. Set hooks before run()/start().
#pragma once

#include "duplex/commands.h"
#include "duplex/config.h"
#include "duplex/hooks.h"
#include "duplex/message.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace duplex {

using SubscriptionId = uint64_t;

class Broker {
  public:
    // Binds every enabled listener. Throws std::runtime_error (naming the
    // listener) if one cannot be bound.
    explicit Broker(const Config& config);
    // The same from a JSON config (see config.h); throws std::runtime_error
    // with the parse error.
    static std::unique_ptr<Broker> from_json(std::string_view json);
    ~Broker();  // stops and joins if started
    Broker(const Broker&) = delete;
    Broker& operator=(const Broker&) = delete;

    // Serves on the calling thread until stop(). Connections are closed on return.
    void run();
    // Serves on a new thread; returns at once.
    void start();
    // Makes the loop return; joins the thread made by start() unless called on
    // it. Thread-safe.
    void stop();

    // Port actually bound by a listener: "ws", "mqtt", "stomp", "mqtts",
    // "stomps" or "wss"; 0 if off.
    int port(std::string_view listener) const;

    // In-process publish: reaches MQTT, STOMP and in-process subscribers alike.
    void publish(std::string topic, std::string payload, PublishOptions options = {});

    // In-process subscription to an MQTT topic filter ('+', '#'). The
    // callback sees messages published by any protocol, at most once per
    // message. Retained messages matching the filter are delivered first.
    SubscriptionId subscribe(std::string filter, std::function<void(const Message&)> callback);
    void unsubscribe(SubscriptionId id);

    // Runs `task` on the loop thread.
    void post(std::function<void()> task);

    Hooks& hooks();

    // Topics that only the broker and in-process code publish on (a device's
    // state, e.g. led/status): clients may not write them unless an ACL
    // grants it. $SYS/#, the reply prefix and the events topic are reserved
    // already. Any thread.
    void reserve_topic(std::string filter);

    // Re-reads what can change without a restart (the daemon calls it on
    // SIGHUP): the TLS certificate, key and CA files (used by new
    // connections; existing ones keep theirs), the password file, the ACL,
    // token keys. Each part logs its outcome; a part that fails keeps its
    // previous version. Any thread; the work runs on the loop thread.
    void reload();

    // The command registry (see commands.h): add() handlers before start()
    // or on the loop thread (e.g. inside post()). Reachable over a plain
    // WebSocket on the ws port, over MQTT/STOMP topics and in-process.
    Commands& commands();
    // Runs a command from any thread; `done` is called on the loop thread.
    void execute(std::string name, std::string args_json, std::function<void(const CommandResult&)> done);

    // Internal state, for the library's own components.
    struct Impl;
    Impl& impl() { return *impl_; }

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace duplex
