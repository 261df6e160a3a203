// CONNECT: version, client id, authentication, session (new, resumed or
// taken over), will, keep alive and the MQTT 5 limits of both sides;
// answered by CONNACK (MQTT 3.1, 3.2).
#include "protocols/mqtt/connection.h"

#include "base/log.h"
#include "base/random.h"
#include "broker/topic.h"

namespace duplex::mqtt {

namespace {
// 3.1.1 CONNACK return codes (3.2.2.3).
constexpr uint8_t kIdentifierRejected = 2;
constexpr uint8_t kBadUserNameOrPassword = 4;
constexpr uint8_t kNotAuthorized = 5;
constexpr uint8_t kServerUnavailable = 3;
}  // namespace

ClientInfo Connection::client_info() const {
    return ClientInfo{.protocol = "mqtt",
                      .client_id = client_id_,
                      .username = username_,
                      .peer = transport_.peer(),
                      .authenticated = authenticated_};
}

std::shared_ptr<Message> Connection::message_fields(std::string_view topic, std::string_view payload,
                                                    uint8_t qos, bool retain, const Properties& props) const {
    auto shared = std::make_shared<Message>();
    Message& m = *shared;
    m.topic = std::string(topic);
    m.payload = std::string(payload);
    m.qos = qos;
    m.retain = retain;
    m.origin = session_ ? session_->origin_id() : 0;
    if (version_ == Version::v5) {
        m.payload_format = props.payload_format_indicator;
        if (props.content_type) m.content_type = std::string(*props.content_type);
        if (props.response_topic) m.response_topic = std::string(*props.response_topic);
        if (props.correlation_data) m.correlation_data = std::string(*props.correlation_data);
        m.user_properties.reserve(props.user_properties.size());
        for (auto& u : props.user_properties) m.user_properties.emplace_back(u.key, u.value);
    }
    return shared;
}

// What validate_connect() works out before anything changes.
struct Connection::Accepted {
    std::string client_id;
    bool assigned = false;       // the server chose the client id [MQTT-3.2.2.3.7]
    uint32_t expiry = 0;         // the session's expiry interval, capped by max_session_expiry
    bool expiry_capped = false;  // MQTT 5: told in CONNACK [MQTT-3.2.2.3.2]
};

bool Connection::validate_connect(const Connect& c, Accepted& a) {
    const bool v5 = c.version == Version::v5;
    a.client_id = std::string(c.client_id);
    if (a.client_id.empty()) {
        // A zero-length client id is allowed only with a clean session; the
        // server assigns one [MQTT-3.1.3-6/7/8]. MQTT 3.1 requires an id.
        if ((!c.clean_start && !v5) || c.version == Version::v31) {
            refuse_connect(v5 ? uint8_t(Reason::ClientIdentifierNotValid) : kIdentifierRejected,
                           "empty client id without clean session [MQTT-3.1.3-8]");
            return false;
        }
        a.client_id = "auto-" + random_hex(12);  // unguessable: a guessed id could take the session over
        a.assigned = true;
    }
    client_id_ = a.client_id;  // for log lines and the hooks from here on
    if (c.username) username_ = std::string(*c.username);

    if (v5 && c.properties.authentication_method) {
        // Enhanced authentication (4.12) is not offered: refuse cleanly.
        refuse_connect(uint8_t(Reason::BadAuthenticationMethod), "enhanced authentication is not supported");
        return false;
    }
    // Asked once per CONNECT; an answer that comes later (an asynchronous
    // hook) is kept by the gate and the CONNECT, left unconsumed in the input
    // buffer, is parsed again (update_reading).
    auto answer = login_.ask(core_.security(),
                             {.protocol = "mqtt",
                              .client_id = client_id_,
                              .username = username_,
                              .password = c.password,
                              .peer = transport_.peer(),
                              .tls_identity = transport_.tls_identity()},
                             [this] {
                                 if (!closing_) update_reading();
                             });
    if (!answer) {
        update_reading();
        return false;
    }
    LoginResult login = std::move(*answer);
    if (!login.ok) {
        if (login.bad_credentials)
            refuse_connect(v5 ? uint8_t(Reason::BadUserNameOrPassword) : kBadUserNameOrPassword,
                           "bad username or password");
        else refuse_connect(v5 ? uint8_t(Reason::NotAuthorized) : kNotAuthorized, "not authorized");
        return false;
    }
    username_ = std::move(login.username);
    authenticated_ = login.authenticated;
    credential_expires_ms_ = login.expires_at_ms;
    if (c.will && (!valid_topic_name(c.will_topic) || !core_.topic_depth_ok(c.will_topic))) {
        fail(Reason::TopicNameInvalid, "invalid will topic");  // closed without CONNACK
        return false;
    }
    if (c.will && v5 && c.will_properties.payload_format_indicator == 1 && !valid_utf8(c.will_payload)) {
        refuse_connect(uint8_t(Reason::PayloadFormatInvalid), "will payload is not UTF-8");
        return false;
    }
    // A will is a publish: the same permission, asked now so that a client
    // learns at once (mosquitto 2.0 refuses such a CONNECT the same way).
    if (c.will && !core_.security().allows(client_info(), Resource::Topic, c.will_topic, Access::Publish)) {
        refuse_connect(v5 ? uint8_t(Reason::NotAuthorized) : kNotAuthorized, "will topic not authorized");
        return false;
    }
    // Session expiry: 3.1.1 clean=0 asks for "never", which is what
    // max_session_expiry bounds (3.1.1 sessions once never expired).
    const uint32_t max_expiry = core_.limits().max_session_expiry;
    uint32_t asked = v5 ? c.properties.session_expiry_interval.value_or(0) : c.clean_start ? 0 : UINT32_MAX;
    a.expiry = std::min(asked, max_expiry);
    a.expiry_capped = v5 && asked > max_expiry;
    // One more persistent session than max_persistent_sessions is refused;
    // resuming one is not a new one.
    Session* existing = core_.find_session(a.client_id);
    // A session (live or kept) belongs to the identity that made it: another
    // identity reusing its client id would take over its connection and its
    // queued messages. Only the authorize hook may allow that.
    if (existing && !existing->owned_by(username_, authenticated_) &&
        !core_.security().allows(client_info(), Resource::Session, a.client_id, Access::Publish)) {
        refuse_connect(v5 ? uint8_t(Reason::NotAuthorized) : kNotAuthorized,
                       "client id in use by another user");
        return false;
    }
    bool resumes = existing && !c.clean_start && existing->persistent();
    if (a.expiry > 0 && !resumes &&
        core_.persistent_session_count() >= core_.limits().max_persistent_sessions) {
        refuse_connect(v5 ? uint8_t(Reason::QuotaExceeded) : kServerUnavailable,
                       "max_persistent_sessions reached");
        return false;
    }
    return true;
}

Session& Connection::take_session(const Connect& c, uint32_t expiry, bool& session_present) {
    const std::string& id = client_id_;
    // A new connection cancels a will still waiting for its delay [MQTT-3.1.3-9].
    core_.cancel_will(id);
    // Session takeover: a live connection with this id is closed [MQTT-3.1.4-2].
    Session* existing = core_.find_session(id);
    if (existing && existing->output()) {
        SessionOutput* old = existing->output();
        existing->go_online(nullptr);
        old->session_taken_over();
        core_.cancel_will(id);  // the old connection's will, if it was delayed
    }
    // A session whose expiry is 0 (3.1.1 clean session) lasted only as long as
    // the connection just taken over, so there is nothing to resume
    // [MQTT-3.1.2-6], [MQTT-3.1.2-23].
    session_present = existing && !c.clean_start && existing->persistent();
    Session& session = session_present ? *existing : core_.create_session(id);
    session.set_expiry_interval(expiry);
    session.set_owner(username_, authenticated_);
    return session;
}

void Connection::handle_connect(Connect& c) {
    if (connected_) {
        fail(Reason::ProtocolError, "second CONNECT [MQTT-3.1.0-2]");
        return;
    }
    version_ = c.version;
    Accepted accepted;
    if (!validate_connect(c, accepted)) return;  // refused, or waiting for an asynchronous login
    bool session_present = false;
    Session& session = take_session(c, accepted.expiry, session_present);
    attach_and_connack(c, accepted, session, session_present);
}

void Connection::attach_and_connack(const Connect& c, Accepted& a, Session& session, bool session_present) {
    const bool v5 = version_ == Version::v5;
    const Limits& limits = core_.limits();
    session_ = &session;
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
        const Properties& wp = c.will_properties;
        // Expiry counts from when the will is published (see publish_will).
        will_ = std::make_unique<Will>(Will{
            message_fields(c.will_topic, c.will_payload, c.will_qos, c.will_retain, wp),
            v5 ? wp.will_delay_interval.value_or(0) : 0, v5 ? wp.message_expiry_interval.value_or(0) : 0});
    }

