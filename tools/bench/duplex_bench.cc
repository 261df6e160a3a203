// duplex-bench: a load generator for MQTT 3.1.1 and STOMP 1.2 brokers over
// TCP and WebSocket. Plain non-blocking sockets, one epoll loop per thread,
// its own minimal MQTT / STOMP / WebSocket-client framing, no allocation per
// message once buffers have grown to their working size. See --help.
#include "counting.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using namespace duplex::bench;

namespace {

const char* const kUsage = R"(Usage: duplex-bench SCENARIO --url URL [options]

Scenarios (each bounded in message count and time; prints a human-readable
table and one JSON line starting with {"scenario":):
  throughput   P publishers -> K subscribers on one topic; counts delivered,
               duplicates, lost and reordered messages per subscriber
  fanout       throughput with 1 publisher -> 100 subscribers by default
  latency      fixed publish rate; one-way latency p50/p99/p99.9/max from a
               CLOCK_MONOTONIC timestamp in the payload (same host only)
  connections  N idle subscribed connections, held, then one publish that
               should reach every one; reports how many succeeded
  overload     QoS 1, publisher outpaces a rate-limited subscriber; must lose
               nothing

URL (loopback only):
  mqtt://127.0.0.1:1883            MQTT 3.1.1 over TCP (also tcp://)
  ws://127.0.0.1:8080/mqtt         MQTT over WebSocket, subprotocol "mqtt"
                                   (also mqtt+ws://, ws+mqtt://)
  stomp://127.0.0.1:61613          STOMP 1.2 over TCP
  ws+stomp://127.0.0.1:15674/ws    STOMP over WebSocket, subprotocol
                                   "v12.stomp" (also stomp+ws://)
  mqtts://, wss://, stomps://, wss+stomp://   the same over TLS (the server
                                   certificate is not verified: loopback
                                   load, not a trust check)

Options:
  --publishers P      publishers                          [1]
  --subscribers K     subscribers                         [1; fanout 100]
  --count N           messages per publisher              [throughput 200000,
                      fanout 2000, overload 20000, latency rate*duration]
  --payload S         payload bytes (>= 40)               [64]
  --qos Q             0, 1 or 2 (STOMP: 0 = ack auto, no receipts;
                      1/2 = SEND with receipt, ack client-individual) [0]
  --window W          unacknowledged QoS>0 publishes per publisher [16]
                      (mosquitto disconnects a QoS 2 publisher past 20)
  --rate R            total publish rate, msgs/s (0 = as fast as possible)
                                                          [latency 1000]
  --duration D        latency: seconds of publishing      [5]
  --sub-rate R        each subscriber consumes at most R msgs/s [overload 5000]
  --connections N     connections scenario: idle subscribers [1000]
  --hold S            connections: seconds to hold them    [3]
  --time-limit S      hard limit of the measured phase     [60]
  --drain S           after the last publish, wait this long without progress
                      before counting the rest as lost      [3]
  --threads T         client threads                       [2]
  --topic T           topic / destination  [bench/t; STOMP: /topic/bench]
  --user U --pass P   credentials (STOMP default guest/guest; MQTT none)
  --ws-protocol P     WebSocket subprotocol [mqtt / v12.stomp]
  --source-addrs N    spread clients over 127.0.0.1..N (bind before connect)
                      [auto: one per 20000 connections]
  --broker-pid PID    sample the broker's CPU time and RSS from /proc/PID
  --label NAME        name of the broker in the result line
  --json              print only the JSON line
  --help
)";

uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}
double secs(uint64_t ns) { return static_cast<double>(ns) / 1e9; }

[[noreturn]] void die(const char* fmt, const char* a = "") {
    std::fprintf(stderr, "duplex-bench: ");
    std::fprintf(stderr, fmt, a);
    std::fprintf(stderr, "\n");
    std::exit(2);
}

// ---------------------------------------------------------------------------
// Options

enum class Proto : uint8_t { Mqtt, Stomp };
enum class Scenario : uint8_t { Throughput, Fanout, Latency, Connections, Overload };

struct Options {
    Scenario scenario = Scenario::Throughput;
    std::string scenario_name;
    std::string url;
    Proto proto = Proto::Mqtt;
    bool ws = false;
    bool tls = false;
    std::string host = "127.0.0.1";
    uint16_t port = 0;
    std::string path = "/mqtt";
    uint32_t publishers = 1;
    uint32_t subscribers = 0;  // 0 = scenario default
    uint64_t count = 0;        // 0 = scenario default
    size_t payload = 64;
    int qos = 0;
    uint32_t window = 16;
    double rate = -1;  // -1 = scenario default
    double duration = 5;
    double sub_rate = -1;
    uint32_t connections = 1000;
    double hold = 3;
    double time_limit = 60;
    double drain = 3;
    int threads = 2;
    std::string topic;
    std::string user, pass;
    std::string ws_protocol;
    int source_addrs = 0;
    int broker_pid = 0;
    std::string label = "broker";
    bool json_only = false;
};

void parse_url(Options& o) {
    std::string_view u = o.url;
    auto sep = u.find("://");
    if (sep == std::string_view::npos) die("bad --url '%s'", o.url.c_str());
    std::string_view scheme = u.substr(0, sep);
    std::string_view rest = u.substr(sep + 3);
    // TLS: "mqtts", "stomps", "wss", "wss+stomp": the plain scheme with an 's'.
    if (scheme == "mqtts" || scheme == "stomps") {
        o.tls = true;
        scheme.remove_suffix(1);
    } else if (scheme == "wss" || scheme == "wss+mqtt" || scheme == "wss+stomp") {
        o.tls = true;
        scheme = scheme == "wss+stomp" ? "ws+stomp" : "ws";
    }
    if (scheme == "mqtt" || scheme == "tcp") {
        o.proto = Proto::Mqtt;
        o.ws = false;
    } else if (scheme == "ws" || scheme == "mqtt+ws" || scheme == "ws+mqtt") {
        o.proto = Proto::Mqtt;
        o.ws = true;
    } else if (scheme == "stomp") {
        o.proto = Proto::Stomp;
        o.ws = false;
    } else if (scheme == "ws+stomp" || scheme == "stomp+ws") {
        o.proto = Proto::Stomp;
        o.ws = true;
    } else {
        die("unknown URL scheme in '%s' (see --help)", o.url.c_str());
    }
    auto slash = rest.find('/');
    std::string_view hostport = rest.substr(0, slash);
    if (slash != std::string_view::npos) o.path = std::string(rest.substr(slash));
    else o.path = "/";
    auto colon = hostport.rfind(':');
    if (colon == std::string_view::npos) die("URL needs a port: '%s'", o.url.c_str());
    o.host = std::string(hostport.substr(0, colon));
    if (o.host == "localhost") o.host = "127.0.0.1";
    o.port = static_cast<uint16_t>(std::atoi(std::string(hostport.substr(colon + 1)).c_str()));
    in_addr a{};
    if (inet_pton(AF_INET, o.host.c_str(), &a) != 1 || (ntohl(a.s_addr) >> 24) != 127)
        die("only loopback (127.x.x.x) targets are allowed: '%s'", o.url.c_str());
    if (o.port == 0) die("bad port in '%s'", o.url.c_str());
}

// ---------------------------------------------------------------------------
// Broker process sampling (/proc/PID)

struct ProcSample {
    bool ok = false;
    double cpu_s = 0;
    uint64_t rss_kib = 0;
};

ProcSample sample_proc(int pid) {
    ProcSample s;
    if (pid <= 0) return s;
    char path[64], buf[4096];
    std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE* f = std::fopen(path, "r");
    if (!f) return s;
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = 0;
    char* p = std::strrchr(buf, ')');
    if (!p) return s;
    // Fields after ')': state(3) ... utime(14) stime(15).
    unsigned long long utime = 0, stime = 0;
    int field = 2;
    for (char* t = p + 1; *t; ++t) {
        if (*t == ' ') {
            ++field;
            if (field == 14) utime = std::strtoull(t + 1, nullptr, 10);
            if (field == 15) {
                stime = std::strtoull(t + 1, nullptr, 10);
                break;
            }
        }
    }
    s.cpu_s = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
    // Finer: the scheduler's run time (ns) of every thread, from schedstat.
    // (Threads that exit during a run drop out; brokers keep theirs.)
    std::snprintf(path, sizeof path, "/proc/%d/task", pid);
    if (DIR* dir = opendir(path)) {
        double total = 0;
        bool any = false;
        while (dirent* e = readdir(dir)) {
            if (e->d_name[0] == '.') continue;
            char sp[320];
            std::snprintf(sp, sizeof sp, "/proc/%d/task/%s/schedstat", pid, e->d_name);
            if (FILE* t = std::fopen(sp, "r")) {
                unsigned long long run = 0;
                if (std::fscanf(t, "%llu", &run) == 1) {
                    total += static_cast<double>(run) / 1e9;
                    any = true;
                }
                std::fclose(t);
            }
        }
        closedir(dir);
        if (any) s.cpu_s = total;
    }
    std::snprintf(path, sizeof path, "/proc/%d/status", pid);
    f = std::fopen(path, "r");
    if (!f) return s;
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
        if (std::strncmp(line, "VmRSS:", 6) == 0) s.rss_kib = std::strtoull(line + 6, nullptr, 10);
    }
    std::fclose(f);
    s.ok = true;
    return s;
}

