#include "net/loop.h"

#include "base/clock.h"
#include "base/log.h"

#include <libwebsockets.h>

#include <arpa/inet.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <stdexcept>

namespace duplex::net {

namespace {
// Output produced per WRITEABLE callback. Large enough to batch many small
// messages into one syscall, small enough that one busy client cannot starve
// the others of loop time.
constexpr size_t kWriteBudget = 64 * 1024;
// WebSocket receive buffer: lws allocates it for every WebSocket connection
// (it is not the read size: reads go through one shared per-thread buffer).
// Messages larger than this arrive in several RECEIVE callbacks, which the
// stream reassembly absorbs; a small buffer keeps idle connections small.
constexpr size_t kRxBufferSize = 256;
// Seconds a closing connection may take to flush before it is dropped.
constexpr int kCloseFlushTimeout = 5;
const lws_protocol_vhost_options kMimeWasm{nullptr, nullptr, ".wasm", "application/wasm"};
const lws_protocol_vhost_options kMimeManifest{&kMimeWasm, nullptr, ".webmanifest", "application/manifest+json"};
const lws_protocol_vhost_options kMimeJson{&kMimeManifest, nullptr, ".json", "application/json"};
const lws_protocol_vhost_options kMimeMap{&kMimeJson, nullptr, ".map", "application/json"};
const lws_protocol_vhost_options kMimeMjs{&kMimeMap, nullptr, ".mjs", "text/javascript"};
const lws_protocol_vhost_options* const kExtraMimetypes = &kMimeMjs;
}  // namespace

// The Transport of one accepted connection.
class LwsConnection final : public Transport {
  public:
    LwsConnection(Server& server, lws* wsi, bool websocket, uint64_t id)
        : server_(server), wsi_(wsi), websocket_(websocket), id_(id) {
        char ip[64] = "?";
        lws_get_peer_simple(wsi, ip, sizeof ip);
        int fd = lws_get_socket_fd(wsi);
        sockaddr_storage sa{};
        socklen_t sl = sizeof sa;
        int port = 0;
        if (fd >= 0 && getpeername(fd, reinterpret_cast<sockaddr*>(&sa), &sl) == 0)
            port = sa.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&sa)->sin6_port)
                                            : ntohs(reinterpret_cast<sockaddr_in*>(&sa)->sin_port);
        peer_ = fmt::format("{}:{}", ip, port);
    }

    void request_write() override {
        if (!server_.shutting_down_ && !closed_) lws_callback_on_writable(wsi_);
    }
    void close() override {
        if (close_requested_) return;
        close_requested_ = true;
        if (server_.shutting_down_) return;
        lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, kCloseFlushTimeout);
        lws_callback_on_writable(wsi_);
    }
    void pause_reading(bool pause) override { lws_rx_flow_control(wsi_, pause ? 0 : 1); }
    bool websocket() const override { return websocket_; }
    const std::string& peer() const override { return peer_; }
    uint64_t id() const override { return id_; }

    void receive(const void* in, size_t len, bool text) {
        if (close_requested_) return;
        handler->on_data(std::span(static_cast<const uint8_t*>(in), len), text);
    }

    void message_end() {
        if (!close_requested_) handler->on_message_end();
    }

    // Returns -1 to have lws close the connection.
    int writable() {
        OutBuffer& out = server_.out_;
        out.clear();
        out.set_websocket(websocket_);
        bool more = handler->on_writable(out, kWriteBudget);
        if (!out.empty()) {
            // Frames are complete (WebSocket framing included), so they go out raw:
            // one syscall for the whole batch.
            int n = lws_write(wsi_, reinterpret_cast<unsigned char*>(out.data() + out.headroom()),
                              out.size(), LWS_WRITE_RAW);
            if (n < 0) return -1;
        }
        if (close_requested_) {
            if (out.empty()) {
                if (websocket_) lws_close_reason(wsi_, LWS_CLOSE_STATUS_NORMAL, nullptr, 0);
                return -1;
            }
            lws_callback_on_writable(wsi_);  // close once this batch is flushed
            return 0;
        }
        if (more) lws_callback_on_writable(wsi_);
        return 0;
    }

    void closed() {
        closed_ = true;
        handler->on_closed();
    }

    std::unique_ptr<ProtocolHandler> handler;
    size_t index = 0;  // position in Server::connections_

  private:
    Server& server_;
    lws* wsi_;
    bool websocket_;
    uint64_t id_;
    bool close_requested_ = false;
    bool closed_ = false;
    std::string peer_;
};

