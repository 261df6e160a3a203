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

int TcpStreams::listen(ListenerKind kind, const Listener& listener) {
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

    listeners_.push_back(std::make_unique<ListenSocket>(ListenSocket{fd, kind, false}));
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
        if (listener.kind == ListenerKind::Web) {
            c->mode = TcpConnection::Mode::Handshake;
            c->ws = std::make_unique<WebSocketSession>(*c);
            c->close_at_ms = now_ms() + WebSocketSession::kHandshakeTimeoutMs;
        } else {
            c->handler = hooks_.make_handler(
                listener.kind == ListenerKind::Mqtt ? Protocol::Mqtt : Protocol::Stomp, *c);
            if (!c->handler) {
                ::close(fd);
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
        switch (c.mode) {
            case TcpConnection::Mode::Stream:
                c.handler->on_data(bytes, false);
                break;
            case TcpConnection::Mode::Handshake:
                if (c.ws->handshake(bytes, hooks_.make_handler, kMaxHandOff, hooks_.origin_allowed) == WebSocketSession::Step::Http)
                    hand_off(c);
                break;
            case TcpConnection::Mode::WebSocket:
                c.ws->feed(bytes);
                break;
        }
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    drop(c);  // end of stream or a socket error: the peer is gone
}

void TcpStreams::hand_off(TcpConnection& c) {
    // The page, or any other HTTP request: libwebsockets serves it, starting
    // from what we read.
    std::string read = c.ws->take_head();
    int fd = c.fd;
    release(c);
    hooks_.adopt_http(fd, read);
}

void TcpStreams::send_control(TcpConnection& c, std::string_view frame_bytes) {
    if (c.closed) return;
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
    out_.clear();
    out_.set_websocket(c.mode == TcpConnection::Mode::WebSocket);
    bool more = c.handler ? c.handler->on_writable(out_, kWriteBudget) : false;
    if (c.close_requested && c.mode == TcpConnection::Mode::WebSocket) c.ws->finish(out_);
    if (!out_.empty()) {
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
        if (c.mode == TcpConnection::Mode::Handshake) {
            if (!c.close_requested && now_ms >= c.close_at_ms) {
                log::info("{}: no WebSocket handshake within {} s", c.peer(),
                          WebSocketSession::kHandshakeTimeoutMs / 1000);
                c.close();
            }
        } else {
            c.handler->on_tick(now_ms);
        }
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
