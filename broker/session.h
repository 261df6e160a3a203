// State of one MQTT client session, kept by client id across connections
// (MQTT 4.1): subscriptions, messages queued for the client, QoS 1/2
// messages in flight both ways. Everything that must survive a reconnect
// (and, later, a restart) lives here and nowhere else; the connection object
// only holds what dies with the socket.
//
// The session owns its invariants: its containers are private and changed
// only through the intent-level operations below (queue a message, take the
// next one to send within a window, acknowledge a packet id in the state it
// should be in, record an incoming QoS 2 id, go offline), so accounting and
// backpressure (broker/outbox.h) cannot drift from what is queued.
//
// Threading: loop thread only.
#pragma once

#include "broker/lazy_deque.h"
#include "broker/message.h"
#include "broker/outbox.h"
#include "broker/retained_cursor.h"
#include "broker/subscriber.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace duplex {

struct Limits;
class Backpressure;
class Router;
class SharedGroup;
class Security;

// Packet ids in use: a sorted vector while few (24 bytes where std::set
// takes 48 per session, and few ids are ever in use at once), an 8 KiB
// bitmap of the whole id space beyond kSmall, so even a client that keeps
// all 65,535 ids open costs bounded memory and O(1) per packet.
class PacketIdSet {
  public:
    static constexpr size_t kSmall = 64;
    size_t size() const { return bits_ ? count_ : ids_.size(); }
    size_t count(uint16_t id) const {
        if (bits_) return ((*bits_)[id / 64] >> (id % 64)) & 1;
        return std::binary_search(ids_.begin(), ids_.end(), id) ? 1 : 0;
    }
    void insert(uint16_t id) {
        if (!bits_ && ids_.size() >= kSmall) {
            bits_ = std::make_unique<std::array<uint64_t, 1024>>();
            bits_->fill(0);
            for (uint16_t i : ids_) (*bits_)[i / 64] |= uint64_t(1) << (i % 64);
            count_ = ids_.size();
            std::vector<uint16_t>().swap(ids_);
        }
        if (bits_) {
            uint64_t& word = (*bits_)[id / 64];
            uint64_t bit = uint64_t(1) << (id % 64);
            if (!(word & bit)) ++count_;
            word |= bit;
            return;
        }
        auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
        if (it == ids_.end() || *it != id) ids_.insert(it, id);
    }
    size_t erase(uint16_t id) {
        if (bits_) {
            uint64_t& word = (*bits_)[id / 64];
            uint64_t bit = uint64_t(1) << (id % 64);
            if (!(word & bit)) return 0;
            word &= ~bit;
            if (--count_ == 0) bits_.reset();  // back to the small form
            return 1;
        }
        auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
        if (it == ids_.end() || *it != id) return 0;
        ids_.erase(it);
        return 1;
    }

  private:
    std::vector<uint16_t> ids_;
    std::unique_ptr<std::array<uint64_t, 1024>> bits_;
    size_t count_ = 0;  // with bits_
};

// A QoS 1/2 message sent to the client and not yet acknowledged.
struct InFlight {
    enum class State : uint8_t {
        WaitPuback,   // QoS 1 PUBLISH sent
        WaitPubrec,   // QoS 2 PUBLISH sent
        WaitPubcomp,  // QoS 2 PUBREL sent
    };
    Outgoing out;
    uint16_t packet_id = 0;
    State state = State::WaitPuback;
    bool dup = false;  // set when resent after a reconnect [MQTT-3.3.1-1]
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
    // `backpressure` (may be null) lets a live client's queue hold its
    // publishers back instead of dropping QoS 1/2 messages.
    // `persistent_count` (may be null) is kept equal to the number of
    // persistent sessions that point at it.
    Session(std::string client_id, const Limits& limits, Backpressure* backpressure = nullptr,
            size_t* persistent_count = nullptr);
    ~Session() override { set_expiry_interval(0); }

    const std::string& client_id() const { return client_id_; }

