// Configuration from text: listeners, options by name, JSON config files.
#include "duplex/config.h"

#include <doctest/doctest.h>

#include <limits>
#include <string>
#include <vector>

using namespace duplex;

TEST_SUITE("config") {

TEST_CASE("defaults") {
    Config c;
    CHECK(c.ws.enabled);
    CHECK(c.ws.port == 8080);
    CHECK(c.mqtt.port == 1883);
    CHECK(c.stomp.port == 61613);
    CHECK(c.ws.host.empty());
    CHECK(c.limits.max_packet_size == 256 * 1024);
    CHECK(c.limits.max_inflight == 32);
    CHECK(c.limits.max_queued_messages == 1000);
    CHECK(c.log_level == "info");
    CHECK(c.stomp_hosts.empty());
}

TEST_CASE("parse_listener: port only listens on all interfaces") {
    Listener l{.enabled = false, .host = "old", .port = 1};
    CHECK(parse_listener("8080", l) == "");
    CHECK(l.enabled);
    CHECK(l.host == "");
    CHECK(l.port == 8080);
}

TEST_CASE("parse_listener: IPv4 host and ephemeral port") {
    Listener l;
    CHECK(parse_listener("127.0.0.1:0", l) == "");
    CHECK(l.enabled);
    CHECK(l.host == "127.0.0.1");
    CHECK(l.port == 0);
    CHECK(parse_listener("localhost:65535", l) == "");
    CHECK(l.host == "localhost");
    CHECK(l.port == 65535);
    CHECK(parse_listener(":1884", l) == "");
    CHECK(l.host == "");
    CHECK(l.port == 1884);
}

TEST_CASE("parse_listener: bracketed IPv6") {
    Listener l;
    CHECK(parse_listener("[::1]:1883", l) == "");
    CHECK(l.enabled);
    CHECK(l.host == "::1");
    CHECK(l.port == 1883);
    CHECK(parse_listener("[fe80::1:2]:0", l) == "");
    CHECK(l.host == "fe80::1:2");
    CHECK(l.port == 0);
}

TEST_CASE("parse_listener: off disables and keeps the address; a later address re-enables") {
    Listener l{.enabled = true, .host = "h", .port = 42};
    CHECK(parse_listener("off", l) == "");
    CHECK_FALSE(l.enabled);
    CHECK(l.host == "h");
    CHECK(l.port == 42);
    CHECK(parse_listener("43", l) == "");
    CHECK(l.enabled);
    CHECK(l.port == 43);
}

TEST_CASE("parse_listener: bad ports give a clear error and leave the listener unchanged") {
    const Listener before{.enabled = true, .host = "keep", .port = 7};
    struct Case {
        const char* text;
        const char* error;
    };
    const Case cases[] = {
        {"65536", "bad port in '65536': 65536 is out of range 0..65535"},
        {"99999999999999999999999", "bad port in '99999999999999999999999': '99999999999999999999999' is not a non-negative integer"},
        {"-1", "bad port in '-1': '-1' is not a non-negative integer"},
        {"+80", "bad port in '+80': '+80' is not a non-negative integer"},
        {"http", "bad port in 'http': 'http' is not a non-negative integer"},
        {"80x", "bad port in '80x': '80x' is not a non-negative integer"},
        {" 80", "bad port in ' 80': ' 80' is not a non-negative integer"},
        {"", "bad port in '': '' is not a non-negative integer"},
        {"host:", "bad port in 'host:': '' is not a non-negative integer"},
        {"127.0.0.1:70000", "bad port in '127.0.0.1:70000': 70000 is out of range 0..65535"},
        {"[::1]:", "bad port in '[::1]:': '' is not a non-negative integer"},
        {"[::1]:x", "bad port in '[::1]:x': 'x' is not a non-negative integer"},
        {"[::1]", "'[::1]' is not [address]:port"},
        {"[::1]1883", "'[::1]1883' is not [address]:port"},
        {"OFF", "bad port in 'OFF': 'OFF' is not a non-negative integer"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.text);
        Listener l = before;
        CHECK(parse_listener(c.text, l) == c.error);
        CHECK(l.enabled == before.enabled);
        CHECK(l.host == before.host);
        CHECK(l.port == before.port);
    }
}

TEST_CASE("parse_listener: an unbracketed IPv6 address is rejected") {
    // "[host:]port" needs brackets around IPv6 addresses; "::1" must not be
    // read as host ":" port 1, nor "fe80::1:8080" as host "fe80::1" port 8080.
    Listener l;
    CHECK(parse_listener("::1", l) != "");
    CHECK(parse_listener("::1:1883", l) != "");
}

TEST_CASE("set_option: listeners") {
    Config c;
    CHECK(set_option("ws", "127.0.0.1:9000", c) == "");
    CHECK(c.ws.host == "127.0.0.1");
    CHECK(c.ws.port == 9000);
    CHECK(set_option("mqtt", "off", c) == "");
    CHECK_FALSE(c.mqtt.enabled);
    CHECK(set_option("stomp", "[::]:61614", c) == "");
    CHECK(c.stomp.host == "::");
    CHECK(c.stomp.port == 61614);
    CHECK(set_option("ws", "x", c) == "ws: bad port in 'x': 'x' is not a non-negative integer");
    CHECK(c.ws.port == 9000);
}

TEST_CASE("set_option: every numeric option, with its range") {
    Config c;
    CHECK(set_option("max_packet_size", "16", c) == "");
    CHECK(c.limits.max_packet_size == 16);
    CHECK(set_option("max_packet_size", "268435460", c) == "");
    CHECK(c.limits.max_packet_size == 268435460);
    CHECK(set_option("max_packet_size", "15", c) == "max_packet_size: 15 is out of range 16..268435460");
    CHECK(set_option("max_packet_size", "268435461", c) ==
          "max_packet_size: 268435461 is out of range 16..268435460");
    CHECK(c.limits.max_packet_size == 268435460);

    CHECK(set_option("max_inflight", "1", c) == "");
    CHECK(c.limits.max_inflight == 1);
    CHECK(set_option("max_inflight", "65535", c) == "");
    CHECK(c.limits.max_inflight == 65535);
    CHECK(set_option("max_inflight", "0", c) == "max_inflight: 0 is out of range 1..65535");
    CHECK(set_option("max_inflight", "65536", c) == "max_inflight: 65536 is out of range 1..65535");
    CHECK(c.limits.max_inflight == 65535);

    CHECK(set_option("max_queued_messages", "4294967295", c) == "");
    CHECK(c.limits.max_queued_messages == 4294967295u);
    CHECK(set_option("max_queued_messages", "4294967296", c) ==
          "max_queued_messages: 4294967296 is out of range 1..4294967295");
    CHECK(set_option("max_queued_messages", "0", c) == "max_queued_messages: 0 is out of range 1..4294967295");

    CHECK(set_option("max_queued_bytes", "1024", c) == "");
    CHECK(c.limits.max_queued_bytes == 1024);
    // The largest size_t: 2^64-1 here, 2^32-1 on 32-bit ARM.
    const std::string size_max = std::to_string(std::numeric_limits<size_t>::max());
    CHECK(set_option("max_queued_bytes", size_max, c) == "");
    CHECK(c.limits.max_queued_bytes == std::numeric_limits<size_t>::max());
    CHECK(set_option("max_queued_bytes", "1023", c) ==
          "max_queued_bytes: 1023 is out of range 1024.." + size_max);

    CHECK(set_option("max_connections", "10000000", c) == "");
    CHECK(c.limits.max_connections == 10000000);
    CHECK(set_option("max_connections", "10000001", c) ==
          "max_connections: 10000001 is out of range 1..10000000");

    CHECK(set_option("connect_timeout", "3600", c) == "");
    CHECK(c.limits.connect_timeout == 3600);
    CHECK(set_option("connect_timeout", "0", c) == "connect_timeout: 0 is out of range 1..3600");
    CHECK(set_option("connect_timeout", "3601", c) == "connect_timeout: 3601 is out of range 1..3600");

    CHECK(set_option("stomp_heartbeat_ms", "1000", c) == "");
    CHECK(c.stomp_heartbeat_ms == 1000);
    CHECK(set_option("stomp_heartbeat_ms", "999", c) ==
          "stomp_heartbeat_ms: 999 is out of range 1000..3600000");
    CHECK(set_option("stomp_heartbeat_ms", "3600001", c) ==
          "stomp_heartbeat_ms: 3600001 is out of range 1000..3600000");
    CHECK(c.stomp_heartbeat_ms == 1000);
}

TEST_CASE("set_option: numbers must be plain non-negative decimal integers") {
    Config c;
    for (const char* bad : {"", "-5", "+5", "5.0", "1e3", "0x10", " 5", "5 ", "five"}) {
        CAPTURE(bad);
        CHECK(set_option("max_inflight", bad, c) ==
              "max_inflight: '" + std::string(bad) + "' is not a non-negative integer");
    }
    CHECK(c.limits.max_inflight == 32);
}

TEST_CASE("set_option: strings and lists") {
    Config c;
    CHECK(set_option("web_root", "/srv/www", c) == "");
    CHECK(c.web_root == "/srv/www");
    for (const char* level : {"error", "warn", "info", "debug"}) {
        CHECK(set_option("log_level", level, c) == "");
        CHECK(c.log_level == level);
    }
    CHECK(set_option("log_level", "verbose", c) ==
          "log_level: log level 'verbose' is not one of error, warn, info, debug");
    CHECK(set_option("log_level", "INFO", c) ==
          "log_level: log level 'INFO' is not one of error, warn, info, debug");
    CHECK(c.log_level == "debug");

    CHECK(set_option("stomp_hosts", "duplex,,localhost,", c) == "");
    CHECK(c.stomp_hosts == std::vector<std::string>{"duplex", "localhost"});
    CHECK(set_option("stomp_hosts", "one", c) == "");
    CHECK(c.stomp_hosts == std::vector<std::string>{"one"});
    CHECK(set_option("stomp_hosts", "", c) == "");
    CHECK(c.stomp_hosts.empty());
}

TEST_CASE("set_option: unknown names are errors, names are exact") {
    Config c;
    CHECK(set_option("max_packets", "1", c) == "unknown option 'max_packets'");
    CHECK(set_option("max-packet-size", "100", c) == "unknown option 'max-packet-size'");
    CHECK(set_option("WS", "80", c) == "unknown option 'WS'");
    CHECK(set_option("", "1", c) == "unknown option ''");
    CHECK(c.limits.max_packet_size == 256 * 1024);
}

TEST_CASE("apply_json_config: a valid flat object sets every field") {
    Config c;
    const char* json = R"({
        "ws": "127.0.0.1:0",
        "mqtt": false,
        "stomp": "[::1]:61614",
        "web_root": "site",
        "log_level": "debug",
        "max_packet_size": 1024,
        "max_inflight": "8",
        "max_queued_messages": 50,
        "max_queued_bytes": 4096,
        "max_connections": 10,
        "connect_timeout": 5,
        "stomp_hosts": "a,b",
        "stomp_heartbeat_ms": 2000
    })";
    CHECK(apply_json_config(json, c) == "");
    CHECK(c.ws.enabled);
    CHECK(c.ws.host == "127.0.0.1");
    CHECK(c.ws.port == 0);
    CHECK_FALSE(c.mqtt.enabled);
    CHECK(c.stomp.host == "::1");
    CHECK(c.stomp.port == 61614);
    CHECK(c.web_root == "site");
    CHECK(c.log_level == "debug");
    CHECK(c.limits.max_packet_size == 1024);
    CHECK(c.limits.max_inflight == 8);
    CHECK(c.limits.max_queued_messages == 50);
    CHECK(c.limits.max_queued_bytes == 4096);
    CHECK(c.limits.max_connections == 10);
    CHECK(c.limits.connect_timeout == 5);
    CHECK(c.stomp_hosts == std::vector<std::string>{"a", "b"});
    CHECK(c.stomp_heartbeat_ms == 2000);
}

