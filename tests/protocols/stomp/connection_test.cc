// In-process tests of the STOMP connection state machine (protocols/stomp/
// connection.h) through net::ProtocolHandler, several connections on one
// duplex::Core, frames built and decoded with the STOMP codec. Names cite the
// STOMP 1.2 specification's sections.
#include "tests/support/harness.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

using namespace duplex;
using namespace duplex::test;
using namespace duplex::test::st;
using namespace std::string_literals;

namespace {

Client& connected(Harness& h, std::deque<Client>& store, Version v = Version::v12) {
    Client& c = store.emplace_back(h, v);
    REQUIRE(c.connect().command == "CONNECTED");
    return c;
}

// SUBSCRIBE with a receipt; returns what came after the RECEIPT (messages
// a queue or the retained store had for the new subscription).
std::vector<Received> subscribe(Client& c, std::string id, std::string destination, std::string ack = "auto") {
    c.send("SUBSCRIBE", {{"id", id}, {"destination", destination}, {"ack", ack}, {"receipt", "sub-" + id}});
    auto r = c.receive();
    REQUIRE(r.size() >= 1);
    REQUIRE(r[0].command == "RECEIPT");
    CHECK(r[0].get("receipt-id") == "sub-" + id);
    r.erase(r.begin());
    return r;
}

void send(Client& c, std::string destination, std::string body, std::vector<Header> extra = {}) {
    std::vector<Header> h{{"destination", destination}};
    for (auto& e : extra) h.push_back(e);
    c.send("SEND", h, body);
}

std::vector<std::string> bodies(const std::vector<Received>& frames) {
    std::vector<std::string> out;
    for (auto& f : Client::of(frames, "MESSAGE")) out.push_back(f.body);
    return out;
}

}  // namespace