    // --- lifetime ---------------------------------------------------------
    // Seconds the session outlives its connection (MQTT 5 Session Expiry
    // Interval; 3.1.1 clean session 0 -> 0, else never = UINT32_MAX).
    // Persistent sessions are those with an expiry > 0.
    void set_expiry_interval(uint32_t seconds) {
        if (persistent_count_) *persistent_count_ += size_t(seconds > 0) - size_t(expiry_interval_ > 0);
        expiry_interval_ = seconds;
    }
    uint32_t expiry_interval() const { return expiry_interval_; }
    bool persistent() const { return expiry_interval_ > 0; }
    // True when the session's client has been away for its expiry interval.
    bool expired(int64_t now_ms) const;

    // A connection takes the session (and is told of new output).
    void go_online(SessionOutput* output);
    // Its connection is gone: QoS 0 messages are dropped (not kept for an
    // absent client), the queue stops holding publishers back, storage is
    // given back, and the expiry clock starts.
    void go_offline(int64_t now_ms);
    SessionOutput* output() const { return output_; }

    // --- identity -------------------------------------------------------------
    // The identity that made the session (broker/security.h): another one
    // may not take it over. Anonymous owners are identified by the name they
    // claimed, which proves nothing: use authentication to protect sessions.
    void set_owner(std::string username, bool authenticated) {
        owner_ = std::move(username);
        owner_authenticated_ = authenticated;
    }
    bool owned_by(std::string_view username, bool authenticated) const {
        return owner_authenticated_ == authenticated && owner_ == username;
    }
    // Every message queued for the client passes `security`'s ACL read check
    // for the owner (when an ACL is loaded). Null: no check (tests).
    void set_security(Security* security) { security_ = security; }

    // --- subscriptions ------------------------------------------------------
    // Records a subscription's options; true if the filter is new.
    bool add_subscription(const std::string& filter, const SubOptions& options);
    bool remove_subscription(std::string_view filter);
    const std::map<std::string, SubOptions, std::less<>>& subscriptions() const { return subscriptions_; }

    // --- messages to the client ----------------------------------------------
    Outbox* deliver(const MessagePtr& message, const Delivery& delivery) override;
    // Queues a live message (a shared group's pick; deliver()). Returns the
    // session's outbox if the message congested it (see
    // Subscriber::deliver), else null. A retained message on the same topic
    // still waiting in a backlog (send_retained) is queued first.
    Outbox* enqueue(const MessagePtr& message, uint8_t qos, bool retain,
                    std::vector<uint32_t> subscription_ids = {}, SharedGroup* shared = nullptr);
    // The retained messages for a new subscription to `filter` (MQTT
    // 3.3.1-6; Retain Handling is the caller's), with retain=1
    // [MQTT-3.3.1-8], min(message QoS, granted QoS) and the subscription's
    // identifier. Queued while the queue is under half its limits
    // (Outbox::has_room_for_backlog); the rest wait in a backlog (a
    // RetainedCursor) and are queued as the client drains, never overtaking
    // a later live message on their topic. At most max_retained_messages
    // wait per session (more are dropped and logged); a subscription made
    // again replaces what its filter still had waiting; unsubscribing drops
    // it; going offline drops its QoS 0 part.
    void send_retained(Router& router, const std::string& filter, const SubOptions& options, int64_t now_ms);
    // Retained messages waiting in backlogs, not yet queued.
    size_t retained_pending() const;

    // The message to write next, or null when nothing can be sent now: the
    // queue is empty, or the next message is QoS 1/2 and `window` messages
    // are in flight already. Expired messages met on the way are dropped.
    // A QoS 1/2 message has its packet id set (`packet_id`).
    const Outgoing* next_to_send(size_t window, int64_t now_ms, uint16_t& packet_id);
    // The message next_to_send() returned was written (or dropped as if
    // sent, `written` false): it leaves the queue; QoS 1/2 that was written
    // goes in flight awaiting its acknowledgement.
    void sent(bool written, uint16_t packet_id);
    // More could be written now (see next_to_send).
    bool has_sendable(size_t window) const;
    size_t queued() const { return outbox_.messages(); }
    size_t queued_bytes() const { return outbox_.bytes(); }
    uint64_t dropped() const { return outbox_.dropped(); }
    bool congested() const { return outbox_.congested(); }
    int64_t congested_since_ms() const { return outbox_.congested_since_ms(); }
    // Drops every queued QoS 0 message (counted): the first thing a client
    // that stays congested loses. Returns how many.
    size_t drop_queued_qos0() {
        uint64_t before = outbox_.dropped();
        outbox_.drop_qos0();
        if (!retained_.empty()) refill_retained();
        return outbox_.dropped() - before;
    }
    const Outbox& outbox() const { return outbox_; }
    // The queued messages, oldest first (tests, inspection).
    void for_each_queued(const std::function<void(const Outgoing&)>& each) const;

