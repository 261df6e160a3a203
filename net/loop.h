// The event loop and listeners. One libwebsockets context runs the loop, but
// every connection we speak a protocol on is ours (TcpStreams): MQTT and
// STOMP over TCP, and the web port, where we answer WebSocket upgrades
// ourselves and hand any other HTTP request to a non-listening lws vhost that
// serves the web page and nothing else. A WebSocket upgrade arriving later on
// such a kept-alive HTTP connection is refused (400, "open WebSocket
// connections on a fresh connection"): lws owns that socket by then and cannot
// give it back, and one connection stack is worth more than serving a rare
// client on an HTTP connection it could simply not reuse.
//
// Our sockets live in one epoll set that lws polls as one raw descriptor, so
// it is still one loop on one thread, with lws's timers and cross-thread
// wake-up. Each connection gets a Transport and a ProtocolHandler (from the
// factory), chosen by listener and WebSocket subprotocol.
//
// Lifetimes: the Loop owns the lws context, TcpStreams and every connection;
// handlers are destroyed with their connection, at the latest in ~Loop, which
// closes them all (telling each handler) before the context goes.
// Threading: everything runs on the thread that calls run(). post() and
// stop() are the only calls allowed from other threads; they wake the loop
// with lws_cancel_service().
#pragma once

#include "duplex/config.h"
#include "net/tcp_streams.h"
#include "net/tls.h"
#include "net/transport.h"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

struct lws_context;
struct lws_vhost;

namespace duplex::net {

class Loop {
  public:
    // A handler for a connection speaking `protocol`; null refuses it.
    using HandlerFactory = std::function<std::unique_ptr<ProtocolHandler>(Protocol, Transport&)>;
    using Tick = std::function<void(int64_t now_ms)>;

    // Creates the context and binds every enabled listener; throws
    // std::runtime_error naming the listener that failed.
    Loop(const Config& config, HandlerFactory factory, Tick tick);
    // The WebSocket Origin allow-list (the composition root passes
    // Security::origin_allowed); before run(). Unset allows any.
    void set_origin_check(std::function<bool(std::string_view origin, std::string_view host)> check) {
        origin_check_ = std::move(check);
    }
    ~Loop();
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    // Serves until stop(). On return every connection is closed.
    void run();
    void stop();                            // any thread
    void post(std::function<void()> task);  // any thread; runs on the loop

    // Loop thread: loads the TLS certificate, key and CA files again for new
    // connections (existing ones keep theirs) and logs the outcome; on an
    // error the old ones stay in use. Nothing to do without TLS listeners.
    void reload_tls();

    // Port actually bound ("ws", "mqtt", "stomp", "mqtts", "stomps", "wss"),
    // 0 if not listening.
    int port(std::string_view kind) const;
    // Connections speaking a protocol (HTTP connections lws serves not counted).
    size_t connection_count() const { return tcp_ ? tcp_->size() : 0; }

    // Internal, for the libwebsockets callbacks.
    struct Impl;

  private:
    void create_web_listener(const Listener& listener);
    void create_tcp_listener(const char* name, ListenerKind kind, const Listener& listener,
                             const TlsContext* tls = nullptr, int64_t handshake_timeout_ms = 0);
    void create_tls_listeners();
    void create_web_vhost();
    void drain_posted();
    void on_tick();

    Config config_;
    HandlerFactory factory_;
    Tick tick_;
    lws_context* context_ = nullptr;
    lws_vhost* web_vhost_ = nullptr;  // HTTP (the page), non-listening
    std::string web_root_;            // absolute, or empty when not serving files
    std::vector<std::pair<std::string, int>> ports_;
    std::unique_ptr<TlsContext> tls_;  // null without TLS listeners; outlives tcp_'s listeners
    std::unique_ptr<TcpStreams> tcp_;  // every connection we speak a protocol on
    OutBuffer out_;                    // shared scratch for every write
    std::atomic<bool> stop_{false};
    bool shutting_down_ = false;
    std::mutex posted_mutex_;
    std::vector<std::function<void()>> posted_;
    std::unique_ptr<Impl> impl_;

    friend struct Impl;
    std::function<bool(std::string_view, std::string_view)> origin_check_;
};

}  // namespace duplex::net
