// One MQTT client connection (any transport, any version): the protocol
// state machine between the codec and the broker core. Packet handling is
// split by packet type over handle_*.cc files; this header holds the state
// that dies with the connection. Session state lives in duplex::Session.
#pragma once

#include "broker/core.h"
#include "broker/net/stream_buffer.h"
#include "broker/net/transport.h"
#include "broker/session.h"
#include "protocols/mqtt/codec.h"

#include <optional>
#include <string>
#include <vector>

namespace duplex::mqtt {

inline Ack ack(PacketType type, uint16_t packet_id) {
    Ack a;
    a.type = type;
    a.packet_id = packet_id;
    return a;
}

class Connection final : public net::ProtocolHandler, public SessionOutput {
  public:
    Connection(Core& core, net::Transport& transport);
    ~Connection() override;

    void on_data(std::span<const uint8_t> bytes, bool text) override;
    bool on_writable(net::OutBuffer& out, size_t budget) override;
    void on_tick(int64_t now_ms) override;
    void on_closed() override;

    void session_has_output() override;
    void session_taken_over() override;

  private:
    // Parses one packet from `bytes`; returns bytes consumed, 0 for more, -1 to stop.
    long parse_one(std::span<const uint8_t> bytes);
    void dispatch(Packet& packet);

    void handle_connect(Connect& connect);
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
    void write_publish(net::OutBuffer& out, const Outbound& o);
    size_t send_window() const;
    std::string name() const;  // "client-id (peer)" for logs

    Core& core_;
    net::Transport& transport_;
    net::StreamBuffer input_;
    Version version_ = Version::v311;
    bool connected_ = false;   // CONNECT accepted
    bool closing_ = false;
    std::string client_id_;
    Session* session_ = nullptr;
    uint16_t keep_alive_ = 0;
    int64_t opened_ms_ = 0;
    int64_t last_rx_ms_ = 0;
    MessagePtr will_;
    bool resend_inflight_ = false;

    // Encoded control packets not yet written, and where each one ends.
    std::string control_;
    std::vector<uint32_t> control_ends_;
    std::string scratch_;
};

}  // namespace duplex::mqtt
