// The shared message type is public (include/duplex/message.h): embedders
// receive it in subscription callbacks. This header is where messages are
// made: every protocol and the embedding API fill the fields they carry and
// hand them here, which derives the rest the same way for all of them.
#pragma once

#include "duplex/message.h"

#include <cstdint>

namespace duplex {

// Freezes `fields` into a shared message: QoS clamped to 2, a relative
// Message Expiry Interval (`expiry_seconds`, 0 = never) turned into clock
// time from `now_ms`. `fields.expires_at_ms` is ignored.
MessagePtr make_message(Message fields, uint32_t expiry_seconds, int64_t now_ms);
// The same for fields filled in place (no move of the whole Message: the hot
// path of every PUBLISH and SEND).
MessagePtr make_message(std::shared_ptr<Message> fields, uint32_t expiry_seconds, int64_t now_ms);

// The same from an in-process publisher's options; `origin` 0 (in-process).
MessagePtr make_message(std::string topic, std::string payload, PublishOptions options, int64_t now_ms);

}  // namespace duplex