// ---------------------------------------------------------------------------
// Clients

enum class Role : uint8_t { Sub, Pub };
enum class State : uint8_t { Idle, Connecting, TlsHandshake, WsHandshake, ProtoConnect, Subscribing, Ready, Done, Failed };

struct Buf {
    std::vector<uint8_t> d;
    size_t len = 0;
    void ensure(size_t extra) {
        if (len + extra > d.size()) d.resize(std::max(d.size() * 2, len + extra));
    }
    void append(const void* p, size_t n) {
        ensure(n);
        std::memcpy(d.data() + len, p, n);
        len += n;
    }
    void consume(size_t n) {
        if (n >= len) {
            len = 0;
            return;
        }
        std::memmove(d.data(), d.data() + n, len - n);
        len -= n;
    }
};

struct Client {
    Client() = default;
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;
    ~Client() { SSL_free(ssl); }  // null-safe; the Worker closes fd
    int fd = -1;
    SSL* ssl = nullptr;  // TLS URLs: over fd
    Role role = Role::Sub;
    State state = State::Idle;
    uint32_t index = 0;  // publisher id or subscriber index
    uint32_t events = 0;
    Buf raw;    // bytes from the socket (WebSocket frames), ws only
    Buf rx;     // protocol bytes
    Buf tx;     // bytes to write
    size_t tx_off = 0;
    uint32_t mask_rng = 0x9e3779b9;
    // publisher
    uint64_t next_seq = 0;
    uint64_t acked = 0;
    uint32_t inflight = 0;
    uint16_t next_pid = 1;
    bool finished = false;
    std::vector<uint8_t> payload;  // template (padding pre-filled)
    // subscriber
    SeqTracker tracker;
    LatencyRecorder lat;
    uint64_t received = 0;  // all PUBLISH/MESSAGE frames, duplicates included
    uint64_t last_rx_ns = 0;
    bool paused = false;
    bool had_error = false;
    char err[160] = {0};
};

struct Shared {
    const Options* o = nullptr;
    std::atomic<bool> go{false};
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> t0{0};
    uint64_t per_pub = 0;  // messages per publisher
    uint64_t warmup = 0;   // latency: seqs below this are not sampled
    std::string topic;
};

class Worker {
public:
    Worker(Shared& sh, int id) : sh_(sh), o_(*sh.o), id_(id) {
        ep_ = epoll_create1(EPOLL_CLOEXEC);
        scratch_.resize(o_.payload + 1024);
    }
    ~Worker() {
        for (auto& c : clients_)
            if (c->fd >= 0) close(c->fd);
        close(ep_);
    }

    void add(std::unique_ptr<Client> c) { clients_.push_back(std::move(c)); }
    std::vector<std::unique_ptr<Client>>& clients() { return clients_; }

    // Progress, read by the main thread.
    std::atomic<uint64_t> delivered{0};  // distinct messages at subscribers
    std::atomic<uint32_t> ready{0}, failed{0}, pubs_finished{0};
    std::atomic<uint64_t> published{0};

    void run() {
        epoll_event evs[256];
        size_t next_connect = 0;
        uint64_t last_pace_check = 0;
        while (!sh_.stop.load(std::memory_order_relaxed)) {
            // Start connects, a bounded number at a time.
            while (next_connect < clients_.size() && connecting_ < 128) {
                start_connect(*clients_[next_connect++]);
            }
            bool busy = false;
            uint64_t wake_ns = 0;
            uint64_t now = now_ns();
            if (sh_.go.load(std::memory_order_acquire)) {
                for (Client* p : pubs_) {
                    if (p->state != State::Ready || p->finished) continue;
                    uint64_t due = pump(*p, now);
                    if (due == 0) busy = true;
                    else if (due != UINT64_MAX && (wake_ns == 0 || due < wake_ns)) wake_ns = due;
                }
                published.store(published_local_, std::memory_order_relaxed);
            }
            if (!paused_.empty() && now - last_pace_check > 200000) {
                last_pace_check = now;
                for (size_t i = 0; i < paused_.size();) {
                    Client* c = paused_[i];
                    if (!over_budget(*c, now)) {
                        c->paused = false;
                        set_events(*c, EPOLLIN | (c->tx.len > c->tx_off ? static_cast<uint32_t>(EPOLLOUT) : 0u));
                        paused_[i] = paused_.back();
                        paused_.pop_back();
                    } else {
                        ++i;
                    }
                }
            }
            timespec ts{0, 0};
            if (!busy) {
                uint64_t wait = 10'000'000;  // check flags every 10 ms
                if (wake_ns) wait = wake_ns > now ? std::min<uint64_t>(wake_ns - now, wait) : 0;
                if (!paused_.empty()) wait = std::min<uint64_t>(wait, 1'000'000);
                ts.tv_sec = static_cast<time_t>(wait / 1000000000ull);
                ts.tv_nsec = static_cast<long>(wait % 1000000000ull);
            }
            int n = epoll_pwait2(ep_, evs, 256, &ts, nullptr);
            for (int i = 0; i < n; ++i) {
                Client& c = *static_cast<Client*>(evs[i].data.ptr);
                if (c.fd < 0) continue;
                if (c.state == State::Connecting) {
                    on_connected(c);
                    continue;
                }
                if (c.state == State::TlsHandshake) {
                    tls_handshake(c);
                    continue;
                }
                if (evs[i].events & EPOLLOUT) flush(c);
                if (c.fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_readable(c);
            }
            delivered.store(delivered_local_, std::memory_order_relaxed);
        }
        delivered.store(delivered_local_, std::memory_order_relaxed);
        published.store(published_local_, std::memory_order_relaxed);
    }

private:
    bool over_budget(const Client& c, uint64_t now) const {
        uint64_t t0 = sh_.t0.load(std::memory_order_relaxed);
        if (o_.sub_rate <= 0 || t0 == 0) return false;
        double allowed = secs(now > t0 ? now - t0 : 0) * o_.sub_rate + 64;
        return static_cast<double>(c.received) > allowed;
    }

    void set_events(Client& c, uint32_t ev) {
        if (c.events == ev || c.fd < 0) return;
        epoll_event e{};
        e.events = ev;
        e.data.ptr = &c;
        epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &e);
        c.events = ev;
    }

