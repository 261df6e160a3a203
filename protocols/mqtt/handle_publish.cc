// PUBLISH from a client and the acknowledgement flows of QoS 1 and 2 in
// both directions (MQTT 4.3).
#include "protocols/mqtt/connection.h"

#include "base/log.h"
#include "base/printable.h"

namespace duplex::mqtt {

bool Connection::resolve_topic(Publish& p) {
    if (version_ != Version::v5 || !p.properties.topic_alias) return true;
    uint16_t alias = *p.properties.topic_alias;
    uint16_t maximum = core_.limits().topic_alias_maximum;
    if (alias == 0 || alias > maximum) {
        fail(Reason::TopicAliasInvalid,
             fmt::format("topic alias {} outside 1..{} [MQTT-3.3.2-9]", alias, maximum));
        return false;
    }
    // Allocated on first use: most clients never use aliases.
    auto& incoming = aliases().incoming;
    if (incoming.size() < alias) incoming.resize(alias);
    std::string& mapped = incoming[alias - 1];
    if (!p.topic.empty()) {
        mapped.assign(p.topic);  // set or replace the mapping [MQTT-3.3.2-12]
    } else if (mapped.empty()) {
        fail(Reason::ProtocolError, fmt::format("topic alias {} used before it was set", alias));
        return false;
    } else {
        p.topic = mapped;
    }
    return true;
}

void Connection::handle_publish(Publish& p) {
    Session& s = *session_;
    const bool v5 = version_ == Version::v5;
    if (!resolve_topic(p)) return;
    if (p.topic.empty()) {
        fail(Reason::ProtocolError, "PUBLISH without topic name or alias");
        return;
    }
    if (!core_.topic_depth_ok(p.topic)) {
        fail(Reason::TopicNameInvalid, fmt::format("topic of {} levels, more than max_topic_levels {}",
                                                   topic_levels(p.topic), core_.limits().max_topic_levels));
        return;
    }
    if (v5 && !p.properties.subscription_identifiers.empty()) {
        fail(Reason::ProtocolError, "Subscription Identifier in a PUBLISH from a client [MQTT-3.3.4-6]");
        return;
    }
    if (v5 && p.properties.response_topic && !valid_topic_name(*p.properties.response_topic)) {
        fail(Reason::ProtocolError, "Response Topic contains a wildcard [MQTT-3.3.2-14]");
        return;
    }
    // PUBACK / PUBREC with a reason code (5.0 only; 3.1.1 acks carry none).
    // A PUBREC >= 0x80 ends the QoS 2 flow: no PUBREL follows [MQTT-4.3.3-4].
    auto answer = [&](uint8_t reason) {
        if (p.qos == 0) return;
        Ack a = ack(p.qos == 1 ? PacketType::Puback : PacketType::Pubrec, p.packet_id);
        if (v5) a.reason_code = reason;
        send(a);
    };

    // Exactly once: a QoS 2 PUBLISH whose id awaits PUBREL was already routed;
    // acknowledge again without routing [MQTT-4.3.3-2].
    if (p.qos == 2 && s.awaiting_pubrel(p.packet_id)) {
        answer(0);
        return;
    }
    // MQTT 5 clients know our Receive Maximum (CONNACK) and must respect it. A
    // 3.1.1 client cannot learn it (paho keeps 100 in flight by default), and
    // stopping to read it would deadlock (its PUBRELs queue behind the
    // PUBLISHes we would not read), so for 3.1.1 the bound is the packet id
    // space itself (PacketIdSet: at most 8 KiB).
    if (p.qos == 2 && v5 && s.incoming_qos2() >= core_.limits().receive_maximum) {
        fail(Reason::ReceiveMaximumExceeded,
             fmt::format("more than receive_maximum ({}) QoS 2 publishes unacknowledged [MQTT-3.3.4-9]",
                         core_.limits().receive_maximum));
        return;
    }
    if (v5 && p.properties.payload_format_indicator == 1 && !valid_utf8(p.payload)) {
        static log::Throttled throttle;
        throttle.warn("client {}: PUBLISH on {} declares UTF-8 but is not, refused", name(),
                      printable(p.topic, 64));
        answer(uint8_t(Reason::PayloadFormatInvalid));
        return;
    }
    if (core_.security().publish_needs_check(p.topic) &&
        !core_.security().allows(client_info(), Resource::Topic, p.topic, Access::Publish)) {
        static log::Throttled throttle;
        throttle.warn("client {}: not authorized to publish on {}", name(), printable(p.topic, 64));
        // 3.1.1 has no way to say no but closing; acknowledge and drop.
        answer(uint8_t(Reason::NotAuthorized));
        return;
    }
    uint32_t expiry = v5 ? p.properties.message_expiry_interval.value_or(0) : 0;
    PublishResult result = core_.publish(
        make_message(message_fields(p.topic, p.payload, p.qos, p.retain, p.properties), expiry, now_ms()));
    // QoS 0 may be dropped for a slow consumer; QoS 1/2 publishers are held back.
    if (p.qos > 0 && !result.congested.empty()) {
        log::debug("client {}: holding back publisher, {} subscriber(s) congested", name(),
                   result.congested.size());
        hold(result.congested);
    }

    if (p.qos == 2) s.record_incoming_qos2(p.packet_id);
    // A retained message the store had no room for was delivered but not
    // kept: the publisher hears it (MQTT 5), rather than believing it is.
    answer(result.retain_refused ? uint8_t(Reason::QuotaExceeded)
           : result.reached == 0 ? uint8_t(Reason::NoMatchingSubscribers)
                                 : 0);
}

void Connection::handle_ack(Ack& a) {
    Session& s = *session_;
    switch (a.type) {
        case PacketType::Puback:
        case PacketType::Pubcomp: {
            auto expected =
                a.type == PacketType::Puback ? InFlight::State::WaitPuback : InFlight::State::WaitPubcomp;
            if (!s.acknowledge(a.packet_id, expected)) {
                // Unknown ids are ignored: after a reconnect the client may ack
                // something twice. Not a reason to drop the connection.
                log::debug("client {}: {} for unknown packet id {}", name(), packet_type_name(a.type),
                           a.packet_id);
                return;
            }
            if (s.queued()) transport_.request_write();
            return;
        }
        case PacketType::Pubrec: {
            if (version_ == Version::v5 && a.reason_code >= 0x80) {
                // A PUBREC with an error ends the flow [MQTT-4.3.3-4]: no PUBREL,
                // the id and the send-quota slot are free again, nothing is
                // resent after a reconnect.
                if (s.acknowledge(a.packet_id, InFlight::State::WaitPubrec)) {
                    log::debug("client {}: PUBREC 0x{:02x} for packet id {}: flow ended", name(),
                               a.reason_code, a.packet_id);
                    if (s.queued()) transport_.request_write();
                }
                return;
            }
            if (s.received_pubrec(a.packet_id)) {
                send(ack(PacketType::Pubrel, a.packet_id));
            } else {
                log::debug("client {}: PUBREC for unknown packet id {}", name(), a.packet_id);
                // Answer anyway so the client's flow can finish (MQTT 5 4.3.3).
                Ack rel = ack(PacketType::Pubrel, a.packet_id);
                if (version_ == Version::v5) rel.reason_code = uint8_t(Reason::PacketIdentifierNotFound);
                send(rel);
            }
            return;
        }
        case PacketType::Pubrel: {
            bool known = s.release_incoming_qos2(a.packet_id);
            Ack comp = ack(PacketType::Pubcomp, a.packet_id);
            if (!known && version_ == Version::v5)
                comp.reason_code = uint8_t(Reason::PacketIdentifierNotFound);
            send(comp);
            return;
        }
        default:
            fail(Reason::ProtocolError, "unexpected acknowledgement type");
    }
}

}  // namespace duplex::mqtt
