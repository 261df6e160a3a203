#include "net/tcp_streams.h"

#include "base/clock.h"
#include "base/log.h"
#include "net/peer_name.h"
#include "net/tcp_connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace duplex::net {

namespace {
// "ip" of an "ip:port" peer name (IPv6 too: the port follows the last colon).
std::string address_of(std::string_view peer) { return std::string(peer.substr(0, peer.rfind(':'))); }

// Output produced per flush of one connection (TCP or WebSocket alike):
// many small messages per syscall, yet no client can hold the loop for long.
constexpr size_t kWriteBudget = 64 * 1024;
// One read per ready socket per round (level-triggered: the rest is read next
// round, so a flooding client cannot starve the others).
constexpr size_t kReadSize = 16 * 1024;
constexpr int kEventsPerRound = 256;
constexpr int kAcceptsPerRound = 64;
// Milliseconds a closing connection may take to flush before it is dropped.
constexpr int64_t kCloseFlushTimeoutMs = 5000;

std::string errno_text() { return std::strerror(errno); }

// epoll data of a connection's socket is the connection; of its HTTPS proxy
// end (TcpConnection::Proxy), the same pointer with the low bit set
// (connections are allocated with at least 8-byte alignment).
constexpr uintptr_t kProxyTag = 1;

// Failed TLS handshakes and records: scanners and misconfigured clients
// must not flood the log.
log::Throttled tls_failures;

}  // namespace

TcpStreams::TcpStreams(OutBuffer& out, Hooks hooks) : out_(out), hooks_(std::move(hooks)) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) throw std::runtime_error("epoll_create1: " + errno_text());
}

TcpStreams::~TcpStreams() {
    close_all();
    for (auto& l : listeners_) ::close(l->fd);
    ::close(epoll_fd_);
}

int TcpStreams::listen(ListenerKind kind, const Listener& listener, const TlsContext* tls,
                       int64_t handshake_timeout_ms) {
    std::string host = listener.host == "localhost" ? "127.0.0.1" : listener.host;
    sockaddr_storage sa{};
    socklen_t sl = 0;
    in_addr v4{};
    in6_addr v6{};
    bool dual_stack = false;
    if (host.empty() || host == "::") {
        auto* a = reinterpret_cast<sockaddr_in6*>(&sa);
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_any;
        a->sin6_port = htons(static_cast<uint16_t>(listener.port));
        sl = sizeof *a;
        dual_stack = host.empty();
    } else if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
        auto* a = reinterpret_cast<sockaddr_in*>(&sa);
        a->sin_family = AF_INET;
        a->sin_addr = v4;
        a->sin_port = htons(static_cast<uint16_t>(listener.port));
        sl = sizeof *a;
    } else if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&sa);
        a->sin6_family = AF_INET6;
        a->sin6_addr = v6;
        a->sin6_port = htons(static_cast<uint16_t>(listener.port));
        sl = sizeof *a;
    } else {
        throw std::runtime_error(fmt::format("'{}' is not an IP address", host));
    }

    int fd = ::socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 && dual_stack && errno == EAFNOSUPPORT) {
        // No IPv6 on this machine: every IPv4 address instead.
        sa = {};
        auto* a = reinterpret_cast<sockaddr_in*>(&sa);
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_ANY);
        a->sin_port = htons(static_cast<uint16_t>(listener.port));
        sl = sizeof *a;
        dual_stack = false;
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    }
    if (fd < 0) throw std::runtime_error("socket: " + errno_text());
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (sa.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual_stack ? &zero : &one, sizeof one);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sl) != 0 || ::listen(fd, SOMAXCONN) != 0) {
        std::string why = errno_text();
        ::close(fd);
        throw std::runtime_error(why);
    }
    sockaddr_storage bound{};
    socklen_t bl = sizeof bound;
    getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bl);
    int port = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                           : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

    listeners_.push_back(
        std::make_unique<ListenSocket>(ListenSocket{fd, kind, tls, handshake_timeout_ms, false}));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = listeners_.back().get();
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0)
        throw std::runtime_error("epoll_ctl: " + errno_text());
    return port;
}

