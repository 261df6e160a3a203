#include "broker/commands/bridge.h"

#include "base/clock.h"
#include "base/log.h"
#include "broker/commands/request.h"
#include "broker/core.h"
#include "broker/message.h"
#include "broker/queue.h"
#include "broker/topic.h"

#include <fmt/core.h>

namespace duplex::commands {

TopicBridge::TopicBridge(Core& core, Commands& commands, CommandOptions options)
    : core_(core), commands_(commands), options_(std::move(options)) {
    if (options_.command_prefix.empty()) return;
    filter_ = options_.command_prefix + "/+";
    SubOptions o;
    o.qos = 2;
    core_.router().subscribe(filter_, this, o);
    log::info("commands: publish to {}/<name> (replies: response topic, reply_to, or {}/<name>)",
              options_.command_prefix, options_.reply_prefix);
}

TopicBridge::~TopicBridge() {
    if (!filter_.empty()) core_.router().unsubscribe(filter_, this);
}

Outbox* TopicBridge::deliver(const MessagePtr& message, const Delivery&) {
    on_request(*message);
    return nullptr;
}

void TopicBridge::send_reply(const std::string& target, PublishOptions options, std::string payload) {
    if (target.starts_with(kReplyAddressPrefix)) {
        // A STOMP requester's temp queue, while its connection lives.
        if (Queue* q = core_.queues().find_reply_queue(target))
            q->push(make_message(target, std::move(payload), std::move(options), now_ms()));
        return;
    }
    if (!valid_topic_name(target)) return;
    core_.publish(make_message(target, std::move(payload), std::move(options), now_ms()));
}

void TopicBridge::on_request(const Message& m) {
    std::string_view topic = m.topic;
    std::string name(topic.substr(topic.rfind('/') + 1));

    // Where the reply goes (see bridge.h).
    std::string target = m.response_topic;
    if (target.empty())
        for (auto& [k, v] : m.user_properties)
            if (k == "reply-to" && v.starts_with(kReplyAddressPrefix)) target = v;
    ParsedRequest req = parse_bridge_payload(m.payload);
    if (target.empty()) target = req.reply_to;
    if (target.empty()) target = options_.reply_prefix + "/" + name;
    if (!target.starts_with("/") &&
        (!valid_topic_name(target) || target.starts_with(options_.command_prefix + "/"))) {
        log::warn("commands: '{}' request with reply topic '{}' ignored (invalid, or a command topic)", name,
                  target);
        return;
    }

    // The broker publishes a reply only where the requester may write
    // itself (a reply to someone else's topic would be a forged message);
    // the default reply topic and temp-queue reply addresses are fine.
    if (target != options_.reply_prefix + "/" + name && !target.starts_with("/") &&
        !core_.security().allows_origin(m.origin, Resource::Topic, target, Access::Publish)) {
        static log::Throttled throttle;
        throttle.warn("commands: '{}' request with reply topic '{}' ignored: the requester may not write it",
                      name, target);
        return;
    }
    PublishOptions reply_options;
    reply_options.qos = m.qos;
    reply_options.content_type = "application/json";
    if (m.correlation_data) reply_options.correlation_data = *m.correlation_data;

    auto reply = [self = std::weak_ptr<TopicBridge*>(self_), target, reply_options,
                  id = req.id](const CommandResult& r) {
        if (auto bridge = self.lock()) (*bridge)->send_reply(target, reply_options, json_response(id, r));
    };
    if (!req.error.empty()) {
        reply({.ok = false, .result = "null", .error = req.error});
        return;
    }
    CommandRequest request{name, std::move(req.args), "topic " + m.topic};
    commands_.execute(std::move(request), reply);
}

std::string event_payload(const CommandRequest& request, const CommandResult& result) {
    // Only the path ("ws", "mqtt", "stomp", "topic", "in-process"): every
    // subscriber of the events topic reads this, and a client's address or
    // topic is not theirs to see (the log has the full source).
    std::string_view path = request.source;
    path = path.substr(0, path.find(' '));
    std::string head = fmt::format("{{\"command\":{},\"source\":{},\"ok\":{}", json_quote(request.name),
                                   json_quote(path), result.ok ? "true" : "false");
    if (result.ok)
        return fmt::format("{},\"result\":{}}}", head, result.result.empty() ? "null" : result.result);
    return fmt::format("{},\"error\":{}}}", head, json_quote(result.error));
}

}  // namespace duplex::commands