    void fail(Client& c, const char* why, int err = 0) {
        if (c.state == State::Failed) return;
        if (!c.had_error) {
            c.had_error = true;
            if (err) std::snprintf(c.err, sizeof c.err, "%s: %s", why, std::strerror(err));
            else std::snprintf(c.err, sizeof c.err, "%s", why);
        }
        // Every state from connect() to Ready counts against the handshake limit.
        bool was_connecting = c.state == State::Connecting || c.state == State::TlsHandshake ||
                              c.state == State::WsHandshake ||
                              c.state == State::ProtoConnect || c.state == State::Subscribing;
        bool was_ready = c.state == State::Ready || c.state == State::Done;
        c.state = State::Failed;
        if (c.fd >= 0) {
            epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
            SSL_free(c.ssl);
            c.ssl = nullptr;
            close(c.fd);
            c.fd = -1;
        }
        if (was_connecting) --connecting_;
        if (was_ready) ready.fetch_sub(1, std::memory_order_relaxed);
        failed.fetch_add(1, std::memory_order_relaxed);
        if (c.role == Role::Pub && !c.finished) {
            c.finished = true;
            pubs_finished.fetch_add(1, std::memory_order_relaxed);
        }
    }

    void start_connect(Client& c) {
        c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) {
            fail(c, "socket", errno);
            return;
        }
        int one = 1;
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (source_addrs_ > 1) {
            setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
            sockaddr_in src{};
            src.sin_family = AF_INET;
            uint32_t k = c.index % static_cast<uint32_t>(source_addrs_);
            src.sin_addr.s_addr = htonl(0x7f000001u + k);  // 127.0.0.1 + k
            if (bind(c.fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
                fail(c, "bind", errno);
                return;
            }
        }
        sockaddr_in dst{};
        dst.sin_family = AF_INET;
        dst.sin_port = htons(o_.port);
        inet_pton(AF_INET, o_.host.c_str(), &dst.sin_addr);
        c.state = State::Connecting;
        ++connecting_;
        if (connect(c.fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0 && errno != EINPROGRESS) {
            fail(c, "connect", errno);
            return;
        }
        epoll_event e{};
        e.events = EPOLLOUT | EPOLLIN;
        e.data.ptr = &c;
        c.events = e.events;
        epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &e);
    }

