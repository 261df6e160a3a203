#include "net/loop.h"

#include "base/clock.h"
#include "base/log.h"
#include "net/peer_name.h"
#include "net/websocket_session.h"

#include <libwebsockets.h>

#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string_view>

namespace duplex::net {

namespace {
// Added to every HTTP response. The page's scripts and styles are files of
// its own (web/app.js, web/style.css), so the policy needs no
// 'unsafe-inline'; WebSocket connections go back to where the page came
// from; nobody may frame it (clickjacking), browsers must not guess types.
const lws_protocol_vhost_options kHeaderReferrer{nullptr, nullptr, "referrer-policy:", "no-referrer"};
const lws_protocol_vhost_options kHeaderFrame{&kHeaderReferrer, nullptr, "x-frame-options:", "DENY"};
const lws_protocol_vhost_options kHeaderNosniff{&kHeaderFrame, nullptr, "x-content-type-options:", "nosniff"};
const lws_protocol_vhost_options kSecurityHeaders{
    &kHeaderNosniff, nullptr, "content-security-policy:",
    "default-src 'self'; script-src 'self'; worker-src 'self' blob:; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"};
const lws_protocol_vhost_options kMimeWasm{nullptr, nullptr, ".wasm", "application/wasm"};
const lws_protocol_vhost_options kMimeManifest{&kMimeWasm, nullptr, ".webmanifest",
                                               "application/manifest+json"};
const lws_protocol_vhost_options kMimeJson{&kMimeManifest, nullptr, ".json", "application/json"};
const lws_protocol_vhost_options kMimeMap{&kMimeJson, nullptr, ".map", "application/json"};
const lws_protocol_vhost_options kMimeMjs{&kMimeMap, nullptr, ".mjs", "text/javascript"};
const lws_protocol_vhost_options* const kExtraMimetypes = &kMimeMjs;

// The answer to a WebSocket upgrade on a kept-alive HTTP connection.
constexpr std::string_view kUpgradeRefusal =
    "open WebSocket connections on a fresh connection: this one already serves HTTP\n";
// Room for the refusal's status line and headers in front of the body,
// kSecurityHeaders (which lws adds to every status line) included.
constexpr size_t kRefusalHeadRoom = 1024;
}  // namespace

struct Loop::Impl {
    Loop& loop;
    uint64_t last_id = 0;
    // The 1 s tick; standard-layout so lws_container_of can find the loop.
    struct TickTimer {
        lws_sorted_usec_list_t sul;
        Loop* loop;
    } tick{};
    lws_http_mount mount{};
    std::vector<lws_protocols> web_protocols, tcp_protocols;

    explicit Impl(Loop& l) : loop(l) {}

    static Loop& of(lws* wsi) { return *static_cast<Loop*>(lws_get_protocol(wsi)->user); }

    // The web vhost's one protocol: lws serves files; the only thing we add is
    // refusing WebSocket upgrades (lws's WebSocket support is not used).
    static int http_callback(lws* wsi, enum lws_callback_reasons reason, void* user, void* in, size_t len) {
        if (reason == LWS_CALLBACK_HTTP_CONFIRM_UPGRADE) return refuse_upgrade(wsi);
        if (reason == LWS_CALLBACK_FILTER_HTTP_CONNECTION && in &&
            !inside_web_root(of(wsi), static_cast<const char*>(in))) {
            // A symlink (or anything else) that leads out of web_root: as if absent.
            lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, nullptr);
            return 1;
        }
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }

    // Files are served only from inside web_root: `uri` (lws has decoded it
    // and removed "..") resolved with its symlinks must stay there. A path
    // that does not exist is lws's to answer (404).
    static bool inside_web_root(const Loop& l, const char* uri) {
        if (l.web_root_.empty()) return true;
        std::string path = l.web_root_ + uri;
        char resolved[PATH_MAX];
        if (!realpath(path.c_str(), resolved)) return true;
        std::string_view r(resolved), root(l.web_root_);
        return r == root || (r.starts_with(root) && r[root.size()] == '/');
    }

