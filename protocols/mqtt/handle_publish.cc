// PUBLISH from a client and the acknowledgement flows of QoS 1 and 2 in
// both directions (MQTT 4.3).
#include "protocols/mqtt/connection.h"

#include "broker/log.h"

namespace duplex::mqtt {

void Connection::handle_publish(Publish& p) {
    // Exactly once: a QoS 2 PUBLISH whose id awaits PUBREL was already routed;
    // acknowledge again without routing [MQTT-4.3.3-2].
    if (p.qos == 2 && session_->incoming_qos2.count(p.packet_id)) {
        send(ack(PacketType::Pubrec, p.packet_id));
        return;
    }
    auto message = std::make_shared<Message>();
    message->topic = std::string(p.topic);
    message->payload = std::string(p.payload);
    message->qos = p.qos;
    message->retain = p.retain;
    message->origin = session_->origin_id();
    core_.publish(message);

    if (p.qos == 1) {
        send(ack(PacketType::Puback, p.packet_id));
    } else if (p.qos == 2) {
        session_->incoming_qos2.insert(p.packet_id);
        send(ack(PacketType::Pubrec, p.packet_id));
    }
}

void Connection::handle_ack(Ack& a) {
    Session& s = *session_;
    switch (a.type) {
        case PacketType::Puback:
        case PacketType::Pubcomp: {
            auto expected = a.type == PacketType::Puback ? Outbound::State::WaitPuback
                                                         : Outbound::State::WaitPubcomp;
            Outbound* o = s.find_inflight(a.packet_id);
            if (!o || o->state != expected) {
                // Unknown ids are ignored: after a reconnect the client may ack
                // something twice. Not a reason to drop the connection.
                log::debug("client {}: {} for unknown packet id {}", name(),
                           packet_type_name(a.type), a.packet_id);
                return;
            }
            s.erase_inflight(a.packet_id);
            if (!s.queue.empty()) transport_.request_write();
            return;
        }
        case PacketType::Pubrec: {
            Outbound* o = s.find_inflight(a.packet_id);
            if (o && (o->state == Outbound::State::WaitPubrec || o->state == Outbound::State::WaitPubcomp)) {
                o->state = Outbound::State::WaitPubcomp;
                // The message itself is no longer needed once PUBREC arrived.
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
            bool known = s.incoming_qos2.erase(a.packet_id) > 0;
            Ack comp = ack(PacketType::Pubcomp, a.packet_id);
            if (!known && version_ == Version::v5) comp.reason_code = uint8_t(Reason::PacketIdentifierNotFound);
            send(comp);
            return;
        }
        default:
            fail(Reason::ProtocolError, "unexpected acknowledgement type");
    }
}

}  // namespace duplex::mqtt