void TcpStreams::service() {
    epoll_event events[kEventsPerRound];
    int n = epoll_wait(epoll_fd_, events, kEventsPerRound, 0);
    for (int i = 0; i < n; ++i) {
        void* p = events[i].data.ptr;
        if (reinterpret_cast<uintptr_t>(p) & kProxyTag) {
            auto& c = *reinterpret_cast<TcpConnection*>(reinterpret_cast<uintptr_t>(p) & ~kProxyTag);
            if (!c.closed) proxy_event(c, events[i].events);
            continue;
        }
        bool is_listener = false;
        for (auto& l : listeners_) {
            if (l.get() == p) {
                accept_from(*l);
                is_listener = true;
                break;
            }
        }
        if (is_listener) continue;
        auto& c = *static_cast<TcpConnection*>(p);
        if (c.closed) continue;  // dropped earlier in this round
        uint32_t e = events[i].events;
        if (e & EPOLLOUT) write_to(c);
        if (c.closed) continue;
        if (e & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
            if (!c.reading() && !(e & (EPOLLHUP | EPOLLERR))) continue;
            read_from(c);
        }
    }
    // Output this round produced goes out now rather than a loop turn later.
    flush();
}

void TcpStreams::accept_from(ListenSocket& listener) {
    for (int i = 0; i < kAcceptsPerRound; ++i) {
        sockaddr_storage sa{};
        socklen_t sl = sizeof sa;
        int fd = ::accept4(listener.fd, reinterpret_cast<sockaddr*>(&sa), &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
            if (errno == ECONNABORTED || errno == EPROTO) continue;
            // EMFILE/ENFILE/ENOBUFS: the backlog keeps the clients until a slot
            // frees. The listening socket stays readable meanwhile, so stop
            // watching it until the next tick instead of spinning.
            log::warn("accept: {}; not accepting for a second", errno_text());
            listener.suspended = true;
            epoll_event ev{};
            ev.data.ptr = &listener;
            epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listener.fd, &ev);
            return;
        }
        std::string peer = peer_name(sa);
        std::string address = address_of(peer);
        auto counted = per_address_.find(address);
        if (!hooks_.may_accept(address, counted == per_address_.end() ? 0 : counted->second)) {
            ::close(fd);
            continue;
        }
        ++per_address_[address];
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto* c = new TcpConnection(*this, fd, hooks_.next_id(), std::move(peer));
        if (listener.tls) {
            c->tls = listener.tls->new_session(cipher_);
            if (!c->tls) {
                log::warn("{}: cannot allocate a TLS session", c->peer());
                ::close(fd);
                if (--per_address_[address] == 0) per_address_.erase(address);
                delete c;
                continue;
            }
            c->close_at_ms = now_ms() + listener.handshake_timeout_ms;
        }
        if (listener.kind == ListenerKind::Web) {
            c->mode = TcpConnection::Mode::Handshake;
            c->ws = std::make_unique<WebSocketSession>(*c);
            c->close_at_ms = now_ms() + WebSocketSession::kHandshakeTimeoutMs;
        } else {
            c->handler = hooks_.make_handler(
                listener.kind == ListenerKind::Mqtt ? Protocol::Mqtt : Protocol::Stomp, *c);
            if (!c->handler) {
                ::close(fd);
                if (--per_address_[address] == 0) per_address_.erase(address);
                delete c;
                continue;
            }
        }
        c->index = static_cast<uint32_t>(connections_.size());
        connections_.push_back(c);
        c->events = EPOLLIN | EPOLLRDHUP;
        epoll_event ev{};
        ev.events = c->events;
        ev.data.ptr = c;
        if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
            log::warn("epoll_ctl add: {}", errno_text());
            drop(*c);
        }
    }
}