    // Returns what LWS_CALLBACK_HTTP_CONFIRM_UPGRADE expects: 0 lets lws go
    // on, 1 means we answered, -1 hangs up.
    static int refuse_upgrade(lws* wsi) {
        // The upgrade token is read from the header table, not from the
        // callback's `in`: lws 4.1 also calls here after answering an unknown
        // upgrade (403) itself, when the headers are released and `in` points
        // into freed memory (CVE-2025-11677). No header left means that case:
        // hang up, so lws does not go on with its own stale pointer either.
        if (lws_hdr_total_length(wsi, WSI_TOKEN_UPGRADE) <= 0) return -1;
        char token[16] = "";
        if (lws_hdr_copy(wsi, token, sizeof token, WSI_TOKEN_UPGRADE) < 0 ||
            strcasecmp(token, "websocket") != 0)
            return 0;  // h2c and the like are lws's business, as before
        sockaddr_storage sa{};
        socklen_t sl = sizeof sa;
        int fd = lws_get_socket_fd(wsi);
        std::string peer =
            fd >= 0 && getpeername(fd, reinterpret_cast<sockaddr*>(&sa), &sl) == 0 ? peer_name(sa) : "?";
        log::info("{}: WebSocket upgrade refused (400): on a kept-alive HTTP connection", peer);

        uint8_t buf[LWS_PRE + kRefusalHeadRoom + kUpgradeRefusal.size()];
        uint8_t *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf;
        static constexpr std::string_view kType = "text/plain; charset=utf-8";
        if (lws_add_http_header_status(wsi, HTTP_STATUS_BAD_REQUEST, &p, end) ||
            lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                         reinterpret_cast<const unsigned char*>(kType.data()),
                                         int(kType.size()), &p, end) ||
            lws_add_http_header_content_length(wsi, kUpgradeRefusal.size(), &p, end) ||
            lws_finalize_http_header(wsi, &p, end) || size_t(end - p) < kUpgradeRefusal.size())
            return -1;
        std::memcpy(p, kUpgradeRefusal.data(), kUpgradeRefusal.size());
        p += kUpgradeRefusal.size();
        // Head and body in one write, as lws_return_http_status() does for
        // HTTP/1; lws then completes the transaction (keep-alive goes on).
        int n = int(p - start);
        return lws_write(wsi, start, size_t(n), LWS_WRITE_HTTP_HEADERS) == n ? 1 : -1;
    }

    // The TcpStreams epoll set, adopted as a raw file descriptor.
    static int tcp_callback(lws* wsi, enum lws_callback_reasons reason, void* user, void* in, size_t len) {
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
        Loop* loop;
    } flush{};
    static void flush_cb(lws_sorted_usec_list_t* sul) {
        auto* timer = lws_container_of(sul, FlushTimer, sul);
        timer->loop->tcp_->scheduled_flush();
    }

    static void tick_cb(lws_sorted_usec_list_t* sul) {
        auto* timer = lws_container_of(sul, TickTimer, sul);
        timer->loop->on_tick();
        lws_sul_schedule(timer->loop->context_, 0, sul, tick_cb, LWS_US_PER_SEC);
    }

    lws_protocols protocol(const char* name, lws_callback_function* cb) {
        lws_protocols p{};
        p.name = name;
        p.callback = cb;
        p.user = &loop;
        return p;
    }
};

namespace {
void lws_log_emit(int level, const char* line) {
    std::string_view text(line);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    // lws 4.1.6 reports every read-buffer adoption at error level ("calling
    // service"): routine here (each HTTP request we hand over), not an error.
    if (text.ends_with("adopt_socket_readbuf: calling service")) log::debug("lws: {}", text);
    else if (level & LLL_ERR) log::error("lws: {}", text);
    else if (level & LLL_WARN) log::warn("lws: {}", text);
    else log::debug("lws: {}", text);
}
}  // namespace

