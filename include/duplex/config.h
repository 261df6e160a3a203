// duplex configuration: listeners, limits and logging. Every field has the
// same name in the JSON config file (a flat object) and, with '-' for '_', as
// a command-line flag of the daemon:
//   limits.max_packet_size <-> "max_packet_size": 65536 <-> --max-packet-size 65536
//   ws <-> "ws": "127.0.0.1:8080" <-> --ws 127.0.0.1:8080   ("off" disables)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace duplex {

struct Listener {
    bool enabled = true;
    std::string host;  // empty = all interfaces; an IPv4 address listens on IPv4 only
    int port = 0;      // 0 = an ephemeral port (logged as "listening <kind> host:port")
};

struct Limits {
    // Largest MQTT packet / STOMP frame accepted. 256 KiB covers typical device and
    // browser payloads while bounding what one client can make us buffer.
    size_t max_packet_size = 256 * 1024;
    // QoS 1/2 messages sent to one client and not yet acknowledged. More than one
    // keeps a link busy; a small number bounds redelivery after reconnect.
    uint16_t max_inflight = 32;
    // Messages waiting for one client (online or offline persistent session)
    // beyond the in-flight window. When full, QoS 0 messages are dropped first.
    size_t max_queued_messages = 1000;
    // Payload bytes waiting for one client; bounds memory per slow consumer.
    size_t max_queued_bytes = 16 * 1024 * 1024;
    // Concurrent client connections over all listeners.
    size_t max_connections = 100000;
    // Seconds a connection may take to send CONNECT after TCP/WebSocket open.
    int connect_timeout = 10;
    // MQTT 5: topic aliases a client may use towards us (Topic Alias Maximum in
    // CONNACK). Each costs one stored topic per connection.
    uint16_t topic_alias_maximum = 16;
    // Unacknowledged QoS 2 PUBLISHes (PUBREC sent, PUBREL awaited) a client may
    // have towards us (MQTT 5 Receive Maximum in CONNACK; enforced for 3.1.1 too
    // so a client cannot grow this state without bound).
    uint16_t receive_maximum = 64;
    // Longest keep alive accepted, in seconds; 0 accepts the client's. MQTT 5
    // clients asking for more (or for none) get Server Keep Alive; a 3.1.1
    // client with keep alive 0 is closed after 1.5 x this of silence. An
    // hour: an idle connection that never speaks cannot hold its slot (and
    // its memory) for ever, and no real client is silent that long.
    uint16_t max_keep_alive = 3600;
    // Levels of a topic name or filter ('/'-separated). mosquitto's limit
    // (200), so anything it accepts we do; bounds the depth of the topic
    // tree and retained store a client can build (65,000 levels once crashed
    // the matcher). Beyond it: MQTT 0x90 / 0x8F, STOMP ERROR.
    size_t max_topic_levels = 200;
    // Seconds a client's queue may stay congested (over its limits, holding
    // its publishers back) before it is dealt with: its queued QoS 0
    // messages are dropped (counted) and, if that does not drain it, it is
    // disconnected (MQTT 5 0x97 Quota exceeded, STOMP ERROR; a persistent
    // session keeps its queue within the limits). Bounds how long one
    // reader that stopped reading can stall everyone who publishes to it:
    // long enough for a slow mobile link to catch up, short enough that the
    // publishers' own keep alive (typically 60 s) never runs out. 0 = never.
    int slow_consumer_timeout = 10;