TEST_SUITE("stomp connection") {

TEST_CASE("CONNECT without accept-version is STOMP 1.0: CONNECTED version 1.0 (1.2 \"Protocol Negotiation\")") {
    Harness h;
    Client c(h, Version::v10);
    Received r = c.connect();
    CHECK(r.command == "CONNECTED");
    CHECK((r.get("version") == "1.0" || r.header("version") == nullptr));
    CHECK(r.header("heart-beat") == nullptr);
    CHECK_FALSE(r.get("session").empty());
}

TEST_CASE("CONNECT accept-version 1.1 / 1.2 gets CONNECTED with that version and heart-beat (1.2 \"CONNECTED Frame\")") {
    for (Version v : {Version::v11, Version::v12}) {
        Harness h;
        Client c(h, v);
        Received r = c.connect();
        CHECK(r.command == "CONNECTED");
        CHECK(r.get("version") == (v == Version::v11 ? "1.1" : "1.2"));
        CHECK(r.get("heart-beat") == "0,0");
        CHECK_FALSE(c.peer.transport.closed());
    }
}

TEST_CASE("the highest common version wins; STOMP frame works like CONNECT (1.2 \"Protocol Negotiation\")") {
    Harness h;
    Client c(h, Version::v12);
    c.send("STOMP", {{"accept-version", "1.0,1.2,1.1"}, {"host", "localhost"}});
    auto r = c.receive();
    REQUIRE(r.size() == 1);
    CHECK(r[0].command == "CONNECTED");
    CHECK(r[0].get("version") == "1.2");
}

TEST_CASE("no common version: ERROR listing the supported versions, then close (1.2 \"Protocol Negotiation\")") {
    Harness h;
    Client c(h);
    c.send("CONNECT", {{"accept-version", "2.0"}, {"host", "localhost"}});
    auto r = c.receive();
    REQUIRE(r.size() == 1);
    CHECK(r[0].command == "ERROR");
    CHECK(r[0].get("version").find("1.2") != std::string::npos);
    CHECK(c.peer.transport.closed());
}

TEST_CASE("a frame before CONNECT is an ERROR and closes the connection") {
    Harness h;
    Client c(h);
    c.send("SEND", {{"destination", "/topic/x"}}, "early");
    auto r = c.receive();
    REQUIRE(r.size() == 1);
    CHECK(r[0].command == "ERROR");
    CHECK(c.peer.transport.closed());
}

TEST_CASE("SEND to /topic reaches SUBSCRIBE on another connection as MESSAGE (1.2 \"SEND\", \"MESSAGE\")") {
    Harness h;
    std::deque<Client> cs;
    Client& sub = connected(h, cs);
    Client& pub = connected(h, cs, Version::v11);
    subscribe(sub, "s1", "/topic/news/+");
    send(pub, "/topic/news/today", "headline", {{"content-type", "text/plain"}, {"x-custom", "v"}});
    CHECK(pub.receive().empty());
    auto m = Client::of(sub.receive(), "MESSAGE");
    REQUIRE(m.size() == 1);
    CHECK(m[0].get("subscription") == "s1");
    CHECK(m[0].get("destination") == "/topic/news/today");
    CHECK_FALSE(m[0].get("message-id").empty());
    CHECK(m[0].get("content-type") == "text/plain");
    CHECK(m[0].get("x-custom") == "v");  // other headers travel with the message
    CHECK(m[0].body == "headline");
    CHECK(sub.error.empty());
}

TEST_CASE("bodies with NUL bytes travel with content-length (1.2 \"Header content-length\")") {
    Harness h;
    std::deque<Client> cs;
    Client& sub = connected(h, cs);
    Client& pub = connected(h, cs);
    subscribe(sub, "s1", "/topic/bin");
    std::string body = "a\0b\0c"s;
    send(pub, "/topic/bin", body, {{"content-length", "5"}});
    CHECK(bodies(sub.receive()) == std::vector<std::string>{body});
}

TEST_CASE("UNSUBSCRIBE stops delivery (1.2 \"UNSUBSCRIBE\")") {
    Harness h;
    std::deque<Client> cs;
    Client& sub = connected(h, cs);
    Client& pub = connected(h, cs);
    subscribe(sub, "s1", "/topic/t");
    sub.send("UNSUBSCRIBE", {{"id", "s1"}, {"receipt", "u"}});
    auto r = sub.receive();
    REQUIRE(r.size() == 1);
    CHECK(r[0].get("receipt-id") == "u");
    send(pub, "/topic/t", "after");
    CHECK(sub.receive().empty());
}

TEST_CASE("a queue message goes to one consumer; NACK redelivers it to another consumer (1.2 \"NACK\")") {
    Harness h;
    std::deque<Client> cs;
    Client& a = connected(h, cs);
    Client& b = connected(h, cs);
    Client& pub = connected(h, cs);
    subscribe(a, "qa", "/queue/work", "client-individual");
    subscribe(b, "qb", "/queue/work", "client-individual");
    send(pub, "/queue/work", "job");

    auto ma = Client::of(a.receive(), "MESSAGE");
    auto mb = Client::of(b.receive(), "MESSAGE");
    REQUIRE(ma.size() + mb.size() == 1);  // exactly one consumer
    Client& first = ma.empty() ? b : a;
    Client& other = ma.empty() ? a : b;
    Received m = ma.empty() ? mb[0] : ma[0];
    CHECK(m.body == "job");
    REQUIRE_FALSE(m.get("ack").empty());  // 1.2: the id to ACK / NACK

    first.send("NACK", {{"id", m.get("ack")}, {"receipt", "n"}});
    auto r = first.receive();
    REQUIRE(r.size() == 1);
    CHECK(r[0].command == "RECEIPT");
    auto again = Client::of(other.receive(), "MESSAGE");
    REQUIRE(again.size() == 1);
    CHECK(again[0].body == "job");
    CHECK(again[0].get("redelivered") == "true");
    other.send("ACK", {{"id", again[0].get("ack")}});
    CHECK(other.receive().empty());
    CHECK(first.receive().empty());
}

TEST_CASE("ack client is cumulative; acknowledging again is an ERROR (1.2 \"SUBSCRIBE ack Header\")") {
    Harness h;
    std::deque<Client> cs;
    Client& c = connected(h, cs);
    Client& pub = connected(h, cs);
    subscribe(c, "q", "/queue/jobs", "client");
    for (auto body : {"1", "2", "3"}) send(pub, "/queue/jobs", body);
    auto m = Client::of(c.receive(), "MESSAGE");
    REQUIRE(m.size() == 3);
    // ACK of the second acknowledges the first too.
    c.send("ACK", {{"id", m[1].get("ack")}, {"receipt", "a2"}});
    CHECK(c.receive().size() == 1);
    c.send("ACK", {{"id", m[0].get("ack")}});
    auto e = c.receive();
    REQUIRE(e.size() == 1);
    CHECK(e[0].command == "ERROR");
    CHECK(c.peer.transport.closed());
    c.peer.drop();

    // The third, never acknowledged, goes back to the queue for the next consumer.
    Client& next = connected(h, cs);
    auto back = Client::of(subscribe(next, "q", "/queue/jobs", "client-individual"), "MESSAGE");
    REQUIRE(back.size() == 1);
    CHECK(back[0].body == "3");
    CHECK(back[0].get("redelivered") == "true");
}

TEST_CASE("STOMP 1.1 acknowledges with message-id and subscription (1.1 \"ACK\")") {
    Harness h;
    std::deque<Client> cs;
    Client& c = connected(h, cs, Version::v11);
    Client& pub = connected(h, cs);
    subscribe(c, "q", "/queue/one", "client-individual");
    send(pub, "/queue/one", "x");
    auto m = Client::of(c.receive(), "MESSAGE");
    REQUIRE(m.size() == 1);
    CHECK(m[0].header("ack") == nullptr);  // 1.2 only
    c.send("ACK", {{"message-id", m[0].get("message-id")}, {"subscription", "q"}, {"receipt", "ok"}});
    auto r = c.receive();
    REQUIRE(r.size() == 1);
    CHECK(r[0].command == "RECEIPT");
}

TEST_CASE("any client frame with a receipt header gets RECEIPT; DISCONNECT's comes before the close (1.2 \"RECEIPT\")") {
    Harness h;
    std::deque<Client> cs;
    Client& c = connected(h, cs);
    send(c, "/topic/t", "x", {{"receipt", "r-send"}});
    auto r = c.receive();
    REQUIRE(r.size() == 1);
    CHECK(r[0].command == "RECEIPT");
    CHECK(r[0].get("receipt-id") == "r-send");
    c.send("DISCONNECT", {{"receipt", "bye"}});
    CHECK(c.peer.transport.closed());
    r = c.receive();
    REQUIRE(r.size() == 1);
    CHECK(r[0].get("receipt-id") == "bye");
}

TEST_CASE("SENDs in a transaction are delivered at COMMIT, never after ABORT (1.2 \"BEGIN\", \"COMMIT\", \"ABORT\")") {
    Harness h;
    std::deque<Client> cs;
    Client& sub = connected(h, cs);
    Client& pub = connected(h, cs);
    subscribe(sub, "s", "/topic/tx");

    pub.send("BEGIN", {{"transaction", "t1"}});
    send(pub, "/topic/tx", "a", {{"transaction", "t1"}});
    send(pub, "/topic/tx", "b", {{"transaction", "t1"}});
    CHECK(sub.receive().empty());
    pub.send("COMMIT", {{"transaction", "t1"}, {"receipt", "c"}});
    CHECK(pub.receive().size() == 1);
    CHECK(bodies(sub.receive()) == std::vector<std::string>{"a", "b"});

    pub.send("BEGIN", {{"transaction", "t2"}});
    send(pub, "/topic/tx", "dropped", {{"transaction", "t2"}});
    pub.send("ABORT", {{"transaction", "t2"}, {"receipt", "ab"}});
    CHECK(pub.receive().size() == 1);
    CHECK(sub.receive().empty());

    // The transaction is over: committing it again is an error.
    pub.send("COMMIT", {{"transaction", "t2"}});
    auto e = pub.receive();
    REQUIRE(e.size() == 1);
    CHECK(e[0].command == "ERROR");
}

TEST_CASE("an ACK inside a transaction takes effect at COMMIT (1.2 \"ACK\")") {
    Harness h;
    std::deque<Client> cs;
    Client& c = connected(h, cs);
    Client& pub = connected(h, cs);
    subscribe(c, "q", "/queue/txq", "client-individual");
    send(pub, "/queue/txq", "m");
    auto m = Client::of(c.receive(), "MESSAGE");
    REQUIRE(m.size() == 1);
    c.send("BEGIN", {{"transaction", "t"}});
    c.send("ACK", {{"id", m[0].get("ack")}, {"transaction", "t"}});
    c.send("ABORT", {{"transaction", "t"}});  // the ACK is discarded
    c.send("ACK", {{"id", m[0].get("ack")}, {"receipt", "real"}});
    auto r = c.receive();
    REQUIRE(r.size() == 1);
    CHECK(r[0].command == "RECEIPT");  // still unacknowledged before: no ERROR
}

TEST_CASE("a malformed frame gets ERROR and closes only that connection (1.2 \"ERROR\")") {
    Harness h;
    std::deque<Client> cs;
    Client& sub = connected(h, cs);
    Client& bad = connected(h, cs);
    Client& pub = connected(h, cs);
    subscribe(sub, "s", "/topic/t");

    SUBCASE("unknown command") { bad.send_raw("BOGUS\n\n\0"s); }
    SUBCASE("undefined escape in a 1.2 header") {
        bad.send_raw("SEND\ndestination:/topic/t\nx:\\q\n\nbody\0"s);
    }
    SUBCASE("missing destination") { bad.send_raw("SEND\n\nbody\0"s); }
    SUBCASE("invalid destination") { send(bad, "/nowhere/x", "y"); }

    auto e = bad.receive();
    REQUIRE(e.size() == 1);
    CHECK(e[0].command == "ERROR");
    CHECK_FALSE(e[0].get("message").empty());
    CHECK(bad.peer.transport.closed());
    bad.peer.drop();

    CHECK_FALSE(sub.peer.transport.closed());
    send(pub, "/topic/t", "fine");
    CHECK(bodies(sub.receive()) == std::vector<std::string>{"fine"});
}

TEST_CASE("an ERROR answering a frame with receipt carries receipt-id (1.2 \"ERROR\")") {
    Harness h;
    std::deque<Client> cs;
    Client& c = connected(h, cs);
    c.send("SUBSCRIBE", {{"destination", "/topic/t"}, {"receipt", "77"}});  // no id in 1.2
    auto e = c.receive();
    REQUIRE(e.size() == 1);
    CHECK(e[0].command == "ERROR");
    CHECK(e[0].get("receipt-id") == "77");
}

TEST_CASE("heart-beat: a client silent past its promised interval is closed (1.2 \"Heart-beating\")") {
    Harness h;
    std::deque<Client> cs;
    Client& c = cs.emplace_back(h);
    Received r = c.connect({{"heart-beat", "1000,0"}});
    REQUIRE(r.command == "CONNECTED");
    CHECK(r.get("heart-beat") == "0,1000");  // we expect one every 1000 ms
    const int64_t start = now_ms();
    c.peer.tick(start + 1000);
    CHECK_FALSE(c.peer.transport.closed());
    c.peer.tick(start + 60000);
    CHECK(c.peer.transport.closed());
    auto e = c.receive();
    REQUIRE(e.size() == 1);
    CHECK(e[0].command == "ERROR");
}

TEST_CASE("heart-beat: the server sends EOLs at the interval the client asked for (1.2 \"Heart-beating\")") {
    Harness h;
    std::deque<Client> cs;
    Client& c = cs.emplace_back(h);
    Received r = c.connect({{"heart-beat", "0,2000"}});
    REQUIRE(r.command == "CONNECTED");
    CHECK(r.get("heart-beat") == "1000,0");
    c.peer.tick(now_ms() + 5000);
    CHECK(c.receive().empty());
    CHECK(c.heartbeats == 1);
    CHECK_FALSE(c.peer.transport.closed());
}

TEST_CASE("heart-beat EOLs from the client are accepted between frames (1.2 \"Heart-beating\")") {
    Harness h;
    std::deque<Client> cs;
    Client& c = connected(h, cs);
    c.send_raw("\n\r\n\n");
    send(c, "/topic/t", "x", {{"receipt", "1"}});
    CHECK(c.receive().size() == 1);
    CHECK_FALSE(c.peer.transport.closed());
}

// Regression: retained messages were offered to the outbox at SUBSCRIBE and
// silently cut at max_queued_messages.
TEST_CASE("a /topic subscription gets every retained message beyond max_queued_messages, none overtaken by a later live message on its topic") {
    for (std::string mode : {"auto", "client-individual"}) {
        CAPTURE(mode);
        Config cfg = test_config();
        cfg.limits.max_queued_messages = 10;
        Harness h(cfg);
        const int n = 100;
        for (int i = 0; i < n; ++i) {
            auto m = std::make_shared<Message>();
            m->topic = "r/" + std::to_string(i);
            m->payload = "old-" + std::to_string(i);
            m->qos = 1;
            m->retain = true;
            h.core().publish(m);
        }
        std::deque<Client> cs;
        Client& c = connected(h, cs);
        c.send("SUBSCRIBE", {{"id", "s"}, {"destination", "/topic/r/#"}, {"ack", mode}});
        auto live = std::make_shared<Message>();
        live->topic = "r/50";
        live->payload = "new-50";
        h.core().publish(live);
        std::vector<std::string> got;
        for (int round = 0; round < 1000; ++round) {
            auto frames = Client::of(c.receive(), "MESSAGE");
            if (frames.empty()) break;
            for (auto& f : frames) {
                got.push_back(f.body);
                if (f.body.starts_with("old-")) CHECK(f.get("retain") == "true");
                if (mode != "auto") c.send("ACK", {{"id", f.get("ack")}});
            }
        }
        REQUIRE(got.size() == n + 1);
        std::set<std::string> distinct(got.begin(), got.end());
        CHECK(distinct.size() == n + 1);
        auto at = [&](std::string_view p) { return std::find(got.begin(), got.end(), p) - got.begin(); };
        CHECK(at("old-50") < at("new-50"));
        CHECK_FALSE(c.peer.transport.closed());
    }
}

TEST_CASE("a retained MQTT message and a live MQTT publish reach a STOMP /topic subscriber (docs/stomp.md mapping)") {
    Harness h;
    std::deque<Client> cs;
    std::deque<mq::Client> ms;
    mq::Client& mqtt = ms.emplace_back(h, mqtt::Version::v5);
    REQUIRE(mqtt.connect("sensor").reason_code == 0);
    mqtt.send(mq::publish_packet("sensors/kitchen", "21.5", 1, 1, true));
    CHECK(mq::acks(mqtt.receive(), mqtt::PacketType::Puback).size() == 1);

    Client& stomp = connected(h, cs);
    stomp.send("SUBSCRIBE", {{"id", "s"}, {"destination", "/topic/sensors/#"}});
    auto retained = Client::of(stomp.receive(), "MESSAGE");
    REQUIRE(retained.size() == 1);
    CHECK(retained[0].get("destination") == "/topic/sensors/kitchen");
    CHECK(retained[0].body == "21.5");
    CHECK(retained[0].get("retain") == "true");

    mqtt::Publish p = mq::publish_packet("sensors/hall", "19.0", 1, 2);
    p.properties.content_type = "text/plain";
    mqtt.send(p);
    mqtt.receive();
    auto live = Client::of(stomp.receive(), "MESSAGE");
    REQUIRE(live.size() == 1);
    CHECK(live[0].get("destination") == "/topic/sensors/hall");
    CHECK(live[0].body == "19.0");
    CHECK(live[0].get("persistent") == "true");  // QoS 1
    CHECK(live[0].get("content-type") == "text/plain");
}

TEST_CASE("a STOMP SEND to /topic reaches an MQTT subscriber") {
    Harness h;
    std::deque<Client> cs;
    mq::Client m(h);
    REQUIRE(m.connect("mqtt-sub").reason_code == 0);
    REQUIRE(m.subscribe("cmd/#", 1) == std::vector<uint8_t>{1});
    Client& s = connected(h, cs);
    send(s, "/topic/cmd/go", "now", {{"persistent", "true"}});
    auto got = mq::only<mqtt::Publish>(m.receive());
    REQUIRE(got.size() == 1);
    CHECK(got[0].topic == "cmd/go");
    CHECK(got[0].payload == "now");
    CHECK(got[0].qos == 1);
}

TEST_CASE("closing a connection gives its unacknowledged queue messages to another consumer") {
    Harness h;
    std::deque<Client> cs;
    Client& a = connected(h, cs);
    Client& pub = connected(h, cs);
    subscribe(a, "q", "/queue/q", "client-individual");
    send(pub, "/queue/q", "held");
    REQUIRE(bodies(a.receive()) == std::vector<std::string>{"held"});
    Client& b = connected(h, cs);
    CHECK(subscribe(b, "q", "/queue/q", "client-individual").empty());
    a.peer.drop();  // connection lost
    auto m = Client::of(b.receive(), "MESSAGE");
    REQUIRE(m.size() == 1);
    CHECK(m[0].body == "held");
    CHECK(m[0].get("redelivered") == "true");
}

}  // TEST_SUITE