    void on_connected(Client& c) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            fail(c, "connect", err);
            return;
        }
        if (o_.tls) {
            c.ssl = SSL_new(tls_ctx());
            if (!c.ssl || SSL_set_fd(c.ssl, c.fd) != 1) {
                fail(c, "SSL_new");
                return;
            }
            SSL_set_connect_state(c.ssl);
            c.state = State::TlsHandshake;
            tls_handshake(c);
            return;
        }
        start_session(c);
    }

    // One client context for every connection: no verification (loopback
    // load), partial writes so flush() works as with send().
    static SSL_CTX* tls_ctx() {
        static SSL_CTX* ctx = [] {
            SSL_CTX* x = SSL_CTX_new(TLS_client_method());
            SSL_CTX_set_verify(x, SSL_VERIFY_NONE, nullptr);
            SSL_CTX_set_mode(x, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
            return x;
        }();
        return ctx;
    }

    void tls_handshake(Client& c) {
        ERR_clear_error();
        int r = SSL_do_handshake(c.ssl);
        if (r == 1) return start_session(c);
        int e = SSL_get_error(c.ssl, r);
        if (e == SSL_ERROR_WANT_READ) return set_events(c, EPOLLIN);
        if (e == SSL_ERROR_WANT_WRITE) return set_events(c, EPOLLIN | EPOLLOUT);
        char why[128];
        ERR_error_string_n(ERR_get_error(), why, sizeof why);
        fail(c, why[0] ? why : "TLS handshake");
    }

    // send()/recv() semantics over TLS: EAGAIN for "want read/write".
    ssize_t io_send(Client& c, const void* p, size_t n) {
        if (!c.ssl) return ::send(c.fd, p, n, MSG_NOSIGNAL);
        size_t w = 0;
        ERR_clear_error();
        if (SSL_write_ex(c.ssl, p, n, &w) == 1) return static_cast<ssize_t>(w);
        int e = SSL_get_error(c.ssl, 0);
        errno = e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? EAGAIN : EPIPE;
        return -1;
    }
    ssize_t io_recv(Client& c, void* p, size_t n) {
        if (!c.ssl) return ::recv(c.fd, p, n, 0);
        size_t r = 0;
        ERR_clear_error();
        if (SSL_read_ex(c.ssl, p, n, &r) == 1) return static_cast<ssize_t>(r);
        int e = SSL_get_error(c.ssl, 0);
        if (e == SSL_ERROR_ZERO_RETURN) return 0;
        if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0) return 0;
        errno = e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? EAGAIN : ECONNRESET;
        return -1;
    }

    void start_session(Client& c) {
        if (o_.ws) {
            c.state = State::WsHandshake;
            char req[512];
            int n = std::snprintf(req, sizeof req,
                                  "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUpgrade: websocket\r\n"
                                  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                  "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
                                  o_.path.c_str(), o_.host.c_str(), o_.port, o_.ws_protocol.c_str());
            c.tx.append(req, static_cast<size_t>(n));
        } else {
            send_proto_connect(c);
        }
        set_events(c, EPOLLIN);
        flush(c);
    }

    // --- output -----------------------------------------------------------

    // Appends one protocol packet/frame, wrapped in a masked WebSocket frame
    // when the URL is ws.
    void emit(Client& c, const uint8_t* p, size_t n) {
        if (!o_.ws) {
            c.tx.append(p, n);
            return;
        }
        c.tx.ensure(n + 14);
        uint8_t* h = c.tx.d.data() + c.tx.len;
        size_t hl;
        h[0] = static_cast<uint8_t>(0x80 | (o_.proto == Proto::Stomp ? 0x1 : 0x2));
        if (n < 126) {
            h[1] = static_cast<uint8_t>(0x80 | n);
            hl = 2;
        } else if (n < 65536) {
            h[1] = 0x80 | 126;
            h[2] = static_cast<uint8_t>(n >> 8);
            h[3] = static_cast<uint8_t>(n);
            hl = 4;
        } else {
            h[1] = 0x80 | 127;
            for (int i = 0; i < 8; ++i) h[2 + i] = static_cast<uint8_t>(static_cast<uint64_t>(n) >> (56 - 8 * i));
            hl = 10;
        }
        // xorshift32 mask key
        uint32_t x = c.mask_rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        c.mask_rng = x;
        uint8_t mask[4];
        std::memcpy(mask, &x, 4);
        std::memcpy(h + hl, mask, 4);
        hl += 4;
        uint8_t* out = h + hl;
        for (size_t i = 0; i < n; ++i) out[i] = p[i] ^ mask[i & 3];
        c.tx.len += hl + n;
    }

    void emit_ws_control(Client& c, uint8_t opcode, const uint8_t* p, size_t n) {
        c.tx.ensure(n + 6);
        uint8_t* h = c.tx.d.data() + c.tx.len;
        h[0] = static_cast<uint8_t>(0x80 | opcode);
        h[1] = static_cast<uint8_t>(0x80 | n);
        std::memset(h + 2, 0, 4);  // zero mask key: payload unchanged
        std::memcpy(h + 6, p, n);
        c.tx.len += 6 + n;
    }

    void flush(Client& c) {
        while (c.tx_off < c.tx.len) {
            ssize_t w = io_send(c, c.tx.d.data() + c.tx_off, c.tx.len - c.tx_off);
            if (w > 0) {
                c.tx_off += static_cast<size_t>(w);
                continue;
            }
            if (w < 0 && errno == EINTR) continue;
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                if (!c.paused) set_events(c, EPOLLIN | EPOLLOUT);
                return;
            }
            fail(c, "send", errno);
            return;
        }
        c.tx.len = 0;
        c.tx_off = 0;
        if (!c.paused) set_events(c, EPOLLIN);
    }

    // --- protocol: MQTT ---------------------------------------------------

    static size_t put_varint(uint8_t* p, size_t v) {
        size_t i = 0;
        do {
            uint8_t b = v % 128;
            v /= 128;
            if (v) b |= 0x80;
            p[i++] = b;
        } while (v);
        return i;
    }
    static uint8_t* put_str(uint8_t* p, std::string_view s) {
        p[0] = static_cast<uint8_t>(s.size() >> 8);
        p[1] = static_cast<uint8_t>(s.size());
        std::memcpy(p + 2, s.data(), s.size());
        return p + 2 + s.size();
    }

    void send_proto_connect(Client& c) {
        c.state = State::ProtoConnect;
        uint8_t* b = scratch_.data();
        if (o_.proto == Proto::Mqtt) {
            char cid[48];
            int cl = std::snprintf(cid, sizeof cid, "db%c%d-%u-%d", c.role == Role::Pub ? 'p' : 's', id_,
                                   c.index, static_cast<int>(getpid()));
            uint8_t body[256];
            uint8_t* p = put_str(body, "MQTT");
            *p++ = 4;  // 3.1.1
            uint8_t flags = 0x02;  // clean session
            if (!o_.user.empty()) flags |= 0x80;
            if (!o_.pass.empty()) flags |= 0x40;
            *p++ = flags;
            *p++ = 600 >> 8;  // keep alive 600 s: runs are shorter
            *p++ = 600 & 0xff;
            p = put_str(p, std::string_view(cid, static_cast<size_t>(cl)));
            if (!o_.user.empty()) p = put_str(p, o_.user);
            if (!o_.pass.empty()) p = put_str(p, o_.pass);
            size_t bl = static_cast<size_t>(p - body);
            b[0] = 0x10;
            size_t h = 1 + put_varint(b + 1, bl);
            std::memcpy(b + h, body, bl);
            emit(c, b, h + bl);
        } else {
            int n = std::snprintf(reinterpret_cast<char*>(b), scratch_.size(),
                                  "CONNECT\naccept-version:1.2\nhost:/\nlogin:%s\npasscode:%s\n"
                                  "heart-beat:0,0\n\n",
                                  o_.user.c_str(), o_.pass.c_str());
            emit(c, b, static_cast<size_t>(n) + 1);  // + NUL
        }
    }

    void send_subscribe(Client& c) {
        c.state = State::Subscribing;
        uint8_t* b = scratch_.data();
        if (o_.proto == Proto::Mqtt) {
            size_t bl = 2 + 2 + sh_.topic.size() + 1;
            b[0] = 0x82;
            size_t h = 1 + put_varint(b + 1, bl);
            uint8_t* p = b + h;
            *p++ = 0;
            *p++ = 1;  // packet id 1
            p = put_str(p, sh_.topic);
            *p++ = static_cast<uint8_t>(o_.qos);
            emit(c, b, static_cast<size_t>(p - b));
        } else {
            int n = std::snprintf(reinterpret_cast<char*>(b), scratch_.size(),
                                  "SUBSCRIBE\nid:0\ndestination:%s\nack:%s\nreceipt:sub\n\n", sh_.topic.c_str(),
                                  o_.qos > 0 ? "client-individual" : "auto");
            emit(c, b, static_cast<size_t>(n) + 1);
        }
    }

    void mark_ready(Client& c) {
        c.state = State::Ready;
        --connecting_;  // handshake done: lets the next client start
        ready.fetch_add(1, std::memory_order_relaxed);
        if (c.role == Role::Pub) pubs_.push_back(&c);
    }

    // Publishes what is due. Returns 0 if it should be called again at once,
    // UINT64_MAX if it waits for I/O or acks, else the time the next message is due.
    uint64_t pump(Client& c, uint64_t now) {
        if (c.tx_off < c.tx.len) return UINT64_MAX;  // waiting for EPOLLOUT
        const uint64_t per = sh_.per_pub;
        double rate = o_.rate > 0 ? o_.rate / o_.publishers : 0;
        uint64_t t0 = sh_.t0.load(std::memory_order_relaxed);
        size_t batch = 0;
        uint64_t result = 0;
        while (c.next_seq < per) {
            if (o_.qos > 0 && c.inflight >= o_.window) {
                result = UINT64_MAX;
                break;
            }
            if (rate > 0) {
                uint64_t due = t0 + static_cast<uint64_t>(static_cast<double>(c.next_seq) * 1e9 / rate);
                if (due > now) {
                    result = due;
                    break;
                }
            }
            if (c.tx.len >= 65536 || batch >= 256) break;
            publish_one(c, now);
            ++batch;
        }
        if (c.next_seq >= per && (o_.qos == 0 || c.inflight == 0) && !c.finished) {
            c.finished = true;
            pubs_finished.fetch_add(1, std::memory_order_relaxed);
        }
        if (c.tx.len) flush(c);
        if (c.finished) return UINT64_MAX;
        if (c.tx_off < c.tx.len) return UINT64_MAX;
        return result;
    }

    void publish_one(Client& c, uint64_t now) {
        Stamp st{c.index, c.next_seq, now_ns()};
        (void)now;
        write_stamp(c.payload.data(), st);
        uint8_t* b = scratch_.data();
        size_t n;
        if (o_.proto == Proto::Mqtt) {
            size_t rl = 2 + sh_.topic.size() + (o_.qos ? 2 : 0) + o_.payload;
            b[0] = static_cast<uint8_t>(0x30 | (o_.qos << 1));
            size_t h = 1 + put_varint(b + 1, rl);
            uint8_t* p = put_str(b + h, sh_.topic);
            if (o_.qos) {
                uint16_t id = c.next_pid++;
                if (c.next_pid == 0) c.next_pid = 1;
                *p++ = static_cast<uint8_t>(id >> 8);
                *p++ = static_cast<uint8_t>(id);
                ++c.inflight;
            }
            std::memcpy(p, c.payload.data(), o_.payload);
            n = static_cast<size_t>(p - b) + o_.payload;
        } else {
            int h;
            if (o_.qos)
                h = std::snprintf(reinterpret_cast<char*>(b), 512,
                                  "SEND\ndestination:%s\ncontent-length:%zu\nreceipt:%" PRIu64 "\n\n",
                                  sh_.topic.c_str(), o_.payload, c.next_seq);
            else
                h = std::snprintf(reinterpret_cast<char*>(b), 512, "SEND\ndestination:%s\ncontent-length:%zu\n\n",
                                  sh_.topic.c_str(), o_.payload);
            if (o_.qos) ++c.inflight;
            std::memcpy(b + h, c.payload.data(), o_.payload);
            b[static_cast<size_t>(h) + o_.payload] = 0;
            n = static_cast<size_t>(h) + o_.payload + 1;
        }
        emit(c, b, n);
        ++c.next_seq;
        ++published_local_;
    }

    void on_publish_ack(Client& c) {
        if (c.inflight) --c.inflight;
        ++c.acked;
    }

    void on_message(Client& c, const uint8_t* payload, size_t len) {
        ++c.received;
        uint64_t now = now_ns();
        c.last_rx_ns = now;
        Stamp st;
        if (!read_stamp(payload, len, st)) {
            c.tracker.on_message(UINT32_MAX, 0);  // counted as invalid
            return;
        }
        if (c.tracker.on_message(st.publisher, st.seq) == SeqTracker::Result::New) {
            ++delivered_local_;
            if (st.seq >= sh_.warmup && st.ts_ns && now >= st.ts_ns) c.lat.add(now - st.ts_ns);
        }
    }

    void send_mqtt_ack(Client& c, uint8_t type, uint16_t id) {
        uint8_t a[4] = {type, 2, static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)};
        emit(c, a, 4);
    }

    // Returns false if the client failed.
    bool process_mqtt(Client& c) {
        size_t off = 0;
        const uint8_t* d = c.rx.d.data();
        while (c.rx.len - off >= 2) {
            const uint8_t* p = d + off;
            size_t avail = c.rx.len - off;
            size_t rl = 0, mul = 1, i = 1;
            bool complete = false;
            for (; i < 5 && i < avail; ++i) {
                rl += (p[i] & 0x7f) * mul;
                mul *= 128;
                if (!(p[i] & 0x80)) {
                    complete = true;
                    ++i;
                    break;
                }
            }
            if (!complete) {
                if (i >= 5) {
                    fail(c, "bad MQTT remaining length");
                    return false;
                }
                break;
            }
            size_t total = i + rl;
            if (avail < total) break;
            const uint8_t* body = p + i;
            uint8_t type = p[0] >> 4;
            switch (type) {
            case 2:  // CONNACK
                if (rl < 2 || body[1] != 0) {
                    fail(c, "CONNACK refused");
                    return false;
                }
                if (c.role == Role::Sub) send_subscribe(c);
                else mark_ready(c);
                break;
            case 9:  // SUBACK
                if (rl < 3 || body[2] == 0x80) {
                    fail(c, "SUBACK refused");
                    return false;
                }
                mark_ready(c);
                break;
            case 3: {  // PUBLISH
                int q = (p[0] >> 1) & 3;
                if (rl < 2) {
                    fail(c, "short PUBLISH");
                    return false;
                }
                size_t tl = (static_cast<size_t>(body[0]) << 8) | body[1];
                size_t h = 2 + tl + (q ? 2 : 0);
                if (h > rl) {
                    fail(c, "bad PUBLISH");
                    return false;
                }
                if (q) {
                    uint16_t id = static_cast<uint16_t>((body[2 + tl] << 8) | body[3 + tl]);
                    send_mqtt_ack(c, q == 1 ? 0x40 : 0x50, id);
                }
                on_message(c, body + h, rl - h);
                break;
            }
            case 4:  // PUBACK
            case 7:  // PUBCOMP
                on_publish_ack(c);
                break;
            case 5:  // PUBREC -> PUBREL
                if (rl >= 2) send_mqtt_ack(c, 0x62, static_cast<uint16_t>((body[0] << 8) | body[1]));
                break;
            case 6:  // PUBREL -> PUBCOMP
                if (rl >= 2) send_mqtt_ack(c, 0x70, static_cast<uint16_t>((body[0] << 8) | body[1]));
                break;
            default:  // PINGRESP, UNSUBACK: ignored
                break;
            }
            off += total;
        }
        c.rx.consume(off);
        return true;
    }

    // --- protocol: STOMP --------------------------------------------------

    static std::string_view header(std::string_view headers, std::string_view name) {
        size_t pos = 0;
        while (pos < headers.size()) {
            size_t eol = headers.find('\n', pos);
            if (eol == std::string_view::npos) eol = headers.size();
            std::string_view line = headers.substr(pos, eol - pos);
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            if (line.size() > name.size() && line.substr(0, name.size()) == name && line[name.size()] == ':')
                return line.substr(name.size() + 1);
            pos = eol + 1;
        }
        return {};
    }

    bool process_stomp(Client& c) {
        size_t off = 0;
        const char* d = reinterpret_cast<const char*>(c.rx.d.data());
        while (off < c.rx.len) {
            if (d[off] == '\n' || d[off] == '\r') {  // heart-beat EOLs
                ++off;
                continue;
            }
            std::string_view rest(d + off, c.rx.len - off);
            size_t hend = rest.find("\n\n");
            size_t sep = 2;
            size_t crlf = rest.find("\r\n\r\n");
            if (crlf != std::string_view::npos && (hend == std::string_view::npos || crlf < hend)) {
                hend = crlf;
                sep = 4;
            }
            if (hend == std::string_view::npos) break;
            size_t cmd_end = rest.find('\n');
            std::string_view cmd = rest.substr(0, cmd_end);
            if (!cmd.empty() && cmd.back() == '\r') cmd.remove_suffix(1);
            std::string_view headers = cmd_end < hend ? rest.substr(cmd_end + 1, hend - cmd_end - 1) : std::string_view{};
            size_t body_start = hend + sep;
            std::string_view cl = header(headers, "content-length");
            size_t body_len, frame_len;
            if (!cl.empty()) {
                body_len = std::strtoull(std::string(cl).c_str(), nullptr, 10);
                if (rest.size() < body_start + body_len + 1) break;
                frame_len = body_start + body_len + 1;
            } else {
                size_t z = rest.find('\0', body_start);
                if (z == std::string_view::npos) break;
                body_len = z - body_start;
                frame_len = z + 1;
            }
            const uint8_t* body = reinterpret_cast<const uint8_t*>(rest.data() + body_start);
            if (cmd == "MESSAGE") {
                if (o_.qos > 0) {
                    std::string_view ack = header(headers, "ack");
                    if (ack.empty()) ack = header(headers, "message-id");
                    uint8_t* b = scratch_.data();
                    int n = std::snprintf(reinterpret_cast<char*>(b), scratch_.size(), "ACK\nid:%.*s\n\n",
                                          static_cast<int>(ack.size()), ack.data());
                    emit(c, b, static_cast<size_t>(n) + 1);
                }
                on_message(c, body, body_len);
            } else if (cmd == "RECEIPT") {
                std::string_view id = header(headers, "receipt-id");
                if (id == "sub") mark_ready(c);
                else on_publish_ack(c);
            } else if (cmd == "CONNECTED") {
                if (c.role == Role::Sub) send_subscribe(c);
                else mark_ready(c);
            } else if (cmd == "ERROR") {
                std::string_view m = header(headers, "message");
                char why[140];
                std::snprintf(why, sizeof why, "STOMP ERROR: %.*s", static_cast<int>(std::min<size_t>(m.size(), 100)),
                              m.data());
                fail(c, why);
                return false;
            }
            off += frame_len;
        }
        c.rx.consume(off);
        return true;
    }

    // --- input --------------------------------------------------------------

    // Moves WebSocket frame payloads from c.raw to c.rx. False on failure.
    bool unframe_ws(Client& c) {
        size_t off = 0;
        uint8_t* d = c.raw.d.data();
        if (c.state == State::WsHandshake) {
            std::string_view s(reinterpret_cast<char*>(d), c.raw.len);
            size_t end = s.find("\r\n\r\n");
            if (end == std::string_view::npos) return true;
            if (s.substr(0, 12) != "HTTP/1.1 101") {
                char why[120];
                size_t eol = s.find('\r');
                std::snprintf(why, sizeof why, "WebSocket upgrade refused: %.*s", static_cast<int>(std::min<size_t>(eol, 80)),
                              s.data());
                fail(c, why);
                return false;
            }
            off = end + 4;
            send_proto_connect(c);
        }
        while (c.raw.len - off >= 2) {
            uint8_t* p = d + off;
            size_t avail = c.raw.len - off;
            uint8_t op = p[0] & 0x0f;
            bool masked = p[1] & 0x80;
            uint64_t n = p[1] & 0x7f;
            size_t h = 2;
            if (n == 126) {
                if (avail < 4) break;
                n = (static_cast<uint64_t>(p[2]) << 8) | p[3];
                h = 4;
            } else if (n == 127) {
                if (avail < 10) break;
                n = 0;
                for (int i = 0; i < 8; ++i) n = (n << 8) | p[2 + i];
                h = 10;
            }
            size_t mk = h;
            if (masked) h += 4;
            if (avail < h + n) break;
            uint8_t* pl = p + h;
            if (masked)
                for (size_t i = 0; i < n; ++i) pl[i] ^= p[mk + (i & 3)];
            if (op <= 2) {
                c.rx.append(pl, n);
            } else if (op == 8) {
                fail(c, "WebSocket closed by broker");
                return false;
            } else if (op == 9) {
                emit_ws_control(c, 0xA, pl, std::min<size_t>(n, 125));
            }
            off += h + n;
        }
        c.raw.consume(off);
        return true;
    }

    void on_readable(Client& c) {
        Buf& in = o_.ws ? c.raw : c.rx;
        // Over TLS, plaintext OpenSSL already holds (SSL_pending) would not
        // make the socket readable again: read it before leaving.
        for (int rounds = 0; rounds < 8 || (c.ssl && SSL_pending(c.ssl) > 0); ++rounds) {
            in.ensure(in.d.size() - in.len < 2048 ? in.d.size() : 0);
            errno = 0;
            ssize_t r = io_recv(c, in.d.data() + in.len, in.d.size() - in.len);
            if (r == 0) {
                fail(c, "connection closed by broker");
                return;
            }
            if (r < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                fail(c, "recv", errno);
                return;
            }
            in.len += static_cast<size_t>(r);
            if (o_.ws && !unframe_ws(c)) return;
            if (c.state != State::WsHandshake) {
                bool ok = o_.proto == Proto::Mqtt ? process_mqtt(c) : process_stomp(c);
                if (!ok) return;
            }
            if (!c.ssl && static_cast<size_t>(r) < in.d.size() / 2) break;
        }
        if (c.tx.len > c.tx_off) flush(c);
        if (c.fd < 0) return;
        if (c.role == Role::Sub && o_.sub_rate > 0 && !c.paused && over_budget(c, now_ns())) {
            c.paused = true;
            set_events(c, c.tx.len > c.tx_off ? static_cast<uint32_t>(EPOLLOUT) : 0u);
            paused_.push_back(&c);
        }
    }