TEST_CASE("apply_json_config: an empty object changes nothing; listener ports may be numbers") {
    Config c;
    CHECK(apply_json_config("{}", c) == "");
    CHECK(c.ws.port == 8080);
    CHECK(apply_json_config(R"({"mqtt": 1884})", c) == "");
    CHECK(c.mqtt.port == 1884);
    CHECK(c.mqtt.host == "");
}

TEST_CASE("apply_json_config: unknown keys are errors") {
    Config c;
    CHECK(apply_json_config(R"({"max_packet": 10})", c) == "unknown option 'max_packet'");
    CHECK(apply_json_config(R"({"limits": {"max_inflight": 1}})", c) ==
          "limits: expected a string or a non-negative number");
}

TEST_CASE("apply_json_config: wrong types are errors") {
    Config c;
    CHECK(apply_json_config(R"({"max_inflight": -1})", c) ==
          "max_inflight: expected a string or a non-negative number");
    CHECK(apply_json_config(R"({"max_inflight": 1.5})", c) ==
          "max_inflight: expected a string or a non-negative number");
    CHECK(apply_json_config(R"({"max_inflight": true})", c) ==
          "max_inflight: expected a string or a non-negative number");
    CHECK(apply_json_config(R"({"max_inflight": null})", c) ==
          "max_inflight: expected a string or a non-negative number");
    CHECK(apply_json_config(R"({"stomp_hosts": ["a", "b"]})", c) ==
          "stomp_hosts: expected a string or a non-negative number");
    // Only false disables a listener.
    CHECK(apply_json_config(R"({"ws": true})", c) == "ws: expected a string or a non-negative number");
    CHECK(apply_json_config(R"({"log_level": false})", c) ==
          "log_level: expected a string or a non-negative number");
    CHECK(c.ws.enabled);
    CHECK(c.limits.max_inflight == 32);
}

