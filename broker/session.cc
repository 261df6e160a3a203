#include "broker/session.h"

#include "base/log.h"
#include "duplex/config.h"

#include <algorithm>

namespace duplex {

Session::Session(std::string client_id, const Limits& limits, CongestionSink* congestion)
    : client_id_(std::move(client_id)), limits_(limits), congestion_(congestion) {}

bool Session::drained() {
    if (!congested_) return false;
    if (queue.size() > limits_.max_queued_messages / 2 || queued_bytes_ > limits_.max_queued_bytes / 2)
        return false;
    congested_ = false;
    return true;
}

void Session::deliver(const MessagePtr& message, const Delivery& delivery) {
    // QoS 0 messages are not kept for a disconnected client (MQTT 3.1.2.4
    // allows it; queueing them would let offline clients pin memory for
    // messages nobody was promised).
    if (delivery.qos == 0 && !output_) return;
    enqueue(message, delivery.qos, delivery.retain,
            std::vector<uint32_t>(delivery.subscription_ids.begin(), delivery.subscription_ids.end()));
}

bool Session::make_room(uint8_t incoming_qos, size_t incoming_bytes) {
    (void)incoming_qos;
    auto fits = [&](size_t messages, size_t bytes) {
        return messages < limits_.max_queued_messages && bytes + incoming_bytes <= limits_.max_queued_bytes;
    };
    if (fits(queue.size(), queued_bytes_)) return true;
    // QoS 0 goes first, but only if dropping queued QoS 0 messages can make
    // room at all: otherwise they would be lost for nothing.
    size_t qos0_messages = 0, qos0_bytes = 0;
    for (const Outbound& o : queue)
        if (o.qos == 0) {
            ++qos0_messages;
            qos0_bytes += o.message->payload.size();
        }
    if (!fits(queue.size() - qos0_messages, queued_bytes_ - qos0_bytes)) return false;
    for (auto it = queue.begin(); it != queue.end() && !fits(queue.size(), queued_bytes_);) {
        if (it->qos == 0) {
            queued_bytes_ -= it->message->payload.size();
            it = queue.erase(it);
            ++dropped_;
        } else {
            ++it;
        }
    }
    return true;
}

void Session::enqueue(const MessagePtr& message, uint8_t qos, bool retain,
                      std::vector<uint32_t> subscription_ids, SharedGroup* shared) {
    size_t bytes = message->payload.size();
    if (!make_room(qos, bytes)) {
        // A live client that is merely slow: keep QoS 1/2 messages beyond the
        // limit (up to twice it) and hold the publishers back until it drains,
        // rather than drop what they were told was delivered.
        bool hard_full = queue.size() >= 2 * limits_.max_queued_messages ||
                         queued_bytes_ + bytes > 2 * limits_.max_queued_bytes;
        if (qos > 0 && output_ && congestion_ && !hard_full) {
            congested_ = true;
            congestion_->congested(this);
            push(message, qos, retain, std::move(subscription_ids), shared);
            return;
        }
        ++dropped_;
        // Nothing of lower value is left to drop. Log QoS 1/2 losses: they are
        // the ones a client may count on.
        if (qos > 0)
            log::warn("client {}: queue full ({} messages, {} bytes), dropped QoS {} message on {}",
                      client_id_, queue.size(), queued_bytes_, qos, message->topic);
        return;
    }
    push(message, qos, retain, std::move(subscription_ids), shared);
}

void Session::push(const MessagePtr& message, uint8_t qos, bool retain,
                   std::vector<uint32_t> subscription_ids, SharedGroup* shared) {
    Outbound o;
    o.message = message;
    o.qos = qos;
    o.retain = retain;
    o.subscription_ids = std::move(subscription_ids);
    o.shared = shared;
    queued_bytes_ += message->payload.size();
    queue.push_back(std::move(o));
    if (output_) output_->session_has_output();
}

uint16_t Session::next_packet_id() {
    for (;;) {
        if (++last_packet_id_ == 0) last_packet_id_ = 1;
        if (!find_inflight(last_packet_id_)) return last_packet_id_;
    }
}

Outbound* Session::find_inflight(uint16_t packet_id) {
    for (auto& o : inflight)
        if (o.packet_id == packet_id) return &o;
    return nullptr;
}

bool Session::erase_inflight(uint16_t packet_id) {
    auto it = std::find_if(inflight.begin(), inflight.end(),
                           [&](const Outbound& o) { return o.packet_id == packet_id; });
    if (it == inflight.end()) return false;
    inflight.erase(it);
    return true;
}

}  // namespace duplex
