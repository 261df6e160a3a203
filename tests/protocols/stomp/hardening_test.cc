// In-process tests of the STOMP connection's defences against hostile or
// broken clients (tests/support/harness.h): topic depth (max_topic_levels),
// slow consumers (slow_consumer_timeout), receipts a client does not read,
// and the heart-beat clock while we hold a publisher back. Each test is
// named after the rule it pins.
#include "base/clock.h"
#include "tests/support/harness.h"

#include <doctest/doctest.h>

using namespace duplex;
using namespace duplex::test;
using namespace duplex::test::st;
using namespace std::string_literals;

namespace {

Client& connected(Harness& h, std::deque<Client>& store, std::vector<Header> extra = {}) {
    Client& c = store.emplace_back(h, Version::v12);
    REQUIRE(c.connect(std::move(extra)).command == "CONNECTED");
    return c;
}

void subscribe(Client& c, std::string id, std::string destination, std::string ack = "auto") {
    c.send("SUBSCRIBE", {{"id", id}, {"destination", destination}, {"ack", ack}, {"receipt", "sub-" + id}});
    auto r = c.receive();
    REQUIRE(r.size() >= 1);
    REQUIRE(r[0].command == "RECEIPT");
}

std::vector<std::string> bodies(const std::vector<Received>& frames) {
    std::vector<std::string> out;
    for (auto& f : Client::of(frames, "MESSAGE")) out.push_back(f.body);
    return out;
}

std::string deep(size_t levels, std::string_view last = "l") {
    std::string t;
    for (size_t i = 1; i < levels; ++i) t += "l/";
    t += last;
    return t;
}

// Reads as the transport would: again while the connection asked for a
// write during the last read (bounded).
std::vector<Received> read_all(Client& c, int max_reads = 1000) {
    std::vector<Received> all;
    for (int i = 0; i < max_reads; ++i) {
        int requests = c.peer.transport.write_requests;
        auto got = c.receive();
        all.insert(all.end(), got.begin(), got.end());
        if (got.empty() && c.peer.transport.write_requests == requests) break;
    }
    return all;
}

std::vector<mqtt::Packet> mqtt_read_all(mq::Client& c, int max_reads = 100) {
    std::vector<mqtt::Packet> all;
    for (int i = 0; i < max_reads; ++i) {
        int requests = c.peer.transport.write_requests;
        auto got = c.receive();
        all.insert(all.end(), got.begin(), got.end());
        if (got.empty() && c.peer.transport.write_requests == requests) break;
    }
    return all;
}

// `n` MQTT QoS 1 publishes on `topic` in one burst, ids from 1.
std::string qos1_burst(int n, std::string_view topic) {
    std::string b;
    for (int i = 1; i <= n; ++i) {
        mqtt::serialize(mq::publish_packet(topic, "m" + std::to_string(i), 1, static_cast<uint16_t>(i)),
                        mqtt::Version::v311, b);
    }
    return b;
}

Config slow_config(size_t max_queued = 10, int slow_timeout = 1) {
    Config cfg = test_config();
    cfg.limits.max_queued_messages = max_queued;
    cfg.limits.slow_consumer_timeout = slow_timeout;
    return cfg;
}

}  // namespace

