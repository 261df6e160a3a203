// One published message, shared (immutable) by every subscriber and queue
// that holds it, whatever protocol later carries it. Nothing copies the
// payload per subscriber: queues hold a MessagePtr. In-process subscribers
// receive it by const reference, valid for the duration of the callback.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace duplex {

struct Message {
    std::string topic;
    std::string payload;
    uint8_t qos = 0;      // QoS it was published with
    bool retain = false;  // retain flag as published

    // Metadata carried across protocols (MQTT 5 properties <-> STOMP headers).
    std::optional<uint8_t> payload_format;  // 1 = UTF-8 text
    std::string content_type;
    std::string response_topic;
    std::optional<std::string> correlation_data;
    std::vector<std::pair<std::string, std::string>> user_properties;
    int64_t expires_at_ms = 0;  // steady-clock ms; 0 = never expires

    // Identity of the publisher, for MQTT 5 No Local; 0 for in-process.
    uint64_t origin = 0;
};

using MessagePtr = std::shared_ptr<const Message>;

// What an in-process publisher sets (Broker::publish).
struct PublishOptions {
    uint8_t qos = 0;
    bool retain = false;
    std::string content_type;
    std::vector<std::pair<std::string, std::string>> user_properties;
    std::string response_topic;
    std::string correlation_data;  // empty = none
    uint32_t message_expiry = 0;   // seconds, 0 = never
};

}  // namespace duplex
