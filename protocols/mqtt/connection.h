// One MQTT client connection (any transport, any version): the protocol
// state machine between the codec and the broker core. Packet handling is
// split by packet type over handle_*.cc files; this header holds the state
// that dies with the connection. Session state lives in duplex::Session.
#pragma once

#include "broker/backpressure.h"
#include "broker/core.h"
#include "broker/login_gate.h"
#include "broker/session.h"
#include "net/pending_messages.h"
#include "net/stream_buffer.h"
#include "net/transport.h"
#include "protocols/mqtt/codec.h"

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace duplex::mqtt {

inline Ack ack(PacketType type, uint16_t packet_id) {
    Ack a;
    a.type = type;
    a.packet_id = packet_id;
    return a;
}

class Connection final : public net::ProtocolHandler, public SessionOutput, public HeldPublisher {
  public:
    Connection(Core& core, net::Transport& transport);
    ~Connection() override;

    void on_data(std::span<const uint8_t> bytes, bool text) override;
    bool on_writable(net::OutBuffer& out, size_t budget) override;
    void on_tick(int64_t now_ms) override;
    void on_closed() override;

    void session_has_output() override;
    void session_taken_over() override;

  protected:
    void pause_input(bool) override { update_reading(); }
    void wake() override { transport_.request_write(); }

  private:
    // Parses one packet from `bytes`; returns bytes consumed, 0 for more, -1 to stop.
    long parse_one(std::span<const uint8_t> bytes);
    void dispatch(Packet& packet);

    // CONNECT in three steps, so that a CONNECT refused for any reason has
    // changed nothing (in particular not the session of a live client with
    // the same id): validate everything, then take over or create the
    // session, then attach and answer.
    void handle_connect(Connect& connect);
    struct Accepted;  // what validate_connect() derived
    bool validate_connect(const Connect& c, Accepted& a);
    Session& take_session(const Connect& c, uint32_t expiry, bool& session_present);
    void attach_and_connack(const Connect& c, Accepted& a, Session& session, bool session_present);
    void handle_publish(Publish& publish);
    void handle_ack(Ack& ack);
    void handle_subscribe(Subscribe& subscribe);
    void handle_unsubscribe(Unsubscribe& unsubscribe);
    void handle_disconnect(Disconnect& disconnect);

    // Queues a control packet (acks, CONNACK, SUBACK...) ahead of PUBLISHes.
    void send(const Packet& packet);
    // Refuses a CONNECT with `code` (3.1.1 return code or 5.0 reason) and closes.
    void refuse_connect(uint8_t code, const char* why);
    // Protocol violation or bad input: log naming client and reason, close.
    void fail(Reason reason, std::string_view why);
    // Closes the connection; the will is published unless `clean` (DISCONNECT).
    void close(bool clean, std::string_view why);
    void publish_will();
    void detach_session();
    // Writes a PUBLISH for `o`; false if it was dropped for exceeding the
    // client's Maximum Packet Size (then it counts as sent [MQTT-3.1.2-25]).
    bool write_publish(net::OutBuffer& out, const Outgoing& o, uint16_t packet_id, bool dup);
    ClientInfo client_info() const;
    // Closes for a PUBLISH problem found after parsing (alias, topic, ...).
    bool resolve_topic(Publish& p);
    // The one place an MQTT PUBLISH or will becomes a Message (the
    // properties' expiry is left to the caller: a will's counts from when it
    // is published).
    std::shared_ptr<Message> message_fields(std::string_view topic, std::string_view payload, uint8_t qos,
                                            bool retain, const Properties& props) const;
    size_t send_window() const;
    std::string name() const;  // "client-id (peer)" for logs

    Core& core_;
    net::Transport& transport_;
    net::StreamBuffer input_;
    Version version_ = Version::v311;
    bool connected_ = false;  // CONNECT accepted
    bool closing_ = false;
    std::string client_id_;
    Session* session_ = nullptr;
    uint16_t keep_alive_ = 0;
    int64_t opened_ms_ = 0;
    int64_t last_rx_ms_ = 0;
    int64_t partial_since_ms_ = 0;
    int64_t backlog_since_ms_ = 0;  // control output over its bound since; 0 = not  // an incomplete
                                    // packet/frame is waiting since; 0 = none
    // The will, allocated only for clients that set one (most do not): idle
    // connections are what a broker has most of.
    struct Will {
        std::shared_ptr<Message> fields;  // made a message (expiry from then on) when published
        uint32_t delay = 0;               // MQTT 5 Will Delay Interval, seconds
        uint32_t expiry = 0;              // MQTT 5 will Message Expiry Interval, seconds
    };
    std::unique_ptr<Will> will_;
    bool resend_inflight_ = false;
    std::string username_;
    bool authenticated_ = false;         // username_ verified (broker/security.h)
    int64_t credential_expires_ms_ = 0;  // a token's expiry: closed then; 0 = never
    // An asynchronous login in progress: input is not parsed meanwhile (the
    // CONNECT stays in input_ and is parsed again with the answer the gate kept).
    LoginGate login_;
    // We stop reading the client while it is held back (a subscriber it
    // published to is congested) or owes too much control output
    // (PendingMessages::kBacklogBound); its keep-alive clock stands still
    // meanwhile: it is not the client that is silent.
    void update_reading();
    // slow_consumer_timeout: true if the connection is being closed for it.
    bool slow_consumer(int64_t now);
    bool reading_paused_ = false;

    // MQTT 5 limits the client announced in CONNECT.
    uint16_t client_receive_maximum_ = 65535;  // our send quota [MQTT-3.3.4-9]
    uint32_t client_maximum_packet_size_ = 0;  // 0 = no limit
    uint16_t client_topic_alias_maximum_ = 0;  // aliases we may use towards it
    bool problem_information_ = true;          // Request Problem Information
    // Topic aliases: the client's (index = alias - 1) and ours towards it.
    // MQTT 5 topic aliases, allocated on first use.
    struct Aliases {
        std::vector<std::string> incoming;                   // client's alias - 1 -> topic
        std::unordered_map<std::string, uint16_t> outgoing;  // ours towards the client
    };
    std::unique_ptr<Aliases> aliases_;
    Aliases& aliases() {
        if (!aliases_) aliases_ = std::make_unique<Aliases>();
        return *aliases_;
    }

    // Encoded control packets not yet written.
    net::PendingMessages control_;
};

}  // namespace duplex::mqtt
