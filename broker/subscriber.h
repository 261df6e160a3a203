// Anything that receives messages from the topic tree: an MQTT session, a
// STOMP subscription, an in-process callback.
#pragma once

#include "broker/message.h"

#include <cstdint>
#include <span>
#include <vector>

namespace duplex {

// Options of one subscription (MQTT 5 3.8.3.1; STOMP uses qos only).
struct SubOptions {
    uint8_t qos = 0;
    bool no_local = false;
    bool retain_as_published = false;
    uint8_t retain_handling = 0;
    uint32_t subscription_id = 0;  // 0 = none
};

// How one message reaches one subscriber.
struct Delivery {
    uint8_t qos = 0;      // min(published QoS, granted QoS)
    bool retain = false;  // retain flag to send
    std::span<const uint32_t> subscription_ids;
};

class Outbox;

class Subscriber {
  public:
    virtual ~Subscriber() = default;

    // Called on the loop thread. Must not block; queue and return. Returns
    // the outbox this message pushed over its limits, whose publisher should
    // be held back (broker/outbox.h, rule 3), or null.
    virtual Outbox* deliver(const MessagePtr& message, const Delivery& delivery) = 0;

    // Identity compared with Message::origin for No Local.
    uint64_t origin_id() const { return origin_id_; }
    void set_origin_id(uint64_t id) { origin_id_ = id; }

  private:
    friend class Router;
    uint64_t origin_id_ = 0;
    // Scratch state of Router::publish, so overlapping subscriptions of one
    // subscriber collapse into one delivery without a lookup table.
    uint64_t match_epoch_ = 0;
    uint8_t match_qos_ = 0;
    bool match_retain_as_published_ = false;
    std::vector<uint32_t> match_ids_;
};

}  // namespace duplex