Loop::Loop(const Config& config, HandlerFactory factory, Tick tick)
    : config_(config),
      factory_(std::move(factory)),
      tick_(std::move(tick)),
      out_(0, false),
      impl_(std::make_unique<Impl>(*this)) {
    lws_set_log_level(LLL_ERR | LLL_WARN | (log::level() >= log::Level::debug ? LLL_NOTICE : 0),
                      lws_log_emit);

    impl_->web_protocols = {impl_->protocol("http", Impl::http_callback), lws_protocols{}};
    impl_->tcp_protocols = {impl_->protocol("duplex-tcp", Impl::tcp_callback), lws_protocols{}};

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
    // Request heads up to TcpStreams::kMaxHandOff (browsers send every
    // cookie of the host: a 2 KiB limit once made the page fail with 431).
    // The service buffer must hold what we hand over with the socket.
    info.max_http_header_data = static_cast<unsigned short>(TcpStreams::kMaxHandOff);
    info.pt_serv_buf_size = static_cast<unsigned int>(TcpStreams::kMaxHandOff + 4096);
    context_ = lws_create_context(&info);
    if (!context_) throw std::runtime_error("cannot create libwebsockets context");

    impl_->flush.loop = this;
    TcpStreams::Hooks hooks;
    hooks.make_handler = [this](Protocol protocol, Transport& t) { return factory_(protocol, t); };
    hooks.may_accept = [this, refused = uint64_t(0)](std::string_view address, size_t from_address) mutable {
        const Limits& l = config_.limits;
        // 0: a quarter of max_connections, but never fewer than 64 (or all
        // of them, when there are fewer): a small broker still serves one host.
        size_t per_address = l.max_connections_per_address
                                 ? l.max_connections_per_address
                                 : std::max(l.max_connections / 4, std::min<size_t>(l.max_connections, 64));
        if (connection_count() < l.max_connections && from_address < per_address) return true;
        // A flood of refused connections does not flood the log.
        static log::Throttled throttle;
        ++refused;
        throttle.warn("refusing connection from {}: {} ({} refused so far)", address,
                      connection_count() >= l.max_connections
                          ? fmt::format("max_connections ({}) reached", l.max_connections)
                          : fmt::format("max_connections_per_address ({}) reached", per_address),
                      refused);
        return false;
    };
    hooks.schedule_flush = [this] {
        if (!shutting_down_) lws_sul_schedule(context_, 0, &impl_->flush.sul, Impl::flush_cb, 1);
    };
    hooks.next_id = [this] { return ++impl_->last_id; };
    hooks.origin_allowed = [this](std::string_view origin, std::string_view host) {
        return !origin_check_ || origin_check_(origin, host);
    };
    hooks.adopt_http = [this](int fd, std::string_view read) {
        // On failure lws closes the fd itself.
        if (!web_vhost_ || !lws_adopt_socket_vhost_readbuf(web_vhost_, fd, read.data(), read.size()))
            // Also when lws answered and closed it during the adoption
            // (a 404 on a Connection: close request): not a warning.
            log::debug("HTTP connection finished or refused while handed to libwebsockets");
    };
    try {
        tcp_ = std::make_unique<TcpStreams>(out_, std::move(hooks));
        if (config_.ws.enabled) create_web_listener(config_.ws);
        if (config_.mqtt.enabled) create_tcp_listener("mqtt", ListenerKind::Mqtt, config_.mqtt);
        if (config_.stomp.enabled) create_tcp_listener("stomp", ListenerKind::Stomp, config_.stomp);
        create_tls_listeners();
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
        if (!lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, fd, impl_->tcp_protocols[0].name,
                                        nullptr))
            throw std::runtime_error("cannot add the TCP epoll set to the lws loop");
    } catch (...) {
        tcp_.reset();
        tls_.reset();
        lws_context_destroy(context_);
        context_ = nullptr;
        throw;
    }
    impl_->tick.loop = this;
    lws_sul_schedule(context_, 0, &impl_->tick.sul, Impl::tick_cb, LWS_US_PER_SEC);
}

Loop::~Loop() {
    if (context_) {
        shutting_down_ = true;
        lws_sul_cancel(&impl_->tick.sul);
        lws_sul_cancel(&impl_->flush.sul);
        tcp_->close_all();
        lws_context_destroy(context_);
    }
}

void Loop::create_web_listener(const Listener& listener) {
    create_web_vhost();
    create_tcp_listener("ws", ListenerKind::Web, listener);
}

