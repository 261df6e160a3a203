// duplex daemon: the broker as a program. Options come from an optional JSON
// config file, then from command-line flags (flags win).
#include "base/version.h"
#include "daemon/passwd.h"
#include "duplex/broker.h"
#include "duplex/config.h"
#include "duplex/led.h"

#include <fmt/core.h>

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

const char* const usage = R"(Usage: duplex [options]
       duplex passwd [-c] [-D] [-b] [-I iterations] <file> <user> [<password>]

duplex is an MQTT (3.1, 3.1.1, 5.0) and STOMP broker over WebSocket and TCP.

Listeners ([host:]port, [ipv6]:port, or "off"; port 0 = ephemeral; each logs
"listening <kind> <host>:<port>" with the port actually bound):
  --ws [host:]port         HTTP + WebSocket (MQTT, STOMP by subprotocol)  [8080]
  --mqtt [host:]port       MQTT over TCP                                   [1883]
  --stomp [host:]port      STOMP over TCP                                  [61613]
  --web-root DIR           files served over HTTP on the ws port           [web]

Security (see README "Securing duplex"; files are reloaded on SIGHUP):
  --allow-anonymous V      clients without credentials: local (from this
                           machine only), true (from anywhere: a LAN demo),
                           false (never)                                  [local]
  --password-file FILE     mosquitto-format password file (duplex passwd)  []
  --acl-file FILE          mosquitto-format ACL file; empty = every client
                           may use every topic the broker does not own     []
  --jwt-secret-file FILE   HS256 secret (32 bytes or more) for bearer tokens []
  --jwt-public-key-file F  RS256/ES256 public key (PEM) for bearer tokens  []
  --jwt-audience A         a token's "aud" must hold A                     []
  --jwt-username-claim C   the token claim that names the user             [sub]
  --jwt-leeway S           clock skew allowed on exp / nbf; a connection
                           lasts until exp + S                            [30]
  --allowed-origins LIST   web origins a WebSocket may come from, comma-
                           separated ("*" = any); the page's own origin and
                           clients without Origin are always allowed       []