    // --- QoS 1/2 in flight to the client -----------------------------------
    // The acknowledgement `state` expects (PUBACK: WaitPuback; PUBCOMP:
    // WaitPubcomp; a PUBREC with an error: WaitPubrec) for `packet_id`: the
    // flow ends. False, and nothing changes, for an unknown id or one in
    // another state.
    bool acknowledge(uint16_t packet_id, InFlight::State state);
    // PUBREC for `packet_id`: the flow moves on to PUBREL (also when PUBREC
    // is repeated). False for an unknown id or a QoS 1 one.
    bool received_pubrec(uint16_t packet_id);
    size_t in_flight() const { return inflight_.size(); }
    // After a reconnect: every in-flight message, oldest first, marked DUP
    // if it is a PUBLISH to resend [MQTT-4.4.0-1].
    void for_each_to_resend(const std::function<void(const InFlight&)>& each);

    // --- QoS 2 from the client ---------------------------------------------
    // A PUBLISH with this id was routed and its PUBREL is awaited: a repeat
    // is acknowledged but not routed again [MQTT-4.3.3-2].
    bool awaiting_pubrel(uint16_t packet_id) const { return incoming_qos2_.count(packet_id) > 0; }
    void record_incoming_qos2(uint16_t packet_id) { incoming_qos2_.insert(packet_id); }
    // PUBREL: true if the id was awaited.
    bool release_incoming_qos2(uint16_t packet_id) { return incoming_qos2_.erase(packet_id) > 0; }
    size_t incoming_qos2() const { return incoming_qos2_.size(); }

    // --- shared subscriptions ----------------------------------------------
    // The group is gone: messages from it stay, but no longer point at it.
    void forget_group(const SharedGroup* group);
    // The session ends: every unacknowledged QoS 1/2 message that came through
    // a shared subscription (and whose PUBREL was not sent) goes to `hand_on`.
    void hand_back_shared(const std::function<void(SharedGroup&, const Outgoing&)>& hand_on);

    // Gives the storage of empty containers back (called on the tick).
    void compact();

  private:
    // The retained messages one subscription still has to receive.
    struct RetainedBacklog {
        std::string filter;
        SubOptions options;
        std::unique_ptr<RetainedCursor> cursor;
    };

    uint16_t next_packet_id();
    InFlight* find_inflight(uint16_t packet_id);
    Outbox* offer(const MessagePtr& message, uint8_t qos, bool retain, std::vector<uint32_t> subscription_ids,
                  SharedGroup* shared);
    void queue_retained(const SubOptions& options, const MessagePtr& message);
    // Queues backlog messages while the queue has room for them.
    void refill_retained();
    // Queues every backlog's message on `topic`: a live one follows.
    void release_retained_before(std::string_view topic);

    std::string client_id_;
    std::string owner_;
    bool owner_authenticated_ = false;
    Security* security_ = nullptr;
    SessionOutput* output_ = nullptr;
    size_t* persistent_count_ = nullptr;
    uint32_t expiry_interval_ = 0;
    int64_t disconnected_at_ms_ = 0;  // 0 while connected
    uint16_t last_packet_id_ = 0;
    std::map<std::string, SubOptions, std::less<>> subscriptions_;
    Outbox outbox_;
    Outbox::Lane queue_{outbox_};   // not sent yet, in order
    LazyDeque<InFlight> inflight_;  // sent, awaiting acknowledgement, in send order
    PacketIdSet incoming_qos2_;
    LazyDeque<RetainedBacklog> retained_;  // oldest subscription first
};

}  // namespace duplex