public:
    int source_addrs_ = 1;

private:
    Shared& sh_;
    const Options& o_;
    int id_;
    int ep_;
    std::vector<std::unique_ptr<Client>> clients_;
    std::vector<Client*> pubs_;
    std::vector<Client*> paused_;
    std::vector<uint8_t> scratch_;
    uint32_t connecting_ = 0;  // clients between connect() and Ready (bounded)
    uint64_t delivered_local_ = 0;
    uint64_t published_local_ = 0;
};

// ---------------------------------------------------------------------------

void raise_fd_limit(size_t need) {
    rlimit r{};
    if (getrlimit(RLIMIT_NOFILE, &r) != 0) return;
    rlim_t want = std::max<rlim_t>(r.rlim_cur, need);
    // Root may raise the hard limit too (up to fs.nr_open).
    if (want > r.rlim_max) {
        rlimit t{want, want};
        if (setrlimit(RLIMIT_NOFILE, &t) == 0) return;
    }
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
    getrlimit(RLIMIT_NOFILE, &r);
    if (r.rlim_cur < need)
        std::fprintf(stderr, "duplex-bench: warning: file-descriptor limit %llu < %zu needed\n",
                     static_cast<unsigned long long>(r.rlim_cur), need);
}

struct Totals {
    uint64_t expected = 0, delivered = 0, dups = 0, lost = 0, reordered = 0, invalid = 0, received = 0;
    uint64_t min_sub = UINT64_MAX, max_lost_sub = 0;
    uint32_t subs_ok = 0, subs_failed = 0, pubs_failed = 0;
};