void Loop::create_web_vhost() {
    // We own the listening socket (TcpStreams answers WebSocket upgrades);
    // this vhost does not listen: it serves the HTTP requests we hand it
    // (from the ws port, and the plaintext of HTTPS requests on the wss port).
    lws_context_creation_info info{};
    info.vhost_name = "web";
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = impl_->web_protocols.data();
    if (!web_root_.empty()) info.mounts = &impl_->mount;
    info.headers = &kSecurityHeaders;
    web_vhost_ = lws_create_vhost(context_, &info);
    if (!web_vhost_) throw std::runtime_error("cannot create the HTTP vhost");
}

void Loop::create_tls_listeners() {
    struct Want {
        const char* name;
        ListenerKind kind;
        const Listener& listener;
    };
    const Want wanted[] = {{"mqtts", ListenerKind::Mqtt, config_.mqtts},
                           {"stomps", ListenerKind::Stomp, config_.stomps},
                           {"wss", ListenerKind::Web, config_.wss}};
    std::string on;
    for (const Want& w : wanted)
        if (w.listener.enabled) on += on.empty() ? w.name : std::string(", ") + w.name;
    if (on.empty()) return;
    if (config_.tls.cert_file.empty() || config_.tls.key_file.empty())
        throw std::runtime_error(fmt::format("TLS listener(s) {} need tls_cert_file and tls_key_file", on));
    std::string error;
    tls_ = TlsContext::create(config_.tls, error);
    if (!tls_) throw std::runtime_error(fmt::format("TLS ({}): {}", on, error));
    // MQTT and STOMP clients have connect_timeout for their handshake as
    // for their CONNECT; the web port has the WebSocket handshake's deadline
    // (and an HTTPS page request the same).
    for (const Want& w : wanted) {
        if (!w.listener.enabled) continue;
        if (w.kind == ListenerKind::Web) {
            if (!web_vhost_) create_web_vhost();
            create_tcp_listener(w.name, w.kind, w.listener, tls_.get(),
                                WebSocketSession::kHandshakeTimeoutMs);
        } else {
            create_tcp_listener(w.name, w.kind, w.listener, tls_.get(),
                                int64_t(config_.limits.connect_timeout) * 1000);
        }
    }
}

void Loop::reload_tls() {
    if (!tls_) return;
    if (std::string error = tls_->reload(); !error.empty())
        log::error("TLS reload failed, the previous certificates stay in use: {}", error);
    else log::info("TLS certificates reloaded from {} (new connections use them)", config_.tls.cert_file);
}

void Loop::create_tcp_listener(const char* name, ListenerKind kind, const Listener& listener,
                               const TlsContext* tls, int64_t handshake_timeout_ms) {
    std::string host = listener.host == "localhost" ? "127.0.0.1" : listener.host;
    int port = 0;
    try {
        port = tcp_->listen(kind, listener, tls, handshake_timeout_ms);
    } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format("cannot listen {} on {}:{}: {}", name, host.empty() ? "*" : host,
                                             listener.port, e.what()));
    }
    ports_.emplace_back(name, port);
    log::info("listening {} {}:{}", name, host.empty() ? "0.0.0.0" : host, port);
}

int Loop::port(std::string_view kind) const {
    for (auto& [k, p] : ports_)
        if (k == kind) return p;
    return 0;
}

void Loop::run() {
    while (!stop_.load()) {
        if (lws_service(context_, 0) < 0) break;
    }
}

void Loop::stop() {
    stop_ = true;
    if (context_) lws_cancel_service(context_);
}

void Loop::post(std::function<void()> task) {
    {
        std::lock_guard lock(posted_mutex_);
        posted_.push_back(std::move(task));
    }
    lws_cancel_service(context_);
}

void Loop::drain_posted() {
    std::vector<std::function<void()>> tasks;
    {
        std::lock_guard lock(posted_mutex_);
        tasks.swap(posted_);
    }
    for (auto& t : tasks) t();
}

void Loop::on_tick() {
    int64_t now = now_ms();
    tcp_->tick(now);
    if (tick_) tick_(now);
}

}  // namespace duplex::net
