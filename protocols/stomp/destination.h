// STOMP destinations and what they mean in duplex:
//
//   /topic/<name>               pub/sub on the shared topic tree; <name> is the
//                               MQTT topic as is (/topic/led/status = led/status).
//                               SUBSCRIBE may use MQTT wildcards + and #.
//   /queue/<name>               point-to-point queue (one consumer per message).
//   /temp-queue/<name>          a queue private to this connection (reply-to).
//   /remote-temp-queue/<id>/<n> another connection's temp queue, as rewritten in
//                               reply-to headers; SEND only.
//
// Anything else is refused with an ERROR frame.
#pragma once

#include "broker/queue.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace duplex::stomp {

struct Destination {
    enum class Kind : uint8_t { Topic, Queue, TempQueue, RemoteTempQueue };
    Kind kind = Kind::Topic;
    std::string name;    // topic name / filter, queue name, temp name, or "<id>/<name>" (remote)
    std::string header;  // the destination as the client wrote it
    bool is_queue() const { return kind != Kind::Topic; }
};

inline constexpr std::string_view kTopicPrefix = "/topic/";
inline constexpr std::string_view kQueuePrefix = "/queue/";
inline constexpr std::string_view kTempQueuePrefix = "/temp-queue/";
// Another connection's temp queue: its reply address (broker/queue.h).
inline constexpr std::string_view kRemoteTempQueuePrefix = kReplyAddressPrefix;

// Parses `text`; returns nullptr on success or a static error text. Topic
// names are checked as MQTT names (SEND) or filters (SUBSCRIBE).
const char* parse_destination(std::string_view text, bool subscribe, Destination& out);

// Queue keys (queue_key, temp_queue_key) are the core's: broker/queue.h.

}  // namespace duplex::stomp
