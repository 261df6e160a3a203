// The seam between transports (WebSocket, raw TCP) and protocol handlers
// (MQTT, STOMP, plain-text commands). Transports only move bytes; handlers
// never see a socket.
#pragma once

#include "net/out_buffer.h"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace duplex::net {

// What a connection speaks, and so which handler serves it: decided by its
// listener (tcp_streams.h ListenerKind) and, on the web port, by the
// WebSocket subprotocol (none offered: the plain-text commands).
enum class Protocol : uint8_t { Mqtt, Stomp, Commands };

class Transport {
  public:
    virtual ~Transport() = default;
    // The handler has output: on_writable() will be called when the socket can take it.
    virtual void request_write() = 0;
    // Close once the output already produced is flushed. Further input is ignored.
    virtual void close() = 0;
    // Stop / resume reading from the peer (backpressure on publishers).
    virtual void pause_reading(bool pause) = 0;
    virtual bool websocket() const = 0;
    // True on a TLS listener (mqtts, stomps, wss); by the time the handler
    // sees bytes, the TLS handshake is complete.
    virtual bool secure() const { return false; }
    // The verified client certificate's subject CN (tls_require_certificate /
    // tls_ca_file); empty without one. Valid as long as the transport.
    virtual std::string_view tls_identity() const { return {}; }
    // WebSocket only: sends a ping frame; the peer's pong comes back as
    // ProtocolHandler::on_peer_alive(). Elsewhere nothing.
    virtual void ping() {}
    // "ip:port" of the peer, for logs.
    virtual const std::string& peer() const = 0;
    virtual uint64_t id() const = 0;
};

class ProtocolHandler {
  public:
    virtual ~ProtocolHandler() = default;
    // Bytes from the peer. `text` is true for data of a WebSocket text frame.
    virtual void on_data(std::span<const uint8_t> bytes, bool text) = 0;
    // WebSocket only: the message whose bytes on_data() received is complete.
    // Stream protocols (MQTT, STOMP) frame themselves and ignore it.
    virtual void on_message_end() {}
    // WebSocket only: a ping or pong frame came from the peer (it is alive,
    // though it sent no data).
    virtual void on_peer_alive() {}
    // Append output up to roughly `budget` bytes; return true if more remains.
    virtual bool on_writable(OutBuffer& out, size_t budget) = 0;
    // Called about once a second on the loop thread (keepalive, timeouts).
    virtual void on_tick(int64_t now_ms) = 0;
    // The connection is gone; the handler is destroyed right after.
    virtual void on_closed() = 0;
};

}  // namespace duplex::net