struct Server::Impl {
    Server& server;
    uint64_t last_id = 0;
    // The 1 s tick; standard-layout so lws_container_of can find the server.
    struct TickTimer {
        lws_sorted_usec_list_t sul;
        Server* server;
    } tick{};
    lws_http_mount mount{};
    std::vector<lws_protocols> ws_protocols, tcp_protocols;

    explicit Impl(Server& s) : server(s) {}

    static Server& of(lws* wsi) {
        return *static_cast<Server*>(lws_get_protocol(wsi)->user);
    }

    static LwsConnection* open(lws* wsi, void* user, bool websocket) {
        Server& s = of(wsi);
        if (s.connection_count() >= s.config_.limits.max_connections) {
            log::warn("refusing connection: max_connections ({}) reached", s.config_.limits.max_connections);
            return nullptr;
        }
        auto kind = static_cast<Kind>(lws_get_protocol(wsi)->id);
        auto* c = new LwsConnection(s, wsi, websocket, ++s.impl_->last_id);
        c->handler = s.factory_(kind, *c);
        if (!c->handler) {
            delete c;
            return nullptr;
        }
        c->index = s.connections_.size();
        s.connections_.push_back(c);
        *static_cast<LwsConnection**>(user) = c;
        return c;
    }

    static void close(lws* wsi, void* user) {
        auto** slot = static_cast<LwsConnection**>(user);
        LwsConnection* c = slot ? *slot : nullptr;
        if (!c) return;
        *slot = nullptr;
        Server& s = of(wsi);
        c->closed();
        // Swap-remove from the tick list.
        LwsConnection* last = s.connections_.back();
        s.connections_[c->index] = last;
        last->index = c->index;
        s.connections_.pop_back();
        delete c;
    }

    static int ws_callback(lws* wsi, enum lws_callback_reasons reason, void* user, void* in,
                           size_t len) {
        auto* c = user ? *static_cast<LwsConnection**>(user) : nullptr;
        switch (reason) {
            case LWS_CALLBACK_ESTABLISHED:
                return open(wsi, user, true) ? 0 : -1;
            case LWS_CALLBACK_RECEIVE:
                if (c) {
                    c->receive(in, len, !lws_frame_is_binary(wsi));
                    if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) c->message_end();
                }
                return 0;
            case LWS_CALLBACK_SERVER_WRITEABLE:
                return c ? c->writable() : 0;
            case LWS_CALLBACK_CLOSED:
                close(wsi, user);
                return 0;
            case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
                of(wsi).drain_posted();
                return 0;
            default:
                return lws_callback_http_dummy(wsi, reason, user, in, len);
        }
    }

    // The TcpStreams epoll set, adopted as a raw file descriptor.
    static int tcp_callback(lws* wsi, enum lws_callback_reasons reason, void* user, void* in,
                            size_t len) {
        (void)user, (void)in, (void)len;
        switch (reason) {
            case LWS_CALLBACK_RAW_RX_FILE:
                of(wsi).tcp_->service();
                return 0;
            case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
                of(wsi).drain_posted();
                return 0;
            default:
                return 0;
        }
    }

    // Runs TcpStreams::flush() on the next loop turn (a timer due at once).
    struct FlushTimer {
        lws_sorted_usec_list_t sul;
        Server* server;
    } flush{};
    static void flush_cb(lws_sorted_usec_list_t* sul) {
        auto* timer = lws_container_of(sul, FlushTimer, sul);
        timer->server->tcp_->scheduled_flush();
    }

    static void tick_cb(lws_sorted_usec_list_t* sul) {
        auto* timer = lws_container_of(sul, TickTimer, sul);
        timer->server->on_tick();
        lws_sul_schedule(timer->server->context_, 0, sul, tick_cb, LWS_US_PER_SEC);
    }

    lws_protocols protocol(const char* name, lws_callback_function* cb, Kind kind) {
        lws_protocols p{};
        p.name = name;
        p.callback = cb;
        p.per_session_data_size = sizeof(LwsConnection*);
        p.rx_buffer_size = kRxBufferSize;
        p.id = static_cast<unsigned>(kind);
        p.user = &server;
        return p;
    }
};

