// MQTT and STOMP over plain TCP and over WebSocket, served by our own sockets
// and one epoll set instead of one libwebsockets wsi per connection: the one
// connection stack. This file keeps sockets, epoll, reads, writes and closes;
// the WebSocket session of a connection on the web port (handshake, control
// frames, closing handshake) is websocket_session.h, the connection object
// itself tcp_connection.h. On the web port we read the request head: an
// upgrade the session answers; any other HTTP request is handed, with the
// bytes already read, to libwebsockets, which serves the web page and owns
// that socket from then on.
//
// TLS (tls.h): a listener given a TlsContext gives each connection a
// TlsSession. Received bytes are decrypted before they reach the handler or
// the WebSocket session; everything written (handler output, control frames,
// TLS's own handshake records) is encrypted into one scratch string and then
// goes out exactly as plaintext does on a plain connection, so `unsent`,
// kUnsentBound and the stalled-output rule count ciphertext. The handler is
// asked for output only once the handshake is complete; a handshake must
// complete within the listener's deadline (connect_timeout; on wss the
// WebSocket handshake's, which covers both). An HTTPS request on the wss
// port cannot be handed to libwebsockets as a socket (4.1.6 adopts
// plaintext descriptors only, and a second TLS stack in lws would be a second
// set of certificates to load and reload): the connection stays ours, and its
// plaintext is proxied both ways to one end of a socketpair whose other end
// lws adopts like a plain HTTP connection (adopt_http). lws keeps serving the
// files; there is still one WebSocket stack and one TLS stack. Each
// direction is bounded: we stop reading the client while lws has not taken
// what we decrypted, and stop reading lws while the client owes us output.
//
// Why: an lws connection costs about 850 bytes of lws state before any of
// ours; a raw TCP client needs none of it (no HTTP, no WebSocket), and a
// broker holding 100k idle device connections pays that per client. The epoll
// fd itself is adopted into the lws loop as one raw file descriptor, so there
// is still one event loop on one thread: when any of our sockets is ready the
// epoll fd polls readable and lws calls service().
//
// Writes follow the lws model the handlers already know: request_write()
// marks the connection, the owner calls flush() soon after (from the loop),
// and flush() asks the handler for output and writes it in one send(). What
// the kernel does not take waits in a per-connection remainder (allocated only
// then) and goes out on EPOLLOUT; the handler is not asked for more until it
// is gone, which is what backpressure upstream relies on.
//
// Lifetimes: TcpStreams owns its listening sockets and connections; a dropped
// connection's handler gets on_closed() at once and is deleted, with the
// connection, at the end of the round (flush()), so no callback into it is
// ever left on the stack. Threading: the loop thread only. Errors: listen()
// throws; everything after it logs and closes the one connection concerned.
#pragma once

#include "duplex/config.h"
#include "net/transport.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace duplex::net {

class TcpConnection;
class TlsContext;

// What a listening socket serves: the web port (WebSocket upgrades, which
// choose their Protocol by subprotocol, and HTTP for libwebsockets), or one
// stream protocol over plain TCP.
enum class ListenerKind : uint8_t { Web, Mqtt, Stomp };

class TcpStreams {
  public:
    struct Hooks {
        // A handler for a new connection speaking this protocol; null refuses it.
        std::function<std::unique_ptr<ProtocolHandler>(Protocol, Transport&)> make_handler;
        // False when the broker is at max_connections, or `address` (an IP,
        // no port) already has `from_address` connections and may have no more.
        std::function<bool(std::string_view address, size_t from_address)> may_accept;
        // Ask the loop to call flush() soon (on the loop thread).
        std::function<void()> schedule_flush;
        // Connection ids, unique per loop.
        std::function<uint64_t()> next_id;
        // Hand a plain HTTP connection and what was read of it (at most
        // kMaxHandOff bytes) to libwebsockets, which owns the fd from then on.
        std::function<void(int fd, std::string_view read)> adopt_http;
        // WebSocket Origin allow-list (websocket_session.h); null allows any.
        std::function<bool(std::string_view origin, std::string_view host)> origin_allowed;
    };

    // libwebsockets takes at most this much already-read input with a socket.
    // 16 KiB: at least the 8 KiB browsers' cookies need, nginx's default
    // large_client_header_buffers.
    static constexpr size_t kMaxHandOff = 16 * 1024;

    TcpStreams(OutBuffer& out, Hooks hooks);
    ~TcpStreams();
    TcpStreams(const TcpStreams&) = delete;
    TcpStreams& operator=(const TcpStreams&) = delete;

    // Binds and listens; returns the bound port. Throws std::runtime_error.
    // An empty host listens on every address (IPv6 and IPv4 when available).
    // With `tls` (which must outlive this object) the listener speaks TLS,
    // and a connection's handshake must complete within
    // `handshake_timeout_ms` of its accept.
    int listen(ListenerKind kind, const Listener& listener, const TlsContext* tls = nullptr,
               int64_t handshake_timeout_ms = 0);

    // The epoll set to watch for readability.
    int epoll_fd() const { return epoll_fd_; }
    // Handles ready sockets (call when epoll_fd() is readable).
    void service();
    // Writes output requested since the last call, finishes closes.
    void flush();
    // The flush the schedule_flush hook asked for.
    void scheduled_flush() {
        flush_scheduled_ = false;
        flush();
    }
    void tick(int64_t now_ms);
    // Closes every connection (shutdown), telling each handler.
    void close_all();

    size_t size() const { return connections_.size(); }
    bool listening() const { return !listeners_.empty(); }

  private:
    friend class TcpConnection;
    struct ListenSocket {
        int fd;
        ListenerKind kind;
        const TlsContext* tls = nullptr;
        int64_t handshake_timeout_ms = 0;
        bool suspended = false;  // out of descriptors: re-armed on the next tick
    };
    void accept_from(ListenSocket& listener);
    void read_from(TcpConnection& c);
    void deliver(TcpConnection& c, std::span<uint8_t> bytes);
    void read_tls(TcpConnection& c, std::span<const uint8_t> ciphertext);
    void emit(TcpConnection& c);
    void hand_off(TcpConnection& c);
    void proxy_http(TcpConnection& c, std::string head);
    void to_lws(TcpConnection& c, std::span<const uint8_t> bytes);
    void proxy_event(TcpConnection& c, uint32_t events);
    void close_proxy(TcpConnection& c);
    void send_control(TcpConnection& c, std::string_view frame_bytes);
    void release(TcpConnection& c);
    void unlist(TcpConnection& c);
    void write_to(TcpConnection& c);
    void want_flush(TcpConnection& c);
    void update_events(TcpConnection& c);
    void drop(TcpConnection& c);
    void reap();

    OutBuffer& out_;
    // Ciphertext made by the TLS call just done, sent (or queued in the
    // connection's `unsent`) by emit() before any other TLS call.
    std::string cipher_;
    Hooks hooks_;
    int epoll_fd_ = -1;
    std::vector<std::unique_ptr<ListenSocket>> listeners_;
    std::vector<TcpConnection*> connections_;  // index kept in each connection
    // Connections per peer IP (max_connections_per_address), kept in step
    // with connections_ by accept and unlist.
    std::unordered_map<std::string, uint32_t> per_address_;
    std::vector<TcpConnection*> to_flush_;
    std::vector<TcpConnection*> dead_;  // deleted at the end of a round
    bool flush_scheduled_ = false;
    bool closing_all_ = false;
};

}  // namespace duplex::net