void TcpStreams::read_from(TcpConnection& c) {
    static thread_local uint8_t buffer[kReadSize];
    ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
    if (n > 0) {
        std::span<uint8_t> bytes(buffer, static_cast<size_t>(n));
        if (c.close_requested) return;  // closing: input is discarded
        if (c.tls) read_tls(c, bytes);
        else deliver(c, bytes);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    drop(c);  // end of stream or a socket error: the peer is gone
}

void TcpStreams::deliver(TcpConnection& c, std::span<uint8_t> bytes) {
    if (c.close_requested || c.closed) return;
    switch (c.mode) {
        case TcpConnection::Mode::Stream:
            c.handler->on_data(bytes, false);
            break;
        case TcpConnection::Mode::Handshake:
            if (c.ws->handshake(bytes, hooks_.make_handler, kMaxHandOff, hooks_.origin_allowed) ==
                WebSocketSession::Step::Http)
                hand_off(c);
            break;
        case TcpConnection::Mode::WebSocket:
            c.ws->feed(bytes);
            break;
        case TcpConnection::Mode::Proxy:
            to_lws(c, bytes);
            break;
    }
}

void TcpStreams::read_tls(TcpConnection& c, std::span<const uint8_t> ciphertext) {
    bool was_established = c.tls->established();
    TlsSession::Status status = c.tls->receive(ciphertext, [&](std::span<uint8_t> plain) {
        if (!was_established) {
            // The handshake completed: the stream's deadline is met (on the
            // web port the WebSocket handshake's still runs), and output the
            // handler made meanwhile may go.
            was_established = true;
            if (c.mode == TcpConnection::Mode::Stream && !c.close_requested) c.close_at_ms = 0;
            want_flush(c);
        }
        deliver(c, plain);
    });
    emit(c);  // handshake records, alerts, or what the callback sent
    if (!was_established && c.tls->established()) {
        if (c.mode == TcpConnection::Mode::Stream && !c.close_requested) c.close_at_ms = 0;
        want_flush(c);
    }
    switch (status) {
        case TlsSession::Status::Ok:
            return;
        case TlsSession::Status::Closed:
            return drop(c);  // close_notify: the peer's end of stream
        case TlsSession::Status::Failed:
            tls_failures.warn("{}: TLS {} failed: {}", c.peer(),
                              c.tls->established() ? "connection" : "handshake", c.tls->error());
            // The alert OpenSSL made went out with emit() above (if the
            // kernel took it); then our FIN.
            return drop(c);
    }
}

void TcpStreams::emit(TcpConnection& c) {
    if (cipher_.empty()) return;
    if (c.closed) return cipher_.clear();
    size_t sent = 0;
    if (!c.unsent) {
        ssize_t n = ::send(c.fd, cipher_.data(), cipher_.size(), MSG_NOSIGNAL);
        // A hard error keeps the bytes: EPOLLOUT/EPOLLERR brings write_to(),
        // which drops the connection (not here: callers may still be in a
        // handler callback).
        if (n > 0) sent = static_cast<size_t>(n);
    }
    if (sent < cipher_.size()) {
        if (!c.unsent) c.unsent = std::make_unique<std::string>();
        c.unsent->append(cipher_, sent, std::string::npos);
    }
    cipher_.clear();
    update_events(c);
}

void TcpStreams::hand_off(TcpConnection& c) {
    // The page, or any other HTTP request: libwebsockets serves it, starting
    // from what we read.
    std::string read = c.ws->take_head();
    if (c.tls) return proxy_http(c, std::move(read));
    int fd = c.fd;
    release(c);
    hooks_.adopt_http(fd, read);
}

void TcpStreams::proxy_http(TcpConnection& c, std::string head) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) {
        log::warn("{}: socketpair for HTTPS: {}", c.peer(), errno_text());
        return c.close();
    }
    c.mode = TcpConnection::Mode::Proxy;
    c.ws.reset();
    c.close_at_ms = 0;  // lws applies its own HTTP timeouts from here
    c.proxy = std::make_unique<TcpConnection::Proxy>(TcpConnection::Proxy{pair[0], 0, {}});
    c.proxy->events = EPOLLIN | EPOLLRDHUP;
    epoll_event ev{};
    ev.events = c.proxy->events;
    ev.data.u64 = reinterpret_cast<uintptr_t>(&c) | kProxyTag;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, pair[0], &ev) != 0) {
        log::warn("{}: epoll_ctl add (HTTPS proxy): {}", c.peer(), errno_text());
        ::close(pair[1]);
        close_proxy(c);
        return c.close();
    }
    hooks_.adopt_http(pair[1], head);
}

void TcpStreams::to_lws(TcpConnection& c, std::span<const uint8_t> bytes) {
    auto& p = *c.proxy;
    if (p.fd < 0) return;  // lws is done with this connection
    size_t sent = 0;
    if (p.to_lws.empty()) {
        ssize_t n = ::send(p.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            close_proxy(c);
            return c.close();
        }
        if (n > 0) sent = static_cast<size_t>(n);
    }
    // At most one record's plaintext: reading() stops reading the client
    // until lws has taken it.
    p.to_lws.append(reinterpret_cast<const char*>(bytes.data()) + sent, bytes.size() - sent);
    update_events(c);
}

