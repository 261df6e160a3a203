// Commands over topics, for every protocol at once: a subscriber on
// "<command_prefix>/+" runs the command named by the last topic level and
// publishes the reply through the core, so MQTT 5, MQTT 3.1.1 and STOMP
// clients (and in-process publishers) all reach the same handlers.
//
// Where the reply goes, first match wins:
//   1. Message::response_topic (MQTT 5 Response Topic; STOMP reply-to /topic/x),
//   2. a STOMP reply-to temp queue (its reply address, broker/queue.h),
//   3. "reply_to" in a JSON envelope payload (MQTT 3.1.1),
//   4. "<reply_prefix>/<name>".
// Correlation Data (STOMP correlation-id) is copied to the reply. The reply
// payload is the JSON response of broker/commands/request.h.
//
// A core component: it talks to the Core (router, queues) and the command
// registry directly, not to the public Broker facade that owns it.
// Threading: loop thread only; replies from handlers on other threads come
// back through the registry's door (Commands posts them to the loop).
#pragma once

#include "broker/subscriber.h"
#include "duplex/commands.h"
#include "duplex/config.h"

#include <string>

namespace duplex {
class Core;
}

namespace duplex::commands {

class TopicBridge final : public Subscriber {
  public:
    // Subscribes at once (if the prefix is not empty); unsubscribes when destroyed.
    TopicBridge(Core& core, Commands& commands, CommandOptions options);
    ~TopicBridge() override;
    TopicBridge(const TopicBridge&) = delete;
    TopicBridge& operator=(const TopicBridge&) = delete;

    Outbox* deliver(const MessagePtr& message, const Delivery& delivery) override;

  private:
    void on_request(const Message& m);
    void send_reply(const std::string& target, PublishOptions options, std::string payload);

    Core& core_;
    Commands& commands_;
    CommandOptions options_;
    std::string filter_;  // empty when not subscribed
    // Replies completing after the bridge is gone find this expired.
    std::shared_ptr<TopicBridge*> self_ = std::make_shared<TopicBridge*>(this);
};

// The events-topic payload for one completed command:
// {"command": "on", "source": "ws", "ok": true, "result": "on"}  (ws, topic, in-process)
// (or "error": "..." instead of "result"). `source` is the path the command
// came by, never the client's address (the events topic is widely read).
std::string event_payload(const CommandRequest& request, const CommandResult& result);

}  // namespace duplex::commands