TLS listeners (off by default; each needs --tls-cert-file and --tls-key-file):
  --mqtts [host:]port      MQTT over TLS                                   [off; 8883]
  --stomps [host:]port     STOMP over TLS                                  [off; 61614]
  --wss [host:]port        HTTPS + WebSocket over TLS                      [off; 8443]
  --tls-cert-file FILE     PEM server certificate followed by its chain    []
  --tls-key-file FILE      PEM private key (unencrypted)                   []
  --tls-ca-file FILE       PEM CA(s) client certificates must chain to;
                           empty = client certificates are not asked for  []
  --tls-require-certificate BOOL  refuse clients without a certificate
                           that verifies against the CA file              [false]
  --tls-use-identity-as-username BOOL  the client certificate's CN is the
                           username                                        [false]
  --tls-ciphers LIST       TLS 1.2 ciphers, OpenSSL syntax (TLS 1.3 uses
                           OpenSSL's defaults)                  [ECDHE + AEAD]
  --tls-min-version V      1.2 or 1.3                                      [1.2]

Limits:
  --max-packet-size N      largest MQTT packet / STOMP frame in bytes      [262144]
  --max-inflight N         unacknowledged QoS 1/2 messages per client      [32]
  --max-queued-messages N  messages waiting per client (QoS 0 dropped first) [1000]
  --max-queued-bytes N     payload bytes waiting per client                [16777216]
  --max-connections N      concurrent connections                          [100000]
  --connect-timeout S      seconds allowed between connect and CONNECT     [10]
  --topic-alias-maximum N  MQTT 5 topic aliases a client may use           [16]
  --receive-maximum N      unacknowledged QoS 2 publishes from a client    [64]
  --max-keep-alive S       longest keep alive accepted, 0 = client's       [3600]
  --max-topic-levels N     levels of a topic name or filter                [200]
  --slow-consumer-timeout S  seconds a congested client may hold its
                           publishers back before it is cut off (0 = never) [10]
  --max-retained-messages N  retained messages over all topics           [100000]
  --max-retained-bytes N   retained payload bytes over all topics          [67108864]
  --max-subscriptions N    subscriptions per client                        [1000]
  --max-persistent-sessions N  persistent MQTT sessions                    [10000]
  --max-session-expiry S   longest a session outlives its client           [604800]
  --max-queues N           STOMP queues at once                            [10000]
  --partial-packet-timeout S  seconds to complete a started packet/frame   [60]
  --max-connections-per-address N  connections from one IP address
                           (0 = a quarter of max-connections)              [0]

STOMP:
  --stomp-hosts LIST       virtual hosts accepted in CONNECT (comma-separated;
                           empty = any)                                    []
  --stomp-heartbeat-ms N   shortest heart-beat interval offered/accepted   [1000]

Commands (request/response; see docs/embedding.md):
  --command-prefix T       publishing to T/<name> runs command <name>      [duplex/cmd]
                           ("" turns the MQTT/STOMP topic bridge off)
  --reply-prefix T         default reply topic T/<name> when the request
                           names none (MQTT 3.1.1 without "reply_to")     [duplex/reply]
  --events-topic T         every command result is also published here   [led/events]
  --command-timeout-ms N   error reply if a handler has not answered      [5000]
  --test-commands          also register "sleep" (args: ms; replies later
                           from another thread) and "hang" (never replies),
                           for tests

LED (commands on, off, toggle, status; state retained on led/status):
  --led MODE               auto (GPIO if the chip exists, else simulated),
                           gpio, simulated, or off (no LED commands)     [auto]
  --led-chip NAME          GPIO chip, name or path                        [gpiochip0]
  --led-line N             line offset on that chip                       [17]

Other:
  --config FILE            JSON config: an object with the names above, '_' for '-',
                           e.g. {"ws": "127.0.0.1:8080", "max_inflight": 64}
  --log-level LEVEL        error, warn, info, debug                        [info]
  --help                   this text
  --version                the version

Password files (mosquitto's format; files from mosquitto_passwd work too):
  duplex passwd [-c] [-D] [-b] [-I N] FILE USER [PASSWORD]
                           add or change USER (the password is read twice
                           without echo, or one line from a pipe; -b: from
                           the command line), -c create FILE anew, -D delete
                           USER, -I PBKDF2 rounds [1000]. FILE is replaced
                           atomically, mode 0600. duplex passwd --help.

SIGINT or SIGTERM shuts down: connections are closed and the wills of
connected clients are published (to in-process and retained state) first.
SIGHUP reloads the TLS certificate, key and CA files for new connections
(existing ones keep theirs) and the password, ACL and token key files; on
an error the old ones stay in use.
)";

bool read_file(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream s;
    s << in.rdbuf();
    out = s.str();
    return true;
}

// Lets a broker with many connections use all the descriptors it may.
void raise_fd_limit() {
    rlimit r{};
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

// Commands for the integration tests: an asynchronous handler completed from
// another thread, and one that never replies (to see the timeout).
void add_test_commands(duplex::Broker& broker) {
    broker.commands().add("sleep", "test: reply after <args> ms, from another thread",
                          [](const duplex::CommandRequest& req, duplex::Reply reply) {
                              long ms = std::strtol(req.args.c_str(), nullptr, 10);
                              if (ms < 0 || ms > 60000) {
                                  reply.error("sleep: args must be a number of ms, 0..60000");
                                  return;
                              }
                              std::thread([ms, reply] {
                                  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
                                  reply.ok(std::to_string(ms));
                              }).detach();
                          });
    broker.commands().add("hang", "test: never replies (times out)",
                          [](const duplex::CommandRequest&, duplex::Reply) {});
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && std::strcmp(argv[1], "passwd") == 0) return duplex::passwd_main(argc - 1, argv + 1);
    std::vector<std::string> args(argv + 1, argv + argc);
    duplex::Config config;
    bool test_commands = false;
    std::erase_if(args,
                  [&](const std::string& a) { return a == "--test-commands" && (test_commands = true); });

    // The config file first, so flags override it wherever they appear.
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--help" || args[i] == "-h") {
            std::fputs(usage, stdout);
            return 0;
        }
        if (args[i] == "--version") {
            std::printf("duplex %s\n", duplex::kVersion);
            return 0;
        }
        if (args[i] == "--config") {
            std::string text;
            if (i + 1 >= args.size() || !read_file(args[i + 1], text)) {
                std::fprintf(stderr, "duplex: cannot read config file %s\n",
                             i + 1 < args.size() ? args[i + 1].c_str() : "(missing)");
                return 2;
            }
            if (auto err = duplex::apply_json_config(text, config); !err.empty()) {
                std::fprintf(stderr, "duplex: %s: %s\n", args[i + 1].c_str(), err.c_str());
                return 2;
            }
        }
    }
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a.rfind("--", 0) != 0) {
            std::fprintf(stderr, "duplex: unexpected argument '%s' (see --help)\n", a.c_str());
            return 2;
        }
        std::string name = a.substr(2), value;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
        } else if (i + 1 < args.size()) {
            value = args[++i];
        } else {
            std::fprintf(stderr, "duplex: %s needs a value (see --help)\n", a.c_str());
            return 2;
        }
        if (name == "config") continue;
        for (char& c : name)
            if (c == '-') c = '_';
        if (auto err = duplex::set_option(name, value, config); !err.empty()) {
            std::fprintf(stderr, "duplex: %s (see --help)\n", err.c_str());
            return 2;
        }
    }

    raise_fd_limit();
    // Signals are taken by one thread with sigwait, which then asks the loop
    // to stop through the broker's thread-safe stop(), or (SIGHUP) to reload.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);

    try {
        duplex::Broker broker(config);
        if (std::shared_ptr<duplex::Led> led = duplex::open_led(config))
            duplex::add_led_commands(broker, led);
        if (test_commands) add_test_commands(broker);
        std::thread waiter([&] {
            int sig = 0;
            while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) broker.reload();
            broker.stop();
        });
        broker.run();
        pthread_kill(waiter.native_handle(), SIGTERM);  // wakes sigwait if run() ended by itself
        waiter.join();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "duplex: %s\n", e.what());
        return 1;
    }
    return 0;
}
