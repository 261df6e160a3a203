// Commands over topics, for every protocol at once: an in-process subscriber
// on "<command_prefix>/+" runs the command named by the last topic level and
// publishes the reply through the core, so MQTT 5, MQTT 3.1.1 and STOMP
// clients (and in-process publishers) all reach the same handlers.
//
// Where the reply goes, first match wins:
//   1. Message::response_topic (MQTT 5 Response Topic; STOMP reply-to /topic/x),
//   2. a STOMP reply-to temp queue (/temp-queue/x, rewritten by the STOMP handler),
//   3. "reply_to" in a JSON envelope payload (MQTT 3.1.1),
//   4. "<reply_prefix>/<name>".
// Correlation Data (STOMP correlation-id) is copied to the reply. The reply
// payload is the JSON response of broker/commands/request.h.
#pragma once

#include "duplex/broker.h"
#include "duplex/commands.h"

#include <functional>
#include <string>

namespace duplex::commands {

class TopicBridge {
  public:
    // Sends one reply: (target from the rules above, reply message options, payload).
    using Send = std::function<void(const std::string& target, PublishOptions, std::string payload)>;

    TopicBridge(Broker& broker, Commands& commands, CommandOptions options, Send send);
    ~TopicBridge();
    TopicBridge(const TopicBridge&) = delete;
    TopicBridge& operator=(const TopicBridge&) = delete;

  private:
    void on_request(const Message& m);

    Broker& broker_;
    Commands& commands_;
    CommandOptions options_;
    Send send_;
    SubscriptionId subscription_ = 0;
};

// The events-topic payload for one completed command:
// {"command": "on", "source": "ws 127.0.0.1:5000", "ok": true, "result": "on"}
// (or "error": "..." instead of "result").
std::string event_payload(const CommandRequest& request, const CommandResult& result);

}  // namespace duplex::commands