TEST_CASE("apply_json_config: option errors are reported with the option name") {
    Config c;
    CHECK(apply_json_config(R"({"max_inflight": 0})", c) == "max_inflight: 0 is out of range 1..65535");
    CHECK(apply_json_config(R"({"max_inflight": 70000})", c) == "max_inflight: 70000 is out of range 1..65535");
    CHECK(apply_json_config(R"({"ws": "host:x"})", c) ==
          "ws: bad port in 'host:x': 'x' is not a non-negative integer");
    CHECK(apply_json_config(R"({"log_level": "loud"})", c) ==
          "log_level: log level 'loud' is not one of error, warn, info, debug");
}

TEST_CASE("apply_json_config: malformed JSON reports the offset and rapidjson's message") {
    Config c;
    CHECK(apply_json_config("", c) == "bad JSON at offset 0: The document is empty.");
    CHECK(apply_json_config(R"({"ws": )", c) == "bad JSON at offset 7: Invalid value.");
    CHECK(apply_json_config(R"({"ws": "80",})", c) ==
          "bad JSON at offset 12: Missing a name for object member.");
    CHECK(apply_json_config(R"({"ws" "80"})", c) ==
          "bad JSON at offset 6: Missing a colon after a name of object member.");
    CHECK(apply_json_config(R"({} x)", c) == "bad JSON at offset 3: The document root must not be followed by other values.");
    CHECK(c.ws.port == 8080);
}

