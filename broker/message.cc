#include "broker/message.h"

#include <algorithm>

namespace duplex {

MessagePtr make_message(Message fields, uint32_t expiry_seconds, int64_t now_ms) {
    fields.qos = std::min<uint8_t>(fields.qos, 2);
    fields.expires_at_ms = expiry_seconds ? now_ms + int64_t(expiry_seconds) * 1000 : 0;
    return std::make_shared<const Message>(std::move(fields));
}

MessagePtr make_message(std::shared_ptr<Message> fields, uint32_t expiry_seconds, int64_t now_ms) {
    fields->qos = std::min<uint8_t>(fields->qos, 2);
    fields->expires_at_ms = expiry_seconds ? now_ms + int64_t(expiry_seconds) * 1000 : 0;
    return fields;
}

MessagePtr make_message(std::string topic, std::string payload, PublishOptions o, int64_t now_ms) {
    Message m;
    m.topic = std::move(topic);
    m.payload = std::move(payload);
    m.qos = o.qos;
    m.retain = o.retain;
    m.content_type = std::move(o.content_type);
    m.user_properties = std::move(o.user_properties);
    m.response_topic = std::move(o.response_topic);
    if (!o.correlation_data.empty()) m.correlation_data = std::move(o.correlation_data);
    return make_message(std::move(m), o.message_expiry, now_ms);
}

}  // namespace duplex
