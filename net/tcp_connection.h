// One accepted socket of TcpStreams: the Transport its protocol handler talks
// to. Private to net/ (tcp_streams.cc owns the socket, websocket_session.cc
// the WebSocket state of connections on the web port); nothing else includes it.
//
// Lifetime: created by TcpStreams at accept, deleted by it at the end of the
// round in which it was dropped or handed off (never during a callback into
// its handler). Threading: the loop thread only.
#pragma once

#include "net/tcp_streams.h"
#include "net/tls.h"
#include "net/transport.h"
#include "net/websocket_session.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace duplex::net {

class TcpConnection final : public Transport {
  public:
    // Proxy: an HTTPS request on the wss port, whose plaintext goes to and
    // from libwebsockets through a socketpair (tcp_streams.h).
    enum class Mode : uint8_t { Stream, Handshake, WebSocket, Proxy };

    TcpConnection(TcpStreams& owner, int fd, uint64_t id, std::string peer)
        : fd(fd), owner_(owner), id_(id), peer_(std::move(peer)) {}
    ~TcpConnection() override = default;

    void request_write() override {
        if (!closed) owner_.want_flush(*this);
    }
    void close() override {
        if (close_requested || closed) return;
        close_requested = true;
        close_at_ms = -1;  // set by the next tick
        owner_.want_flush(*this);
    }
    void pause_reading(bool pause) override {
        if (paused == pause || closed) return;
        paused = pause;
        owner_.update_events(*this);
    }
    bool websocket() const override { return mode == Mode::WebSocket; }
    bool secure() const override { return tls != nullptr; }
    std::string_view tls_identity() const override { return tls ? tls->identity() : std::string_view(); }
    void ping() override {
        if (mode == Mode::WebSocket && ws && !close_requested && !closed) ws->ping();
    }

    // What the kernel has not taken may be this large before we stop reading
    // the peer: its output beyond one write is control frames it provoked
    // (pongs: 120 MB of pings once grew RSS by 114 MiB in 0.4 s), and a peer
    // that does not read must not make us buffer without bound.
    static constexpr size_t kUnsentBound = 64 * 1024;
    // Reading: not paused by the handler, not owing the peer too much and
    // (HTTPS) not holding plaintext libwebsockets has not taken yet.
    bool reading() const {
        return !paused && !(unsent && unsent->size() > kUnsentBound) && !(proxy && !proxy->to_lws.empty());
    }
    const std::string& peer() const override { return peer_; }
    uint64_t id() const override { return id_; }

    // Bytes that go out ahead of the handler's next output, as they are
    // (handshake responses, WebSocket control frames).
    void send_raw(std::string_view bytes) { owner_.send_control(*this, bytes); }

    std::unique_ptr<ProtocolHandler> handler;  // null until a WebSocket upgrade completes
    std::unique_ptr<WebSocketSession> ws;      // connections on the web port
    std::unique_ptr<std::string> unsent;       // what send() did not take yet, then control frames
                                               // (over TLS: ciphertext, in the order it was made)
    std::unique_ptr<TlsSession> tls;           // connections on a TLS listener
    // The plaintext side of an HTTPS connection on the wss port: our end of
    // the socketpair whose other end libwebsockets serves.
    struct Proxy {
        int fd;
        uint32_t events = 0;  // registered epoll events of fd
        std::string to_lws;   // decrypted bytes the socketpair has not taken yet
    };
    std::unique_ptr<Proxy> proxy;
    // WebSocket or TLS handshake: its deadline; closing: when to give up
    // flushing (-1: set by the next tick); otherwise 0.
    int64_t close_at_ms = 0;
    // Since when the peer has owed us more than kUnsentBound (0: it does
    // not): a peer that stops reading for kStalledOutputMs is closed.
    int64_t stalled_since_ms = 0;
    static constexpr int64_t kStalledOutputMs = 30000;
    uint32_t index = 0;  // position in TcpStreams::connections_
    int fd;
    bool close_requested = false;
    bool closed = false;
    bool paused = false;
    bool flush_queued = false;
    Mode mode = Mode::Stream;
    uint32_t events = 0;  // registered epoll events

  private:
    TcpStreams& owner_;
    uint64_t id_;
    std::string peer_;
};

}  // namespace duplex::net