void TcpStreams::proxy_event(TcpConnection& c, uint32_t events) {
    auto& p = *c.proxy;
    if ((events & EPOLLOUT) && !p.to_lws.empty()) {
        ssize_t n = ::send(p.fd, p.to_lws.data(), p.to_lws.size(), MSG_NOSIGNAL);
        if (n > 0) p.to_lws.erase(0, static_cast<size_t>(n));
        else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) events |= EPOLLHUP;
        if (p.to_lws.empty()) std::string().swap(p.to_lws);
        update_events(c);  // reading the client again once lws took it all
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP))) return;
    static thread_local uint8_t buffer[kReadSize];
    ssize_t n = (events & EPOLLIN) ? ::recv(p.fd, buffer, sizeof buffer, 0) : 0;
    if (n > 0) {
        c.tls->send(std::string_view(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n)));
        emit(c);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    // lws closed the HTTP connection: so do we, once our output is flushed.
    close_proxy(c);
    c.close();
}

void TcpStreams::close_proxy(TcpConnection& c) {
    if (!c.proxy || c.proxy->fd < 0) return;
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.proxy->fd, nullptr);
    ::close(c.proxy->fd);
    c.proxy->fd = -1;
    std::string().swap(c.proxy->to_lws);
}

void TcpStreams::send_control(TcpConnection& c, std::string_view frame_bytes) {
    if (c.closed) return;
    if (c.tls) {
        // Encrypted now, so it keeps its place among the records: appended
        // behind anything unsent, as a plain control frame is.
        if (!c.unsent) c.unsent = std::make_unique<std::string>();
        c.tls->send(frame_bytes);
        emit(c);
        if (c.unsent->empty()) c.unsent.reset();
        if (!c.reading()) update_events(c);
        return want_flush(c);
    }
    if (!c.unsent) c.unsent = std::make_unique<std::string>();
    c.unsent->append(frame_bytes);
    if (!c.reading()) update_events(c);  // owes the peer too much: stop reading it now
    want_flush(c);
}

void TcpStreams::release(TcpConnection& c) {
    // Like drop(), but the socket lives on elsewhere: no close, no handler.
    c.closed = true;
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
    unlist(c);
}

void TcpStreams::want_flush(TcpConnection& c) {
    if (c.flush_queued || closing_all_) return;
    c.flush_queued = true;
    to_flush_.push_back(&c);
    if (!flush_scheduled_) {
        flush_scheduled_ = true;
        hooks_.schedule_flush();
    }
}

void TcpStreams::flush() {
    // Connections queued while flushing wait for the next round: one batch per
    // connection per round, as for lws's WRITEABLE.
    std::vector<TcpConnection*> batch;
    batch.swap(to_flush_);
    for (TcpConnection* c : batch) {
        c->flush_queued = false;
        if (!c->closed) write_to(*c);
    }
    if (to_flush_.empty()) {  // keep the allocation for the next round
        batch.clear();
        to_flush_.swap(batch);
    }
    reap();
}

void TcpStreams::write_to(TcpConnection& c) {
    // First what the kernel did not take last time.
    if (c.unsent) {
        ssize_t n = ::send(c.fd, c.unsent->data(), c.unsent->size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return update_events(c);
            return drop(c);
        }
        c.unsent->erase(0, static_cast<size_t>(n));
        if (!c.unsent->empty()) return update_events(c);
        c.unsent.reset();
    }
    if (c.tls && !c.tls->established()) {
        // Nothing may be encrypted yet: the handler's output waits for the
        // handshake (read_tls() asks again then).
        if (c.close_requested) return drop(c);
        return update_events(c);
    }
    out_.clear();
    out_.set_websocket(c.mode == TcpConnection::Mode::WebSocket);
    bool more = c.handler ? c.handler->on_writable(out_, kWriteBudget) : false;
    if (c.close_requested && c.mode == TcpConnection::Mode::WebSocket) c.ws->finish(out_);
    if (c.tls) {
        if (!out_.empty()) {
            c.tls->send(std::string_view(out_.data() + out_.headroom(), out_.size()));
            emit(c);
            if (c.unsent) return;  // EPOLLOUT brings us back (emit() asked for it)
        }
    } else if (!out_.empty()) {
        const char* data = out_.data() + out_.headroom();
        size_t size = out_.size();
        ssize_t n = ::send(c.fd, data, size, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return drop(c);
            n = 0;
        }
        if (static_cast<size_t>(n) < size) {
            c.unsent = std::make_unique<std::string>(data + n, size - static_cast<size_t>(n));
            return update_events(c);  // EPOLLOUT brings us back
        }
    }
    if (c.close_requested) return drop(c);
    if (more) want_flush(c);
    update_events(c);
}