    // Stores a client can grow, each with a bound (the refusal is the
    // protocol's "quota exceeded": MQTT 5 0x97, STOMP ERROR, a log line):
    //
    // Retained messages over all topics. A retained message for a new topic
    // beyond these is routed but not stored (MQTT 5 PUBACK/PUBREC 0x97);
    // replacing or clearing a topic always works. 100,000 covers a large
    // device fleet's state topics; 64 MiB bounds what they can pin on a Pi.
    size_t max_retained_messages = 100000;
    size_t max_retained_bytes = 64 * 1024 * 1024;
    // Subscriptions one client (MQTT session, STOMP connection) may hold.
    // 100,000 subscriptions once cost 100 MiB; real clients use a handful.
    size_t max_subscriptions = 1000;
    // Persistent MQTT sessions (online or not). A CONNECT that would create
    // one more is refused (MQTT 5 0x97, 3.1.1 0x03 server unavailable).
    size_t max_persistent_sessions = 10000;
    // Longest a persistent session outlives its client, in seconds (as
    // mosquitto's persistent_client_expiration): 3.1.1 sessions (which ask
    // for "never") and MQTT 5 sessions asking for more get this; MQTT 5
    // clients are told in CONNACK. A week survives a long weekend offline.
    uint32_t max_session_expiry = 7 * 24 * 3600;
    // STOMP queues (/queue/...) in existence at once.
    size_t max_queues = 10000;
    // Seconds a connection may take to complete a packet or frame once it
    // started one: a client that stops mid-packet would otherwise pin up to
    // max_packet_size for as long as it sends keep-alives. 256 KiB at 10 KB/s
    // takes 26 s.
    int partial_packet_timeout = 60;
    // Connections from one IP address, over all listeners; 0 = a quarter of
    // max_connections (at least 64, or all of them when fewer). One address
    // must not take every slot.
    size_t max_connections_per_address = 0;
};

struct CommandOptions {
    // Publishing to "<command_prefix>/<name>" runs command <name>; the reply goes
    // to the MQTT 5 Response Topic / STOMP reply-to, else to "reply_to" in a JSON
    // payload, else to "<reply_prefix>/<name>". Empty disables the topic bridge.
    std::string command_prefix = "duplex/cmd";
    std::string reply_prefix = "duplex/reply";
    // Every completed command is also published here (JSON), so each MQTT and
    // STOMP subscriber sees what happened whoever asked. Empty disables.
    std::string events_topic = "led/events";
    // A handler that has not replied after this long gets a timeout error. Long
    // enough for slow hardware, short enough that a browser's request fails
    // visibly. Checked on the 1 s tick, so it fires up to 1 s late.
    int command_timeout_ms = 5000;
};

// Who may connect and what they may do (README "Securing duplex"). Checked
// before the embedder's hooks (duplex/hooks.h), on every path a message or a
// command can take.
struct SecurityOptions {
    // Clients without credentials (no password, token or client
    // certificate): `Local` (the default) lets them in from this machine
    // only (127.0.0.0/8, ::1), as mosquitto 2.0 listens on localhost only
    // until it is configured; `Yes` from anywhere (the LAN demo:
    // "allow_anonymous": true); `No` never. Anonymous clients get the ACL's
    // anonymous rules.
    enum class Anonymous { Local, Yes, No } allow_anonymous = Anonymous::Local;
    // mosquitto-format password file ($7$ / $6$, `duplex passwd` or
    // mosquitto_passwd), reloaded on SIGHUP. Empty: none.
    std::string password_file;
    // mosquitto-format ACL file, reloaded on SIGHUP. Empty: no ACL (every
    // client may use every topic except those the broker owns).
    std::string acl_file;
    // Bearer tokens (JWT) carried as the MQTT password, the STOMP passcode
    // or a command connection's first message. HS256: the secret is read
    // from this file (not given on a command line, where `ps` shows it).
    std::string jwt_secret_file;
    // RS256 / ES256: the issuer's public key (PEM).
    std::string jwt_public_key_file;
    std::string jwt_audience;                // non-empty: the token's `aud` must hold it
    std::string jwt_username_claim = "sub";  // the claim that names the user
    // Seconds of clock skew allowed on a token's exp and nbf (0..3600): it
    // is accepted until exp + this, and its connection lasts as long.
    int jwt_leeway = 30;
    // Origins a WebSocket upgrade may come from (browsers send Origin; a
    // page on another site must not drive the device). Empty (the default):
    // the page's own origin (Origin's host:port equals Host) and clients
    // that send no Origin (not browsers). "*" allows any. From text: comma-
    // separated, e.g. "https://app.example.com,http://localhost:3000".
    std::vector<std::string> allowed_origins;
};

