// CONNECT: version, client id, session (new, resumed or taken over), will,
// keep alive; answered by CONNACK (MQTT 3.1, 3.2).
#include "protocols/mqtt/connection.h"

#include "broker/log.h"
#include "broker/topic.h"

namespace duplex::mqtt {

namespace {
// 3.1.1 CONNACK return codes (3.2.2.3).
constexpr uint8_t kIdentifierRejected = 2;
}  // namespace

void Connection::handle_connect(Connect& c) {
    if (connected_) {
        fail(Reason::ProtocolError, "second CONNECT [MQTT-3.1.0-2]");
        return;
    }
    version_ = c.version;
    const bool v5 = version_ == Version::v5;

    std::string client_id(c.client_id);
    if (client_id.empty()) {
        // A zero-length client id is allowed only with a clean session; the
        // server assigns one [MQTT-3.1.3-6/7/8]. MQTT 3.1 requires an id.
        if (!c.clean_start || version_ == Version::v31) {
            refuse_connect(v5 ? uint8_t(Reason::ClientIdentifierNotValid) : kIdentifierRejected,
                           "empty client id without clean session [MQTT-3.1.3-8]");
            return;
        }
        client_id = fmt::format("auto-{:x}", core_.next_id());
    }
    client_id_ = client_id;

    if (c.will && !valid_topic_name(c.will_topic)) {
        fail(Reason::TopicNameInvalid, "invalid will topic");
        return;
    }

    // Session takeover: a live connection with this id is closed [MQTT-3.1.4-2].
    Session* existing = core_.find_session(client_id);
    if (existing && existing->output()) {
        SessionOutput* old = existing->output();
        existing->attach(nullptr);
        old->session_taken_over();
    }
    bool session_present = false;
    Session* session;
    if (existing && !c.clean_start) {
        session = existing;
        session_present = true;
    } else {
        session = &core_.create_session(client_id);
    }
    session->persistent = !c.clean_start;
    session->expiry_interval = c.clean_start ? 0 : UINT32_MAX;
    session->disconnected_at_ms = 0;
    session_ = session;
    connected_ = true;
    keep_alive_ = c.keep_alive;

    if (c.will) {
        auto will = std::make_shared<Message>();
        will->topic = std::string(c.will_topic);
        will->payload = std::string(c.will_payload);
        will->qos = c.will_qos;
        will->retain = c.will_retain;
        will->origin = session->origin_id();
        will_ = std::move(will);
    }

    Connack ack;
    ack.session_present = session_present;
    ack.reason_code = 0;
    send(ack);
    log::info("client {} connected (MQTT {}, clean {}, keep alive {} s{})", name(),
              version_ == Version::v31 ? "3.1" : version_ == Version::v311 ? "3.1.1" : "5.0",
              c.clean_start ? 1 : 0, keep_alive_, session_present ? ", session resumed" : "");

    session->attach(this);
    resend_inflight_ = !session->inflight.empty();
    transport_.request_write();
}

void Connection::handle_disconnect(Disconnect& d) {
    (void)d;
    // A clean DISCONNECT discards the will [MQTT-3.14.4-3].
    will_.reset();
    close(true, "DISCONNECT");
}

}  // namespace duplex::mqtt