void TcpStreams::update_events(TcpConnection& c) {
    if (c.closed) return;
    if (c.proxy && c.proxy->fd >= 0) {
        // lws's output is read only while the client owes us none.
        uint32_t want = (c.unsent ? 0u : uint32_t(EPOLLIN | EPOLLRDHUP)) |
                        (c.proxy->to_lws.empty() ? 0u : uint32_t(EPOLLOUT));
        if (want != c.proxy->events) {
            c.proxy->events = want;
            epoll_event ev{};
            ev.events = want;
            ev.data.u64 = reinterpret_cast<uintptr_t>(&c) | kProxyTag;
            epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.proxy->fd, &ev);
        }
    }
    uint32_t want =
        (c.reading() ? uint32_t(EPOLLIN | EPOLLRDHUP) : 0u) | (c.unsent ? uint32_t(EPOLLOUT) : 0u);
    if (want == c.events) return;
    c.events = want;
    epoll_event ev{};
    ev.events = want;
    ev.data.ptr = &c;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
}

void TcpStreams::drop(TcpConnection& c) {
    if (c.closed) return;
    if (c.tls && !c.unsent) {
        // An orderly close we make gets close_notify, so the peer can tell
        // it from a truncation; best effort: one send, never waited for.
        c.tls->shutdown();
        if (!cipher_.empty()) ::send(c.fd, cipher_.data(), cipher_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        cipher_.clear();
    }
    close_proxy(c);
    c.closed = true;
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
    // Unread input makes close() reset the connection, which can destroy the
    // last bytes we sent (an error reply) before the peer reads them: send
    // our FIN, discard what is left to read, then close.
    ::shutdown(c.fd, SHUT_WR);
    char sink[512];
    for (int i = 0; i < 16 && ::recv(c.fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
    }
    ::close(c.fd);
    if (c.handler) c.handler->on_closed();
    unlist(c);
}

void TcpStreams::unlist(TcpConnection& c) {
    auto counted = per_address_.find(address_of(c.peer()));
    if (counted != per_address_.end() && --counted->second == 0) per_address_.erase(counted);
    // Swap-remove from the list; the object itself goes at the end of the round.
    TcpConnection* last = connections_.back();
    connections_[c.index] = last;
    last->index = c.index;
    connections_.pop_back();
    dead_.push_back(&c);
}

void TcpStreams::reap() {
    for (TcpConnection* c : dead_) delete c;
    dead_.clear();
}

void TcpStreams::tick(int64_t now_ms) {
    for (auto& l : listeners_) {
        if (!l->suspended) continue;
        l->suspended = false;
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = l.get();
        epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, l->fd, &ev);
    }
    // Handlers only flag closes here; drops happen in flush().
    for (size_t i = 0; i < connections_.size(); ++i) {
        TcpConnection& c = *connections_[i];
        if (c.tls && !c.tls->established()) {
            if (!c.close_requested && now_ms >= c.close_at_ms) {
                tls_failures.warn("{}: closing: TLS handshake not completed in time", c.peer());
                c.close();
            }
        } else if (c.mode == TcpConnection::Mode::Handshake) {
            if (!c.close_requested && now_ms >= c.close_at_ms) {
                log::info("{}: no WebSocket handshake within {} s", c.peer(),
                          WebSocketSession::kHandshakeTimeoutMs / 1000);
                c.close();
            }
        }
        if (c.handler) c.handler->on_tick(now_ms);
        // A peer that provoked more output than kUnsentBound (pongs) and does
        // not read it is no longer read; if it stays so, it goes.
        if (c.unsent && c.unsent->size() > TcpConnection::kUnsentBound && !c.close_requested) {
            if (!c.stalled_since_ms) c.stalled_since_ms = now_ms;
            else if (now_ms - c.stalled_since_ms > TcpConnection::kStalledOutputMs) {
                log::info("{}: closing: {} bytes unread by the peer for {} s", c.peer(), c.unsent->size(),
                          TcpConnection::kStalledOutputMs / 1000);
                c.close();
            }
        } else {
            c.stalled_since_ms = 0;
        }
        if (c.close_requested) {
            if (c.close_at_ms < 0) c.close_at_ms = now_ms + kCloseFlushTimeoutMs;
            else if (now_ms >= c.close_at_ms && c.unsent) {
                c.unsent.reset();  // the peer stopped reading: give up on the rest
                want_flush(c);
            }
        }
    }
}

void TcpStreams::close_all() {
    closing_all_ = true;
    while (!connections_.empty()) drop(*connections_.back());
    to_flush_.clear();
    reap();
}

}  // namespace duplex::net