    Connack ack;
    // MQTT 3.1's CONNACK has no Session Present: its first byte is reserved.
    ack.session_present = session_present && version_ != Version::v31;
    ack.reason_code = 0;
    std::string response_info;
    if (v5) {
        Properties& p = ack.properties;
        if (a.assigned) p.assigned_client_identifier = client_id_;
        if (a.expiry_capped) p.session_expiry_interval = a.expiry;
        p.receive_maximum = limits.receive_maximum;
        p.topic_alias_maximum = limits.topic_alias_maximum;
        p.maximum_packet_size = static_cast<uint32_t>(limits.max_packet_size);
        if (server_keep_alive) p.server_keep_alive = keep_alive_;
        if (c.properties.request_response_information.value_or(0) == 1) {
            // A topic prefix the client may use for its Response Topics.
            response_info = fmt::format("duplex/response/{}", client_id_);
            p.response_information = response_info;
        }
    }
    send(ack);
    log::info("client {} connected (MQTT {}, clean {}, keep alive {} s{})", name(),
              version_ == Version::v31    ? "3.1"
              : version_ == Version::v311 ? "3.1.1"
                                          : "5.0",
              c.clean_start ? 1 : 0, keep_alive_, session_present ? ", session resumed" : "");
    core_.client_connected(client_info());
    core_.security().enter(session.origin_id(), client_info());

    session.go_online(this);
    resend_inflight_ = session.in_flight() > 0;
    transport_.request_write();
}

void Connection::handle_disconnect(Disconnect& d) {
    if (version_ == Version::v5 && session_) {
        if (auto expiry = d.properties.session_expiry_interval) {
            // A session that was to end at disconnect cannot be made to last
            // now [MQTT-3.14.2-2].
            if (session_->expiry_interval() == 0 && *expiry != 0) {
                fail(Reason::ProtocolError,
                     "DISCONNECT sets Session Expiry after CONNECT had 0 [MQTT-3.14.2-2]");
                return;
            }
            session_->set_expiry_interval(std::min(*expiry, core_.limits().max_session_expiry));
        }
    }
    // A normal DISCONNECT discards the will [MQTT-3.14.4-3]; reason 0x04
    // "Disconnect with Will Message" asks for it to be published.
    bool with_will = version_ == Version::v5 && d.reason_code == uint8_t(Reason::DisconnectWithWill);
    if (!with_will) will_.reset();
    close(!with_will, with_will ? "DISCONNECT with will" : "DISCONNECT");
}

}  // namespace duplex::mqtt