// TLS on duplex's own listeners (mqtts, stomps, wss). Names in the JSON
// config and on the command line: tls_cert_file <-> --tls-cert-file, etc.
struct TlsOptions {
    std::string cert_file;  // PEM: the server certificate, then its chain
    std::string key_file;   // PEM, unencrypted (a passphrase cannot be asked for)
    // PEM CA certificate(s) client certificates must chain to. Empty: no
    // client certificates are asked for.
    std::string ca_file;
    // Refuse clients without a certificate that verifies against ca_file
    // (as mosquitto's require_certificate). Off: a client may present none.
    bool require_certificate = false;
    // The verified client certificate's CN is the MQTT/STOMP username
    // (mosquitto's use_identity_as_username).
    bool use_identity_as_username = false;
    // TLS 1.2 cipher list (OpenSSL syntax); empty = ECDHE with AEAD only.
    // TLS 1.3 uses OpenSSL's default suites.
    std::string ciphers;
    // Oldest protocol accepted: "1.2" (every maintained client speaks it)
    // or "1.3".
    std::string min_version = "1.2";
};

struct Config {
    Listener ws{.enabled = true, .host = "", .port = 8080};      // HTTP + WebSocket
    Listener mqtt{.enabled = true, .host = "", .port = 1883};    // MQTT over TCP
    Listener stomp{.enabled = true, .host = "", .port = 61613};  // STOMP over TCP
    // Folder served over HTTP GET on the ws port ("/" -> index.html).
    std::string web_root = "web";
    Limits limits;
    // STOMP virtual hosts accepted in CONNECT's `host` header; empty accepts
    // any value (all hosts share one topic and queue space). From text:
    // comma-separated, e.g. "duplex,localhost".
    std::vector<std::string> stomp_hosts;
    // Shortest STOMP heart-beat interval, both ways, in ms. Heart-beats are
    // sent and checked on the broker's 1 s tick, so shorter is not useful;
    // a client asking for more gets more (the larger value wins).
    int stomp_heartbeat_ms = 1000;
    std::string log_level = "info";  // error, warn, info, debug
    // Commands (duplex/commands.h) reachable over MQTT and STOMP topics.
    CommandOptions commands;
    // The LED the daemon drives with the commands on/off/toggle/status
    // (duplex/led.h): "auto" (GPIO if the chip exists, else simulated),
    // "gpio" (GPIO or an error reply), "simulated", or "off" (no LED commands).
    std::string led = "auto";
    std::string led_chip = "gpiochip0";  // name or path of the GPIO chip
    unsigned led_line = 17;              // line offset on that chip (BCM 17 = pin 11 on a Pi)

    // TLS listeners, off by default: turning one on needs tls.cert_file and
    // tls.key_file (a start-up error otherwise). Ports are the IANA ones.
    Listener mqtts{.enabled = false, .host = "", .port = 8883};    // MQTT over TLS
    Listener stomps{.enabled = false, .host = "", .port = 61614};  // STOMP over TLS
    Listener wss{.enabled = false, .host = "", .port = 8443};      // HTTPS + WebSocket over TLS
    TlsOptions tls{};
    SecurityOptions
        security{};  // {}: designated initializers may leave it out (-Wmissing-field-initializers)
};

// Parses "[host:]port", "[v6addr]:port" or "off" into `out`. Returns an
// error text, empty on success.
std::string parse_listener(std::string_view text, Listener& out);

// Applies a JSON config (flat object, names as above) on top of `config`.
// Unknown names and wrong types are errors. Returns an error text, empty on
// success.
std::string apply_json_config(std::string_view json, Config& config);

// Sets one option by name ("max_packet_size", "ws", ...) from text, as the
// command line does. Returns an error text, empty on success.
std::string set_option(std::string_view name, std::string_view value, Config& config);

}  // namespace duplex