TEST_CASE("apply_json_config: the config must be an object") {
    Config c;
    CHECK(apply_json_config("[]", c) == "the config must be a JSON object");
    CHECK(apply_json_config("42", c) == "the config must be a JSON object");
    CHECK(apply_json_config(R"("ws")", c) == "the config must be a JSON object");
}

TEST_CASE("apply_json_config: only the given length is parsed (string_view not NUL-terminated)") {
    Config c;
    std::string buffer = R"({"max_inflight": 9}GARBAGE)";
    CHECK(apply_json_config(std::string_view(buffer).substr(0, 19), c) == "");
    CHECK(c.limits.max_inflight == 9);
}

}  // TEST_SUITE

TEST_CASE("apply_json_config: a config nested deeper than the JSON bound is refused, not a stack overflow") {
    Config c;
    std::string deep(200000, '[');
    CHECK(apply_json_config(deep, c) == "JSON nested deeper than 64 levels");
    std::string ok = "{\"x\": " + std::string(63, '[') + std::string(63, ']') + "}";
    CHECK(apply_json_config(ok, c) != "JSON nested deeper than 64 levels");
}

TEST_CASE("TLS options: listeners off by default, names in JSON and as flags, booleans, versions") {
    Config c;
    CHECK_FALSE(c.mqtts.enabled);
    CHECK_FALSE(c.stomps.enabled);
    CHECK_FALSE(c.wss.enabled);
    CHECK(c.mqtts.port == 8883);
    CHECK(c.stomps.port == 61614);
    CHECK(c.wss.port == 8443);
    CHECK(c.tls.min_version == "1.2");
    CHECK_FALSE(c.tls.require_certificate);
    CHECK_FALSE(c.tls.use_identity_as_username);

    CHECK(apply_json_config(R"({"mqtts": "127.0.0.1:0", "wss": 8444, "tls_cert_file": "/c.pem",
        "tls_key_file": "/k.pem", "tls_ca_file": "/ca.pem", "tls_require_certificate": true,
        "tls_use_identity_as_username": true, "tls_min_version": "1.3", "tls_ciphers": "ECDHE-RSA-AES128-GCM-SHA256"})",
                            c) == "");
    CHECK(c.mqtts.enabled);
    CHECK(c.mqtts.host == "127.0.0.1");
    CHECK(c.wss.enabled);
    CHECK(c.wss.port == 8444);
    CHECK(c.tls.cert_file == "/c.pem");
    CHECK(c.tls.key_file == "/k.pem");
    CHECK(c.tls.ca_file == "/ca.pem");
    CHECK(c.tls.require_certificate);
    CHECK(c.tls.use_identity_as_username);
    CHECK(c.tls.min_version == "1.3");
    CHECK(c.tls.ciphers == "ECDHE-RSA-AES128-GCM-SHA256");

    // false turns a listener off, and a boolean option off.
    CHECK(apply_json_config(R"({"wss": false, "tls_require_certificate": false})", c) == "");
    CHECK_FALSE(c.wss.enabled);
    CHECK_FALSE(c.tls.require_certificate);
    CHECK(set_option("tls_use_identity_as_username", "false", c) == "");
    CHECK_FALSE(c.tls.use_identity_as_username);

    CHECK(set_option("tls_require_certificate", "yes", c) ==
          "tls_require_certificate: 'yes' is not true or false");
    CHECK(set_option("tls_min_version", "1.1", c) == "tls_min_version: '1.1' is not 1.2 or 1.3");
    CHECK(apply_json_config(R"({"mqtts": true})", c) == "mqtts: expected a string or a non-negative number");
}
