// Paho MQTT C++ over TLS: ssl:// (mqtts listener) and wss:// (wss listener),
// with the test CA, with the wrong CA (refused), and with a client
// certificate the broker requires. The PKI is made per run in a temporary
// directory by tls_pki.py (openssl CLI) and removed at the end.
#include <doctest/doctest.h>
#include <mqtt/async_client.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "broker_process.h"

using namespace std::chrono_literals;
using duplex_it::BrokerOptions;
using duplex_it::BrokerProcess;

namespace {

// The PKI of this process, made on first use.
struct Pki {
    std::string dir;
    Pki() {
        char tmpl[] = "/tmp/duplex-paho-tls-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        const char* script = std::getenv("DUPLEX_TLS_PKI");
        REQUIRE_MESSAGE(script, "DUPLEX_TLS_PKI (tls_pki.py) is not set");
        std::string cmd = std::string("/usr/bin/python3 ") + script + " " + dir + " > /dev/null";
        REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "tls_pki.py failed");
    }
    ~Pki() { std::filesystem::remove_all(dir); }
    std::string operator()(const std::string& name) const { return dir + "/" + name; }
};

const Pki& pki() {
    static Pki p;
    return p;
}

std::vector<std::string> server_args(bool require_cert = false) {
    std::vector<std::string> a{"--tls-cert-file", pki()("server.crt"), "--tls-key-file", pki()("server.key")};
    if (require_cert) {
        a.insert(a.end(), {"--tls-ca-file", pki()("ca.crt"), "--tls-require-certificate", "true"});
    }
    return a;
}

mqtt::ssl_options tls_options(const std::string& ca, bool client_cert = false) {
    auto b = mqtt::ssl_options_builder();
    b.trust_store(pki()(ca)).enable_server_cert_auth(true).verify(true);
    if (client_cert) b.key_store(pki()("client.crt")).private_key(pki()("client.key"));
    return b.finalize();
}

std::string unique_id(const std::string& prefix) {
    static std::atomic<int> n{0};
    return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

// Connects to `uri` with `ssl`; returns the connected client or throws.
std::unique_ptr<mqtt::async_client> connect(const std::string& uri, const mqtt::ssl_options& ssl) {
    auto c = std::make_unique<mqtt::async_client>(uri, unique_id("paho-tls"),
                                                  static_cast<mqtt::iclient_persistence*>(nullptr));
    c->start_consuming();
    auto opts = mqtt::connect_options_builder()
                    .clean_session(true)
                    .connect_timeout(5s)
                    .mqtt_version(MQTTVERSION_3_1_1)
                    .automatic_reconnect(false)
                    .ssl(ssl)
                    .finalize();
    c->connect(opts)->wait_for(8s);
    if (!c->is_connected()) throw std::runtime_error("not connected");
    return c;
}

// Subscriber and publisher on the same URI; one QoS 1 message goes through.
void round_trip(const std::string& uri, const mqtt::ssl_options& ssl) {
    auto sub = connect(uri, ssl);
    auto pub = connect(uri, ssl);
    REQUIRE(sub->subscribe("tls/paho", 1)->wait_for(5s));
    REQUIRE(pub->publish("tls/paho", "secret", 6, 1, false)->wait_for(5s));
    mqtt::const_message_ptr m;
    REQUIRE(sub->try_consume_message_for(&m, 5s));
    REQUIRE(m);
    CHECK(m->get_payload_str() == "secret");
    sub->disconnect()->wait_for(2s);
    pub->disconnect()->wait_for(2s);
}

}  // namespace

TEST_CASE("Paho over ssl:// and wss:// with the test CA") {
    BrokerOptions o;
    o.listeners = {"mqtts", "wss"};
    o.extra_args = server_args();
    BrokerProcess b(o);
    SUBCASE("ssl://") { round_trip("ssl://127.0.0.1:" + std::to_string(b.port("mqtts")), tls_options("ca.crt")); }
    SUBCASE("wss://") {
        round_trip("wss://127.0.0.1:" + std::to_string(b.port("wss")) + "/mqtt", tls_options("ca.crt"));
    }
}

TEST_CASE("Paho refuses a broker whose certificate the wrong CA signed") {
    BrokerOptions o;
    o.listeners = {"mqtts"};
    o.extra_args = server_args();
    BrokerProcess b(o);
    CHECK_THROWS(connect("ssl://127.0.0.1:" + std::to_string(b.port("mqtts")), tls_options("other-ca.crt")));
}

TEST_CASE("Paho with a client certificate the broker requires") {
    BrokerOptions o;
    o.listeners = {"mqtts"};
    o.extra_args = server_args(true);
    BrokerProcess b(o);
    std::string uri = "ssl://127.0.0.1:" + std::to_string(b.port("mqtts"));
    round_trip(uri, tls_options("ca.crt", true));
    CHECK_THROWS(connect(uri, tls_options("ca.crt", false)));
}