TEST_SUITE("stomp hardening") {

// --- max_topic_levels --------------------------------------------------------

TEST_CASE("max_topic_levels: SEND to a deeper /topic gets ERROR and is not routed; other clients go on") {
    Harness h;
    std::deque<Client> cs;
    Client& sub = connected(h, cs);
    subscribe(sub, "all", "/topic/#");
    Client& bad = connected(h, cs);
    SUBCASE("201 levels") { bad.send("SEND", {{"destination", "/topic/" + deep(201)}}, "x"); }
    // 8,000 slashes: as deep as a destination fits in a header line (8 KiB).
    SUBCASE("8,000 slashes") { bad.send("SEND", {{"destination", "/topic/" + std::string(8000, '/')}}, "x"); }
    auto e = bad.receive();
    REQUIRE(e.size() == 1);
    CHECK(e[0].command == "ERROR");
    CAPTURE(e[0].get("message"));
    CHECK(e[0].get("message").find("max_topic_levels") != std::string::npos);
    CHECK(bad.peer.transport.closed());
    CHECK(bodies(sub.receive()).empty());

    Client& pub = connected(h, cs);
    pub.send("SEND", {{"destination", "/topic/a/b"}}, "fine");
    CHECK(bodies(sub.receive()) == std::vector<std::string>{"fine"});
    CHECK_FALSE(sub.peer.transport.closed());
}

TEST_CASE("max_topic_levels: SUBSCRIBE to a deeper /topic filter gets ERROR; a later publish walking it harms nobody") {
    Harness h;
    std::deque<Client> cs;
    Client& watcher = connected(h, cs);
    subscribe(watcher, "all", "/topic/#");
    Client& bad = connected(h, cs);
    // As deep as a destination fits in a STOMP header line (8 KiB).
    bad.send("SUBSCRIBE", {{"id", "deep"}, {"destination", "/topic/" + std::string(8000, '/')}, {"receipt", "r"}});
    auto e = bad.receive();
    REQUIRE(e.size() == 1);
    CHECK(e[0].command == "ERROR");
    CAPTURE(e[0].get("message"));
    CHECK(e[0].get("message").find("max_topic_levels") != std::string::npos);
    CHECK(e[0].get("receipt-id") == "r");
    CHECK(bad.peer.transport.closed());

    Client& bad2 = connected(h, cs);
    bad2.send("SUBSCRIBE", {{"id", "d"}, {"destination", "/topic/" + deep(201, "#")}});
    auto e2 = bad2.receive();
    REQUIRE(e2.size() == 1);
    CHECK(e2[0].command == "ERROR");

    // A publish that would walk 65,000 levels (MQTT: STOMP headers cannot
    // carry it).
    const std::string slashes(65000, '/');
    mq::Client m(h, mqtt::Version::v5);
    REQUIRE(m.connect("m").reason_code == 0);
    m.send(mq::publish_packet(slashes, "x", 0));
    auto d = mq::only<mqtt::Disconnect>(m.receive());
    REQUIRE(d.size() == 1);
    CHECK(d[0].reason_code == 0x90);
    CHECK(bodies(watcher.receive()).empty());

    Client& pub = connected(h, cs);
    pub.send("SEND", {{"destination", "/topic/still/here"}}, "ok");
    CHECK(bodies(watcher.receive()) == std::vector<std::string>{"ok"});
}

TEST_CASE("max_topic_levels: a 200-level /topic filter and destination work end to end") {
    Harness h;
    std::deque<Client> cs;
    const std::string topic = deep(200, "end");
    std::string wild;
    for (int i = 1; i < 200; ++i) wild += "+/";
    wild += "#";
    Client& exact = connected(h, cs);
    subscribe(exact, "e", "/topic/" + topic);
    Client& wildcard = connected(h, cs);
    subscribe(wildcard, "w", "/topic/" + wild);
    Client& pub = connected(h, cs);
    pub.send("SEND", {{"destination", "/topic/" + topic}, {"receipt", "s"}}, "deep");
    auto r = pub.receive();
    REQUIRE(r.size() == 1);
    CHECK(r[0].command == "RECEIPT");
    auto e = Client::of(exact.receive(), "MESSAGE");
    REQUIRE(e.size() == 1);
    CHECK(e[0].body == "deep");
    CHECK(e[0].get("destination") == "/topic/" + topic);
    CHECK(bodies(wildcard.receive()) == std::vector<std::string>{"deep"});
}

// --- slow_consumer_timeout -----------------------------------------------------

TEST_CASE("slow consumer: a STOMP subscriber that never reads holds a QoS 1 publisher back, then gets ERROR \"slow consumer\" and the publisher is released") {
    Harness h(slow_config());
    std::deque<Client> cs;
    Client& slow = connected(h, cs);
    subscribe(slow, "all", "/topic/#");  // never read from here on
    mq::Client pub(h);
    REQUIRE(pub.connect("pub").reason_code == 0);
    pub.send_raw(qos1_burst(30, "t"));
    CHECK(pub.peer.transport.paused);
    REQUIRE_FALSE(pub.peer.transport.pause_calls.empty());
    CHECK(pub.peer.transport.pause_calls.front() == true);
    auto first = mq::acks(pub.receive(), mqtt::PacketType::Puback);
    CHECK(first.size() < 30);

    const int64_t t0 = now_ms();
    slow.peer.tick(t0 + 500);
    CHECK_FALSE(slow.peer.transport.closed());
    slow.peer.tick(t0 + 1500);
    CHECK(slow.peer.transport.closed());
    auto frames = slow.receive();
    auto errors = Client::of(frames, "ERROR");
    REQUIRE(errors.size() == 1);
    CHECK((errors[0].get("message") + errors[0].body).find("slow consumer") != std::string::npos);

    auto rest = mq::acks(mqtt_read_all(pub), mqtt::PacketType::Puback);
    CHECK(first.size() + rest.size() == 30);
    CHECK_FALSE(pub.peer.transport.paused);
    CHECK(pub.peer.transport.pause_calls.back() == false);
    CHECK_FALSE(pub.peer.transport.closed());
}

TEST_CASE("slow consumer: a STOMP publisher (persistent SENDs) to a subscriber that never reads is held back and released when it is cut off") {
    Harness h(slow_config());
    std::deque<Client> cs;
    Client& slow = connected(h, cs);
    subscribe(slow, "all", "/topic/#");
    Client& pub = connected(h, cs);
    std::string burst;
    for (int i = 1; i <= 30; ++i)
        burst += frame("SEND", {{"destination", "/topic/t"}, {"persistent", "true"}, {"receipt", std::to_string(i)}},
                       "m" + std::to_string(i));
    pub.send_raw(burst);
    CHECK(pub.peer.transport.paused);
    auto first = Client::of(pub.receive(), "RECEIPT");
    CHECK(first.size() < 30);
    slow.peer.tick(now_ms() + 1500);
    CHECK(slow.peer.transport.closed());
    auto rest = Client::of(read_all(pub), "RECEIPT");
    CHECK(first.size() + rest.size() == 30);
    CHECK_FALSE(pub.peer.transport.paused);
    CHECK_FALSE(pub.peer.transport.closed());
}

// --- heart-beat while held back ---------------------------------------------------

TEST_CASE("heart-beat: a STOMP publisher held back (we are not reading it) is not timed out") {
    Harness h(slow_config(10, 0));  // no slow-consumer cut-off: it stays held
    std::deque<Client> cs;
    mq::Client slow(h);
    REQUIRE(slow.connect("slow").reason_code == 0);
    REQUIRE(slow.subscribe("t", 1) == std::vector<uint8_t>{1});
    Client& pub = connected(h, cs, {{"heart-beat", "1000,0"}});
    std::string burst;
    for (int i = 1; i <= 20; ++i)
        burst += frame("SEND", {{"destination", "/topic/t"}, {"persistent", "true"}}, "m" + std::to_string(i));
    pub.send_raw(burst);
    REQUIRE(pub.peer.transport.paused);
    const int64_t t0 = now_ms();
    for (int64_t t = 1000; t <= 60000; t += 1000) pub.peer.tick(t0 + t);
    CHECK_FALSE(pub.peer.transport.closed());
    CHECK(Client::of(pub.receive(), "ERROR").empty());
}

// --- receipts a client does not read ------------------------------------------------

TEST_CASE("control output: a client that sends SENDs with receipts and never reads is paused past 64 KiB owed and resumed once drained") {
    constexpr int kSends = 20000;
    Harness h;
    std::deque<Client> cs;
    Client& c = connected(h, cs);
    std::string burst;
    for (int i = 0; i < kSends; ++i)
        burst += frame("SEND", {{"destination", "/topic/nobody"}, {"receipt", std::to_string(i)}}, "x");
    c.send_raw(burst);
    CHECK(c.peer.transport.paused);
    REQUIRE_FALSE(c.peer.transport.pause_calls.empty());
    CHECK(c.peer.transport.pause_calls.front() == true);

    auto first = c.receive();
    CHECK(first.size() < size_t(kSends));  // the rest waited unparsed
    CHECK(first.size() > 1000);
    auto rest = read_all(c);
    auto all = Client::of(first, "RECEIPT");
    auto more = Client::of(rest, "RECEIPT");
    all.insert(all.end(), more.begin(), more.end());
    REQUIRE(all.size() == size_t(kSends));
    for (int i = 0; i < kSends; i += 997) CHECK(all[i].get("receipt-id") == std::to_string(i));
    CHECK(all.back().get("receipt-id") == std::to_string(kSends - 1));
    CHECK_FALSE(c.peer.transport.paused);
    CHECK(c.peer.transport.pause_calls.back() == false);
    CHECK_FALSE(c.peer.transport.closed());
    CHECK(c.error.empty());
}

}  // TEST_SUITE