namespace {
void lws_log_emit(int level, const char* line) {
    std::string_view text(line);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    if (level & LLL_ERR)
        log::error("lws: {}", text);
    else if (level & LLL_WARN)
        log::warn("lws: {}", text);
    else
        log::debug("lws: {}", text);
}
}  // namespace

Server::Server(const Config& config, HandlerFactory factory, Tick tick)
    : config_(config), factory_(std::move(factory)), tick_(std::move(tick)),
      out_(LWS_PRE, false), impl_(std::make_unique<Impl>(*this)) {
    lws_set_log_level(LLL_ERR | LLL_WARN | (log::level() >= log::Level::debug ? LLL_NOTICE : 0),
                      lws_log_emit);

    auto& ws = impl_->ws_protocols;
    // protocols[0] takes HTTP and WebSocket connections without a subprotocol.
    ws.push_back(impl_->protocol("http", Impl::ws_callback, Kind::Http));
    for (const char* name : {"mqtt", "mqttv3.1"}) ws.push_back(impl_->protocol(name, Impl::ws_callback, Kind::Mqtt));
    for (const char* name : {"v12.stomp", "v11.stomp", "v10.stomp", "stomp"})
        ws.push_back(impl_->protocol(name, Impl::ws_callback, Kind::Stomp));
    ws.push_back(lws_protocols{});
    impl_->tcp_protocols = {impl_->protocol("duplex-tcp", Impl::tcp_callback, Kind::Mqtt), lws_protocols{}};

    if (!config_.web_root.empty()) {
        char resolved[PATH_MAX];
        if (realpath(config_.web_root.c_str(), resolved)) {
            web_root_ = resolved;
            auto& m = impl_->mount;
            m.mountpoint = "/";
            m.mountpoint_len = 1;
            m.origin = web_root_.c_str();
            m.def = "index.html";
            m.origin_protocol = LWSMPRO_FILE;
            // Beyond lws's built-in table (which has .js, .html, .css, images):
            // ES modules and source maps of the web page's npm packages.
            m.extra_mimetypes = kExtraMimetypes;
        } else {
            log::warn("web_root '{}' not found: HTTP serves nothing", config_.web_root);
        }
    }

    lws_context_creation_info info{};
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.port = CONTEXT_PORT_NO_LISTEN;
    // Bound the fd table: lws sizes it from the fd limit, which can be millions.
    size_t fds = config_.limits.max_connections + 64;
    rlimit nofile{};
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY)
        fds = std::min<size_t>(fds, nofile.rlim_cur);
    info.fd_limit_per_thread = static_cast<unsigned>(fds);
    context_ = lws_create_context(&info);
    if (!context_) throw std::runtime_error("cannot create libwebsockets context");

    impl_->flush.server = this;
    TcpStreams::Hooks hooks;
    hooks.make_handler = [this](Kind kind, Transport& t) { return factory_(kind, t); };
    hooks.may_accept = [this] {
        if (connection_count() < config_.limits.max_connections) return true;
        log::warn("refusing connection: max_connections ({}) reached", config_.limits.max_connections);
        return false;
    };
    hooks.schedule_flush = [this] {
        if (!shutting_down_) lws_sul_schedule(context_, 0, &impl_->flush.sul, Impl::flush_cb, 1);
    };
    hooks.next_id = [this] { return ++impl_->last_id; };
    hooks.adopt_http = [this](int fd, std::string_view read) {
        // On failure lws closes the fd itself.
        if (!ws_vhost_ || !lws_adopt_socket_vhost_readbuf(ws_vhost_, fd, read.data(), read.size()))
            log::warn("HTTP connection could not be handed to libwebsockets");
    };
    try {
        tcp_ = std::make_unique<TcpStreams>(out_, std::move(hooks));
        if (config_.ws.enabled) create_ws_listener(config_.ws);
        if (config_.mqtt.enabled) create_tcp_listener("mqtt", Kind::Mqtt, config_.mqtt);
        if (config_.stomp.enabled) create_tcp_listener("stomp", Kind::Stomp, config_.stomp);
        // A vhost without a listener carries the epoll set and, with or
        // without listeners, the cross-thread wake-ups (EVENT_WAIT_CANCELLED).
        lws_context_creation_info vinfo{};
        vinfo.vhost_name = "internal";
        vinfo.port = CONTEXT_PORT_NO_LISTEN_SERVER;
        vinfo.protocols = impl_->tcp_protocols.data();
        lws_vhost* vh = lws_create_vhost(context_, &vinfo);
        if (!vh) throw std::runtime_error("cannot create the internal lws vhost");
        lws_sock_file_fd_type fd{};
        fd.filefd = static_cast<lws_filefd_type>(tcp_->epoll_fd());
        if (!lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, fd, impl_->tcp_protocols[0].name, nullptr))
            throw std::runtime_error("cannot add the TCP epoll set to the lws loop");
    } catch (...) {
        tcp_.reset();
        lws_context_destroy(context_);
        context_ = nullptr;
        throw;
    }
    impl_->tick.server = this;
    lws_sul_schedule(context_, 0, &impl_->tick.sul, Impl::tick_cb, LWS_US_PER_SEC);
}

