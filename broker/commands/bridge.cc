#include "broker/commands/bridge.h"

#include "broker/commands/request.h"
#include "base/log.h"
#include "broker/topic.h"

#include <fmt/core.h>

namespace duplex::commands {

TopicBridge::TopicBridge(Broker& broker, Commands& commands, CommandOptions options, Send send)
    : broker_(broker), commands_(commands), options_(std::move(options)), send_(std::move(send)) {
    if (options_.command_prefix.empty()) return;
    subscription_ =
        broker_.subscribe(options_.command_prefix + "/+", [this](const Message& m) { on_request(m); });
    log::info("commands: publish to {}/<name> (replies: response topic, reply_to, or {}/<name>)",
              options_.command_prefix, options_.reply_prefix);
}

TopicBridge::~TopicBridge() {
    if (subscription_) broker_.unsubscribe(subscription_);
}

void TopicBridge::on_request(const Message& m) {
    std::string_view topic = m.topic;
    std::string name(topic.substr(topic.rfind('/') + 1));

    // Where the reply goes (see bridge.h).
    std::string target = m.response_topic;
    if (target.empty())
        for (auto& [k, v] : m.user_properties)
            if (k == "reply-to" && v.starts_with("/remote-temp-queue/")) target = v;
    ParsedRequest req = parse_bridge_payload(m.payload);
    if (target.empty()) target = req.reply_to;
    if (target.empty()) target = options_.reply_prefix + "/" + name;
    if (!target.starts_with("/") &&
        (!valid_topic_name(target) || target.starts_with(options_.command_prefix + "/"))) {
        log::warn("commands: '{}' request with reply topic '{}' ignored (invalid, or a command topic)", name,
                  target);
        return;
    }

    PublishOptions reply_options;
    reply_options.qos = m.qos;
    reply_options.content_type = "application/json";
    if (m.correlation_data) reply_options.correlation_data = *m.correlation_data;

    auto reply = [send = send_, target, reply_options, id = req.id](const CommandResult& r) {
        send(target, reply_options, json_response(id, r));
    };
    if (!req.error.empty()) {
        reply({.ok = false, .result = "null", .error = req.error});
        return;
    }
    CommandRequest request{name, std::move(req.args), "topic " + m.topic};
    commands_.execute(std::move(request), reply);
}

std::string event_payload(const CommandRequest& request, const CommandResult& result) {
    std::string head = fmt::format("{{\"command\":{},\"source\":{},\"ok\":{}", json_quote(request.name),
                                   json_quote(request.source), result.ok ? "true" : "false");
    if (result.ok) return fmt::format("{},\"result\":{}}}", head, result.result.empty() ? "null" : result.result);
    return fmt::format("{},\"error\":{}}}", head, json_quote(result.error));
}

}  // namespace duplex::commands