std::string json_escape(const std::string& s) {
    std::string o;
    for (char ch : s) {
        if (ch == '"' || ch == '\\') o += '\\';
        o += ch;
    }
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
        std::fputs(kUsage, stderr);
        return 2;
    }
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto val = [&]() -> const std::string& {
            if (i + 1 >= args.size()) die("%s needs a value", a.c_str());
            return args[++i];
        };
        if (a == "--help" || a == "-h") {
            std::fputs(kUsage, stdout);
            return 0;
        } else if (a == "--url") o.url = val();
        else if (a == "--publishers") o.publishers = static_cast<uint32_t>(std::stoul(val()));
        else if (a == "--subscribers") o.subscribers = static_cast<uint32_t>(std::stoul(val()));
        else if (a == "--count") o.count = std::stoull(val());
        else if (a == "--payload") o.payload = std::stoul(val());
        else if (a == "--qos") o.qos = std::stoi(val());
        else if (a == "--window") o.window = static_cast<uint32_t>(std::stoul(val()));
        else if (a == "--rate") o.rate = std::stod(val());
        else if (a == "--duration") o.duration = std::stod(val());
        else if (a == "--sub-rate") o.sub_rate = std::stod(val());
        else if (a == "--connections") o.connections = static_cast<uint32_t>(std::stoul(val()));
        else if (a == "--hold") o.hold = std::stod(val());
        else if (a == "--time-limit") o.time_limit = std::stod(val());
        else if (a == "--drain") o.drain = std::stod(val());
        else if (a == "--threads") o.threads = std::stoi(val());
        else if (a == "--topic") o.topic = val();
        else if (a == "--user") o.user = val();
        else if (a == "--pass") o.pass = val();
        else if (a == "--ws-protocol") o.ws_protocol = val();
        else if (a == "--source-addrs") o.source_addrs = std::stoi(val());
        else if (a == "--broker-pid") o.broker_pid = std::stoi(val());
        else if (a == "--label") o.label = val();
        else if (a == "--json") o.json_only = true;
        else if (a.rfind("--", 0) == 0) die("unknown option %s (see --help)", a.c_str());
        else if (o.scenario_name.empty()) o.scenario_name = a;
        else die("unexpected argument %s", a.c_str());
    }
    if (o.scenario_name == "throughput") o.scenario = Scenario::Throughput;
    else if (o.scenario_name == "fanout") o.scenario = Scenario::Fanout;
    else if (o.scenario_name == "latency") o.scenario = Scenario::Latency;
    else if (o.scenario_name == "connections") o.scenario = Scenario::Connections;
    else if (o.scenario_name == "overload") o.scenario = Scenario::Overload;
    else die("unknown scenario '%s' (see --help)", o.scenario_name.c_str());
    if (o.url.empty()) die("--url is required");
    parse_url(o);
    if (o.qos < 0 || o.qos > 2) die("--qos must be 0, 1 or 2");
    if (o.payload < kStampSize) o.payload = kStampSize;
    if (o.threads < 1) o.threads = 1;
    if (o.window < 1) o.window = 1;
    if (o.topic.empty()) o.topic = o.proto == Proto::Stomp ? "/topic/bench" : "bench/t";
    if (o.ws_protocol.empty()) o.ws_protocol = o.proto == Proto::Stomp ? "v12.stomp" : "mqtt";
    if (o.proto == Proto::Stomp && o.user.empty()) {
        o.user = "guest";
        if (o.pass.empty()) o.pass = "guest";
    }
    // Scenario defaults.
    switch (o.scenario) {
    case Scenario::Throughput:
        if (!o.subscribers) o.subscribers = 1;
        if (!o.count) o.count = 200000;
        if (o.rate < 0) o.rate = 0;
        break;
    case Scenario::Fanout:
        if (!o.subscribers) o.subscribers = 100;
        if (!o.count) o.count = 2000;
        if (o.rate < 0) o.rate = 0;
        break;
    case Scenario::Latency:
        if (!o.subscribers) o.subscribers = 1;
        if (o.rate < 0) o.rate = 1000;
        if (o.rate <= 0) die("latency needs --rate > 0");
        if (!o.count) o.count = static_cast<uint64_t>(o.rate * o.duration / o.publishers);
        break;
    case Scenario::Overload:
        if (!o.subscribers) o.subscribers = 1;
        if (!o.count) o.count = 20000;
        if (o.qos == 0) o.qos = 1;
        if (o.sub_rate < 0) o.sub_rate = 5000;
        if (o.rate < 0) o.rate = 0;
        break;
    case Scenario::Connections:
        o.subscribers = o.connections;
        o.publishers = 1;
        o.count = 1;
        if (o.rate < 0) o.rate = 0;
        break;
    }
    if (o.sub_rate < 0) o.sub_rate = 0;
    size_t total_clients = static_cast<size_t>(o.publishers) + o.subscribers;
    raise_fd_limit(total_clients + 64);
    if (o.source_addrs <= 0) o.source_addrs = static_cast<int>((total_clients + 19999) / 20000);
    signal(SIGPIPE, SIG_IGN);

    Shared sh;
    sh.o = &o;
    sh.per_pub = o.count;
    sh.topic = o.topic;
    if (o.scenario == Scenario::Latency) sh.warmup = o.count / 20;

    const bool idle = o.scenario == Scenario::Connections;
    std::vector<std::unique_ptr<Worker>> workers;
    for (int t = 0; t < o.threads; ++t) {
        workers.push_back(std::make_unique<Worker>(sh, t));
        workers.back()->source_addrs_ = o.source_addrs;
    }
    // Subscribers round-robin over threads; publishers after them, so that
    // with 2 threads a 1 -> 1 run has the publisher and subscriber apart.
    size_t lat_cap = o.scenario == Scenario::Latency ? static_cast<size_t>(o.count * o.publishers) : 0;
    for (uint32_t i = 0; i < o.subscribers; ++i) {
        auto c = std::make_unique<Client>();
        c->role = Role::Sub;
        c->index = i;
        size_t cap = idle ? 512 : 65536 + o.payload * 2;
        if (o.ws) c->raw.d.resize(cap);
        c->rx.d.resize(cap);
        c->tx.d.resize(idle ? 256 : 4096);
        c->tracker.reset(o.publishers, o.count);
        c->lat.reserve(lat_cap);
        c->mask_rng ^= i * 2654435761u;
        workers[i % o.threads]->add(std::move(c));
    }
    for (uint32_t i = 0; i < o.publishers; ++i) {
        auto c = std::make_unique<Client>();
        c->role = Role::Pub;
        c->index = i;
        if (o.ws) c->raw.d.resize(8192);
        c->rx.d.resize(8192);
        c->tx.d.resize(65536 + 2 * (o.payload + 1024));
        c->payload.resize(o.payload);
        fill_payload(c->payload.data(), o.payload, Stamp{});
        c->mask_rng ^= (i + 7919) * 2246822519u;
        workers[(o.subscribers + i) % o.threads]->add(std::move(c));
    }

    auto sum = [&](auto field) {
        uint64_t s = 0;
        for (auto& w : workers) s += (w.get()->*field).load(std::memory_order_relaxed);
        return s;
    };

    ProcSample base = sample_proc(o.broker_pid);
    uint64_t t_connect = now_ns();
    std::vector<std::thread> threads;
    for (auto& w : workers) threads.emplace_back([wp = w.get()] { wp->run(); });

    // Phase 1: connect and subscribe everything.
    const double connect_limit = 10.0;
    // Waits while connections make progress: gives up after connect_limit
    // without any, or after --time-limit in all.
    uint64_t last_done = 0, last_change = t_connect;
    while (true) {
        uint64_t done = sum(&Worker::ready) + sum(&Worker::failed);
        uint64_t now = now_ns();
        if (done >= total_clients) break;
        if (done != last_done) {
            last_done = done;
            last_change = now;
        }
        if (secs(now - last_change) > connect_limit || secs(now - t_connect) > std::max(o.time_limit, connect_limit))
            break;
        usleep(5000);
    }
    double connect_s = secs(now_ns() - t_connect);
    uint64_t connected = sum(&Worker::ready);
    uint64_t failed_connect = total_clients - connected;
    if (!o.json_only)
        std::fprintf(stderr, "duplex-bench: %" PRIu64 "/%zu clients connected in %.2f s\n", connected, total_clients,
                     connect_s);

    ProcSample after_connect{};
    if (idle) {
        // Hold the idle connections, then sample memory.
        uint64_t until = now_ns() + static_cast<uint64_t>(o.hold * 1e9);
        while (now_ns() < until) usleep(20000);
    }
    after_connect = sample_proc(o.broker_pid);

    // Phase 2: publish.
    uint64_t t0 = now_ns();
    sh.t0.store(t0, std::memory_order_relaxed);
    sh.go.store(true, std::memory_order_release);
    const uint64_t expected_total = static_cast<uint64_t>(o.publishers) * o.count * o.subscribers;
    uint64_t last_progress = t0, last_delivered = 0, pubs_done_at = 0;
    const char* end_reason = "complete";
    while (true) {
        usleep(2000);
        uint64_t now = now_ns();
        uint64_t d = sum(&Worker::delivered);
        if (d != last_delivered) {
            last_delivered = d;
            last_progress = now;
        }
        if (d >= expected_total) break;
        if (secs(now - t0) > o.time_limit) {
            end_reason = "time-limit";
            break;
        }
        if (sum(&Worker::pubs_finished) >= o.publishers) {
            if (!pubs_done_at) pubs_done_at = now;
            if (secs(now - std::max(last_progress, pubs_done_at)) > o.drain) {
                end_reason = "drained";
                break;
            }
        }
    }
    ProcSample end = sample_proc(o.broker_pid);
    uint64_t t_end = now_ns();
    sh.stop.store(true);
    for (auto& t : threads) t.join();

    // Results.
    Totals tot;
    LatencyRecorder lat(lat_cap);
    uint64_t last_rx = t0;
    std::vector<uint64_t> published(o.publishers, 0);
    uint64_t published_total = 0;
    std::string first_error;
    for (auto& w : workers)
        for (auto& c : w->clients())
            if (c->role == Role::Pub) {
                published[c->index] = c->next_seq;
                published_total += c->next_seq;
                if (c->state == State::Failed) ++tot.pubs_failed;
            }
    for (auto& w : workers)
        for (auto& c : w->clients()) {
            if (!c->err[0]) {
            } else if (first_error.empty()) {
                first_error = c->err;
            }
            if (c->role != Role::Sub) continue;
            tot.expected += published_total;
            tot.delivered += c->tracker.delivered();
            tot.dups += c->tracker.duplicates();
            tot.reordered += c->tracker.reordered();
            tot.invalid += c->tracker.invalid();
            tot.received += c->received;
            uint64_t lost = c->tracker.lost_of(published);
            tot.lost += lost;
            tot.max_lost_sub = std::max(tot.max_lost_sub, lost);
            tot.min_sub = std::min(tot.min_sub, c->tracker.delivered());
            if (c->state == State::Failed) ++tot.subs_failed;
            else ++tot.subs_ok;
            if (c->last_rx_ns > last_rx) last_rx = c->last_rx_ns;
            lat.merge(c->lat);
        }
    if (tot.min_sub == UINT64_MAX) tot.min_sub = 0;
    double elapsed = secs((tot.delivered ? last_rx : t_end) - t0);
    if (elapsed <= 0) elapsed = 1e-9;
    double rate = static_cast<double>(tot.delivered) / elapsed;
    double cpu = end.ok && base.ok ? end.cpu_s - after_connect.cpu_s : -1;
    double per_cpu = cpu > 0 ? static_cast<double>(tot.delivered) / cpu : -1;
    double rss_per_conn = after_connect.ok && base.ok && connected
                              ? (static_cast<double>(after_connect.rss_kib) - static_cast<double>(base.rss_kib)) /
                                    static_cast<double>(connected)
                              : -1;
    uint64_t p50 = lat.percentile(50), p99 = lat.percentile(99), p999 = lat.percentile(99.9), pmax = lat.max();
    const char* proto = o.proto == Proto::Mqtt ? "mqtt" : "stomp";
    const char* transport = o.tls ? (o.ws ? "wss" : "tls") : (o.ws ? "ws" : "tcp");

    if (!o.json_only) {
        std::printf("\n  %s  %s over %s  %s  qos %d\n", o.scenario_name.c_str(), proto, transport, o.label.c_str(),
                    o.qos);
        std::printf("  %-28s %" PRIu32 " -> %" PRIu32 ", payload %zu B\n", "publishers -> subscribers", o.publishers,
                    o.subscribers, o.payload);
        std::printf("  %-28s %" PRIu64 " of %zu (%" PRIu64 " failed)  in %.2f s\n", "connected", connected,
                    total_clients, failed_connect, connect_s);
        std::printf("  %-28s %" PRIu64 "\n", "published", published_total);
        std::printf("  %-28s %" PRIu64 " of %" PRIu64 " expected\n", "delivered (distinct)", tot.delivered,
                    tot.expected);
        std::printf("  %-28s %" PRIu64 "   (worst subscriber %" PRIu64 ")\n", "lost", tot.lost, tot.max_lost_sub);
        std::printf("  %-28s %" PRIu64 "\n", "duplicates", tot.dups);
        std::printf("  %-28s %" PRIu64 "\n", "reordered", tot.reordered);
        std::printf("  %-28s %.3f s (%s)\n", "elapsed", elapsed, end_reason);
        std::printf("  %-28s %.0f\n", "delivered msgs/s", rate);
        if (lat_cap)
            std::printf("  %-28s p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", "latency (us)", p50 / 1e3, p99 / 1e3,
                        p999 / 1e3, pmax / 1e3);
        if (cpu >= 0) {
            std::printf("  %-28s %.2f s  -> %.0f msgs per broker CPU-second\n", "broker CPU", cpu, per_cpu);
            std::printf("  %-28s %" PRIu64 " KiB idle, %" PRIu64 " KiB connected, %" PRIu64 " KiB end;  %.2f KiB/conn\n",
                        "broker RSS", base.rss_kib, after_connect.rss_kib, end.rss_kib, rss_per_conn);
        }
        if (!first_error.empty()) std::printf("  %-28s %s\n", "first client error", first_error.c_str());
        std::printf("\n");
    }
    std::printf(
        "{\"scenario\":\"%s\",\"label\":\"%s\",\"url\":\"%s\",\"proto\":\"%s\",\"transport\":\"%s\",\"qos\":%d,"
        "\"publishers\":%u,\"subscribers\":%u,\"payload\":%zu,\"count\":%" PRIu64 ",\"rate\":%.0f,"
        "\"clients\":%zu,\"connected\":%" PRIu64 ",\"connect_s\":%.3f,"
        "\"published\":%" PRIu64 ",\"expected\":%" PRIu64 ",\"delivered\":%" PRIu64 ",\"lost\":%" PRIu64
        ",\"duplicates\":%" PRIu64 ",\"reordered\":%" PRIu64 ",\"invalid\":%" PRIu64
        ",\"elapsed_s\":%.4f,\"end\":\"%s\",\"msgs_per_s\":%.1f,"
        "\"lat_us\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f,\"n\":%" PRIu64 "},"
        "\"broker_cpu_s\":%.3f,\"msgs_per_broker_cpu_s\":%.1f,\"broker_rss_idle_kib\":%" PRIu64
        ",\"broker_rss_connected_kib\":%" PRIu64 ",\"broker_rss_end_kib\":%" PRIu64
        ",\"rss_per_conn_kib\":%.3f,\"error\":\"%s\"}\n",
        o.scenario_name.c_str(), json_escape(o.label).c_str(), json_escape(o.url).c_str(), proto, transport, o.qos,
        o.publishers, o.subscribers, o.payload, o.count, o.rate, total_clients, connected, connect_s, published_total,
        tot.expected, tot.delivered, tot.lost, tot.dups, tot.reordered, tot.invalid, elapsed, end_reason, rate,
        p50 / 1e3, p99 / 1e3, p999 / 1e3, pmax / 1e3, lat.count(), cpu, per_cpu, base.rss_kib, after_connect.rss_kib,
        end.rss_kib, rss_per_conn, json_escape(first_error).c_str());
    std::fflush(stdout);
    // Exit status: 0 if every client connected and, for QoS > 0, nothing was
    // lost or duplicated; 1 otherwise (the result line is printed either way).
    bool ok = failed_connect == 0 && tot.subs_failed == 0 && tot.pubs_failed == 0;
    if (o.qos > 0 && (tot.lost || tot.dups)) ok = false;
    if (o.scenario == Scenario::Connections && tot.delivered < connected - 1) ok = false;
    return ok ? 0 : 1;
}
