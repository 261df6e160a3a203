// CONNECT: version, client id, authentication, session (new, resumed or
// taken over), will, keep alive and the MQTT 5 limits of both sides;
// answered by CONNACK (MQTT 3.1, 3.2).
#include "protocols/mqtt/connection.h"

#include "base/log.h"
#include "broker/topic.h"

namespace duplex::mqtt {

namespace {
// 3.1.1 CONNACK return codes (3.2.2.3).
constexpr uint8_t kIdentifierRejected = 2;
constexpr uint8_t kBadUserNameOrPassword = 4;
}  // namespace

ClientInfo Connection::client_info() const {
    return ClientInfo{.protocol = "mqtt", .client_id = client_id_, .username = username_, .peer = transport_.peer()};
}

MessagePtr Connection::make_message(const Publish& p, const Properties& props) const {
    auto m = std::make_shared<Message>();
    m->topic = std::string(p.topic);
    m->payload = std::string(p.payload);
    m->qos = p.qos;
    m->retain = p.retain;
    m->origin = session_ ? session_->origin_id() : 0;
    if (version_ == Version::v5) {
        m->payload_format = props.payload_format_indicator;
        if (props.content_type) m->content_type = std::string(*props.content_type);
        if (props.response_topic) m->response_topic = std::string(*props.response_topic);
        if (props.correlation_data) m->correlation_data = std::string(*props.correlation_data);
        m->user_properties.reserve(props.user_properties.size());
        for (auto& u : props.user_properties) m->user_properties.emplace_back(u.key, u.value);
        if (props.message_expiry_interval)
            m->expires_at_ms = now_ms() + int64_t(*props.message_expiry_interval) * 1000;
    }
    return m;
}

void Connection::handle_connect(Connect& c) {
    if (connected_) {
        fail(Reason::ProtocolError, "second CONNECT [MQTT-3.1.0-2]");
        return;
    }
    version_ = c.version;
    const bool v5 = version_ == Version::v5;
    const Limits& limits = core_.limits();

    std::string client_id(c.client_id);
    bool assigned = false;
    if (client_id.empty()) {
        // A zero-length client id is allowed only with a clean session; the
        // server assigns one [MQTT-3.1.3-6/7/8]. MQTT 3.1 requires an id.
        if ((!c.clean_start && !v5) || version_ == Version::v31) {
            refuse_connect(v5 ? uint8_t(Reason::ClientIdentifierNotValid) : kIdentifierRejected,
                           "empty client id without clean session [MQTT-3.1.3-8]");
            return;
        }
        client_id = fmt::format("auto-{:x}", core_.next_id());
        assigned = true;
    }
    client_id_ = client_id;
    if (c.username) username_ = std::string(*c.username);

    if (v5 && c.properties.authentication_method) {
        // Enhanced authentication (4.12) is not offered [MQTT-3.1.2-?]: refuse cleanly.
        refuse_connect(uint8_t(Reason::BadAuthenticationMethod), "enhanced authentication is not supported");
        return;
    }
    std::string_view password = c.password ? *c.password : std::string_view();
    if (!core_.authenticate(client_info(), password)) {
        refuse_connect(v5 ? uint8_t(Reason::BadUserNameOrPassword) : kBadUserNameOrPassword,
                       "authentication refused");
        return;
    }
    if (c.will && !valid_topic_name(c.will_topic)) {
        fail(Reason::TopicNameInvalid, "invalid will topic");
        return;
    }

    // A new connection cancels a will still waiting for its delay [MQTT-3.1.3-9].
    core_.cancel_will(client_id);
    // Session takeover: a live connection with this id is closed [MQTT-3.1.4-2].
    Session* existing = core_.find_session(client_id);
    if (existing && existing->output()) {
        SessionOutput* old = existing->output();
        existing->attach(nullptr);
        old->session_taken_over();
        core_.cancel_will(client_id);  // the old connection's will, if it was delayed
    }
    bool session_present = false;
    Session* session;
    // A session whose expiry is 0 (3.1.1 clean session) lasted only as long as
    // the connection just taken over, so there is nothing to resume
    // [MQTT-3.1.2-6], [MQTT-3.1.2-23].
    if (existing && !c.clean_start && existing->persistent) {
        session = existing;
        session_present = true;
    } else {
        session = &core_.create_session(client_id);
    }
    if (v5) {
        session->expiry_interval = c.properties.session_expiry_interval.value_or(0);
    } else {
        session->expiry_interval = c.clean_start ? 0 : UINT32_MAX;
    }
    session->persistent = session->expiry_interval > 0;
    session->disconnected_at_ms = 0;
    session_ = session;
    connected_ = true;

    keep_alive_ = c.keep_alive;
    bool server_keep_alive = false;
    if (limits.max_keep_alive && (keep_alive_ == 0 || keep_alive_ > limits.max_keep_alive)) {
        keep_alive_ = limits.max_keep_alive;  // the client must use ours [MQTT-3.2.2-21]
        server_keep_alive = v5;
    }

    if (v5) {
        client_receive_maximum_ = c.properties.receive_maximum.value_or(65535);
        client_maximum_packet_size_ = c.properties.maximum_packet_size.value_or(0);
        client_topic_alias_maximum_ = c.properties.topic_alias_maximum.value_or(0);
        problem_information_ = c.properties.request_problem_information.value_or(1) != 0;
    }

    if (c.will) {
        auto will = std::make_shared<Message>();
        uint32_t will_delay = 0, will_expiry = 0;
        will->topic = std::string(c.will_topic);
        will->payload = std::string(c.will_payload);
        will->qos = c.will_qos;
        will->retain = c.will_retain;
        will->origin = session->origin_id();
        if (v5) {
            const Properties& wp = c.will_properties;
            will->payload_format = wp.payload_format_indicator;
            if (wp.content_type) will->content_type = std::string(*wp.content_type);
            if (wp.response_topic) will->response_topic = std::string(*wp.response_topic);
            if (wp.correlation_data) will->correlation_data = std::string(*wp.correlation_data);
            for (auto& u : wp.user_properties) will->user_properties.emplace_back(u.key, u.value);
            // Counted from when the will is published (see publish_will).
            will_expiry = wp.message_expiry_interval.value_or(0);
            will_delay = wp.will_delay_interval.value_or(0);
            if (wp.payload_format_indicator == 1 && !valid_utf8(c.will_payload)) {
                refuse_connect(uint8_t(Reason::PayloadFormatInvalid), "will payload is not UTF-8");
                return;
            }
        }
        will_ = std::make_unique<Will>(Will{std::move(will), will_delay, will_expiry});
    }

    Connack ack;
    ack.session_present = session_present;
    ack.reason_code = 0;
    if (v5) {
        Properties& p = ack.properties;
        if (assigned) p.assigned_client_identifier = client_id_;
        p.receive_maximum = limits.receive_maximum;
        p.topic_alias_maximum = limits.topic_alias_maximum;
        p.maximum_packet_size = static_cast<uint32_t>(limits.max_packet_size);
        if (server_keep_alive) p.server_keep_alive = keep_alive_;
        std::string response_info;
        if (c.properties.request_response_information.value_or(0) == 1) {
            // A topic prefix the client may use for its Response Topics.
            response_info = fmt::format("duplex/response/{}", client_id_);
            p.response_information = response_info;
        }
        send(ack);
    } else {
        send(ack);
    }
    log::info("client {} connected (MQTT {}, clean {}, keep alive {} s{})", name(),
              version_ == Version::v31 ? "3.1" : version_ == Version::v311 ? "3.1.1" : "5.0",
              c.clean_start ? 1 : 0, keep_alive_, session_present ? ", session resumed" : "");
    core_.client_connected(client_info());

    session->attach(this);
    resend_inflight_ = !session->inflight.empty();
    transport_.request_write();
}

void Connection::handle_disconnect(Disconnect& d) {
    if (version_ == Version::v5 && session_) {
        if (auto expiry = d.properties.session_expiry_interval) {
            // A session that was to end at disconnect cannot be made to last
            // now [MQTT-3.14.2-2].
            if (session_->expiry_interval == 0 && *expiry != 0) {
                fail(Reason::ProtocolError, "DISCONNECT sets Session Expiry after CONNECT had 0 [MQTT-3.14.2-2]");
                return;
            }
            session_->expiry_interval = *expiry;
            session_->persistent = *expiry > 0;
        }
    }
    // A normal DISCONNECT discards the will [MQTT-3.14.4-3]; reason 0x04
    // "Disconnect with Will Message" asks for it to be published.
    bool with_will = version_ == Version::v5 && d.reason_code == uint8_t(Reason::DisconnectWithWill);
    if (!with_will) will_.reset();
    close(!with_will, with_will ? "DISCONNECT with will" : "DISCONNECT");
}

}  // namespace duplex::mqtt