Server::~Server() {
    if (context_) {
        shutting_down_ = true;
        lws_sul_cancel(&impl_->tick.sul);
        lws_sul_cancel(&impl_->flush.sul);
        tcp_->close_all();
        lws_context_destroy(context_);
    }
}

void Server::create_ws_listener(const Listener& listener) {
    // We own the listening socket (TcpStreams answers WebSocket upgrades);
    // this vhost does not listen: it serves the HTTP requests we hand it, and
    // upgrades that arrive later on a kept-alive HTTP connection.
    lws_context_creation_info info{};
    info.vhost_name = "ws";
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = impl_->ws_protocols.data();
    if (!web_root_.empty()) info.mounts = &impl_->mount;
    ws_vhost_ = lws_create_vhost(context_, &info);
    if (!ws_vhost_) throw std::runtime_error("cannot create the HTTP vhost");
    create_tcp_listener("ws", Kind::Http, listener);
}

void Server::create_tcp_listener(const char* kind, Kind k, const Listener& listener) {
    std::string host = listener.host == "localhost" ? "127.0.0.1" : listener.host;
    int port = 0;
    try {
        port = tcp_->listen(k, listener);
    } catch (const std::exception& e) {
        throw std::runtime_error(
            fmt::format("cannot listen {} on {}:{}: {}", kind, host.empty() ? "*" : host, listener.port, e.what()));
    }
    ports_.emplace_back(kind, port);
    log::info("listening {} {}:{}", kind, host.empty() ? "0.0.0.0" : host, port);
}

int Server::port(std::string_view kind) const {
    for (auto& [k, p] : ports_)
        if (k == kind) return p;
    return 0;
}

void Server::run() {
    while (!stop_.load()) {
        if (lws_service(context_, 0) < 0) break;
    }
}

void Server::stop() {
    stop_ = true;
    if (context_) lws_cancel_service(context_);
}

void Server::post(std::function<void()> task) {
    {
        std::lock_guard lock(posted_mutex_);
        posted_.push_back(std::move(task));
    }
    lws_cancel_service(context_);
}

void Server::drain_posted() {
    std::vector<std::function<void()>> tasks;
    {
        std::lock_guard lock(posted_mutex_);
        tasks.swap(posted_);
    }
    for (auto& t : tasks) t();
}

void Server::on_tick() {
    int64_t now = now_ms();
    // Handlers only flag closes here; connections leave the list in CLOSED
    // callbacks, which do not run during this loop.
    for (size_t i = 0; i < connections_.size(); ++i) connections_[i]->handler->on_tick(now);
    tcp_->tick(now);
    if (tick_) tick_(now);
}

}  // namespace duplex::net
