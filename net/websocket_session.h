// The WebSocket side of one connection on the web port, over the pure codec
// of websocket_codec.h: while the opening handshake is incomplete, its bytes
// (parse; refuse with an HTTP error; choose the subprotocol, which selects the
// handler; answer 101), then the frames: data to the handler, ping answered
// with pong, the peer's close echoed, a protocol error closed with its code,
// and the close frame that ends a close the handler asked for.
//
// Sockets, epoll, reads and writes stay in TcpStreams; the session only sees
// its connection (net/tcp_connection.h) and queues bytes on it.
//
// Lifetime: owned by its TcpConnection, created at accept on the web port,
// destroyed with it; after the upgrade it keeps only the frame decoder's
// state (the request head is released). Threading: the loop thread only.
// Errors: nothing throws. A refused handshake or a protocol error queues its
// answer (HTTP error or close frame) and closes the connection once flushed.
#pragma once

#include "net/out_buffer.h"
#include "net/transport.h"
#include "net/websocket_codec.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace duplex::net {

class TcpConnection;

class WebSocketSession final : ws::FrameSink {
  public:
    using MakeHandler = std::function<std::unique_ptr<ProtocolHandler>(Protocol, Transport&)>;
    // Origin allow-list (origin empty when none was sent, the request's
    // Host): false refuses the upgrade with 403. Null allows any.
    using OriginCheck = std::function<bool(std::string_view origin, std::string_view host)>;
    enum class Step : uint8_t {
        NeedMore,  // no complete request head yet
        Upgraded,  // 101 queued, the connection speaks WebSocket now
        Refused,   // HTTP error queued, the connection is closing
        Http,      // a plain HTTP request: take_head() and hand it to the web server
    };

    // A WebSocket upgrade must complete within this (as MQTT's
    // connect_timeout bounds the CONNECT that follows).
    static constexpr int64_t kHandshakeTimeoutMs = 10000;

    explicit WebSocketSession(TcpConnection& c) : c_(c) {}

    // Bytes read while the handshake is incomplete. A plain HTTP request
    // whose bytes so far exceed `max_http_bytes` is refused (431) instead of
    // returned as Http. On Upgraded, frames that followed the head are fed.
    Step handshake(std::span<const uint8_t> bytes, const MakeHandler& make_handler, size_t max_http_bytes,
                   const OriginCheck& origin_allowed = {});
    // After Http: everything read from the connection so far.
    std::string take_head() { return std::move(head_); }

    // Frames from the peer after the upgrade (unmasked in place).
    void feed(std::span<uint8_t> bytes);

    // Sends a ping frame (Transport::ping).
    void ping();

    // The connection is closing: appends the close frame (1000) that ends
    // the stream unless one was sent already.
    void finish(OutBuffer& out);

  private:
    void on_data(std::span<const uint8_t> bytes, bool text) override;
    void on_message_end() override;
    void on_ping(std::span<const uint8_t> payload) override;
    void on_pong() override;
    void on_close(uint16_t code, std::string_view reason) override;
    Step refuse(int http_status, std::string_view why);
    void send_close(uint16_t code, std::string_view reason);

    TcpConnection& c_;
    ws::FrameDecoder decoder_;
    std::string head_;  // handshake bytes, released after the upgrade
    bool close_frame_sent_ = false;
};

}  // namespace duplex::net
