// State of one MQTT client session, kept by client id across connections
// (MQTT 4.1): subscriptions, messages queued for the client, QoS 1/2
// messages in flight both ways. Everything that must survive a reconnect
// (and, later, a restart) lives here and nowhere else; the connection object
// only holds what dies with the socket.
#pragma once

#include "broker/lazy_deque.h"
#include "broker/message.h"
#include "broker/subscriber.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace duplex {

struct Limits;
class SharedGroup;

// Packet ids in use, as a sorted vector: 24 bytes where std::set takes 48
// per session, and few ids are ever in use at once.
class PacketIdSet {
  public:
    size_t size() const { return ids_.size(); }
    size_t count(uint16_t id) const { return std::binary_search(ids_.begin(), ids_.end(), id) ? 1 : 0; }
    void insert(uint16_t id) {
        auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
        if (it == ids_.end() || *it != id) ids_.insert(it, id);
    }
    size_t erase(uint16_t id) {
        auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
        if (it == ids_.end() || *it != id) return 0;
        ids_.erase(it);
        return 1;
    }

  private:
    std::vector<uint16_t> ids_;
};

// A message on its way to this session's client.
struct Outbound {
    enum class State : uint8_t {
        Queued,       // not sent yet
        WaitPuback,   // QoS 1 PUBLISH sent
        WaitPubrec,   // QoS 2 PUBLISH sent
        WaitPubcomp,  // QoS 2 PUBREL sent
    };
    MessagePtr message;
    uint8_t qos = 0;
    bool retain = false;
    bool dup = false;         // set when resent after a reconnect [MQTT-3.3.1-1]
    uint16_t packet_id = 0;
    State state = State::Queued;
    std::vector<uint32_t> subscription_ids;
    // Set when the message came through a shared subscription: if this session
    // ends before acknowledging it, it goes to another member of the group.
    SharedGroup* shared = nullptr;
};

// Told when a session has something new to send.
class SessionOutput {
  public:
    virtual ~SessionOutput() = default;
    virtual void session_has_output() = 0;
    // Another connection took this session over: close without touching it again.
    virtual void session_taken_over() = 0;
};

class Session final : public Subscriber {
  public:
    // `congestion` (may be null) hears when a live client's queue passes its
    // limits, so publishers can be held back instead of messages dropped.
    Session(std::string client_id, const Limits& limits, CongestionSink* congestion = nullptr);

    const std::string& client_id() const { return client_id_; }

    // Persistent sessions outlive their connection (clean session = 0 /
    // Session Expiry Interval > 0).
    bool persistent = false;
    uint32_t expiry_interval = 0;    // seconds after disconnect; UINT32_MAX = never
    int64_t disconnected_at_ms = 0;  // 0 while connected

    std::map<std::string, SubOptions, std::less<>> subscriptions;

    // Messages not yet sent, in order.
    LazyDeque<Outbound> queue;
    // Sent QoS 1/2 messages awaiting their acknowledgement, in send order.
    LazyDeque<Outbound> inflight;
    // QoS 2 packet ids received from the client, PUBREC sent, PUBREL awaited:
    // a PUBLISH repeated with one of these ids is not routed again [MQTT-4.3.3-2].
    PacketIdSet incoming_qos2;

    void deliver(const MessagePtr& message, const Delivery& delivery) override;

    // Queues a message (used for retained messages on subscribe too).
    void enqueue(const MessagePtr& message, uint8_t qos, bool retain,
                 std::vector<uint32_t> subscription_ids = {}, SharedGroup* shared = nullptr);

    // A packet id not used by any in-flight message (never 0).
    uint16_t next_packet_id();

    // Removes and returns the in-flight entry with `packet_id` in `state`.
    Outbound* find_inflight(uint16_t packet_id);
    bool erase_inflight(uint16_t packet_id);

    void attach(SessionOutput* output) { output_ = output; }
    SessionOutput* output() const { return output_; }

    size_t queued_bytes() const { return queued_bytes_; }
    void on_dequeued(const Outbound& o) { queued_bytes_ -= o.message->payload.size(); }
    uint64_t dropped() const { return dropped_; }

    // Over its limits with publishers held back; cleared by drained().
    bool congested() const { return congested_; }
    // True once a congested queue is back under half its limits: the caller
    // then releases the held-back publishers.
    bool drained();

  private:
    bool make_room(uint8_t incoming_qos, size_t incoming_bytes);
    void push(const MessagePtr& message, uint8_t qos, bool retain,
              std::vector<uint32_t> subscription_ids, SharedGroup* shared);

    std::string client_id_;
    const Limits& limits_;
    SessionOutput* output_ = nullptr;
    uint16_t last_packet_id_ = 0;
    size_t queued_bytes_ = 0;
    uint64_t dropped_ = 0;
    CongestionSink* congestion_ = nullptr;
    bool congested_ = false;
};

}  // namespace duplex
