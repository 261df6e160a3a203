// In-process tests of the MQTT connection's defences against hostile or
// broken clients (tests/support/harness.h: one Core, fake transports, no
// sockets, no sleeping): topic depth (max_topic_levels), slow consumers
// (slow_consumer_timeout), keep alive while we hold a publisher back,
// control output a client does not read, 3.1.1 QoS 2 beyond Receive
// Maximum, and the PacketIdSet those QoS 2 ids live in. Each test is named
// after the rule it pins; each would have failed (or crashed) before its fix.
#include "base/clock.h"
#include "broker/session.h"
#include "tests/support/harness.h"

#include <doctest/doctest.h>

#include <random>
#include <set>

using namespace duplex;
using namespace duplex::test;
using namespace duplex::test::mq;

namespace {

Client& connected(Harness& h, std::deque<Client>& store, std::string_view id, Version v = Version::v311,
                  std::string_view filter = {}, uint8_t qos = 0, bool clean = true) {
    Client& c = store.emplace_back(h, v);
    REQUIRE(c.connect(id, clean).reason_code == 0);
    if (!filter.empty()) REQUIRE(c.subscribe(filter, qos) == std::vector<uint8_t>{qos});
    return c;
}

std::string encode(const Packet& p, Version v) {
    std::string b;
    serialize(p, v, b);
    return b;
}

std::vector<std::string> payloads(const std::vector<Packet>& packets) {
    std::vector<std::string> out;
    for (auto& p : only<Publish>(packets)) out.emplace_back(p.payload);
    return out;
}

std::vector<Disconnect> disconnects(const std::vector<Packet>& packets) { return only<Disconnect>(packets); }

// A topic (or filter) of `levels` levels: "l/l/.../<last>".
std::string deep(size_t levels, std::string_view last = "l") {
    std::string t;
    for (size_t i = 1; i < levels; ++i) t += "l/";
    t += last;
    return t;
}

// Reads `c` as the transport would: again while the connection asked for a
// write during the last read (bounded). A connection that resumes reading
// parses the input it kept during the on_writable that resumed it, so its
// answers come in the next read.
std::vector<Packet> read_all(Client& c, int max_reads = 100) {
    std::vector<Packet> all;
    for (int i = 0; i < max_reads; ++i) {
        int requests = c.peer.transport.write_requests;
        auto got = c.receive();
        all.insert(all.end(), got.begin(), got.end());
        if (got.empty() && c.peer.transport.write_requests == requests) break;
    }
    return all;
}

Config slow_config(size_t max_queued = 10, int slow_timeout = 1) {
    Config cfg = test_config();
    cfg.limits.max_queued_messages = max_queued;
    cfg.limits.slow_consumer_timeout = slow_timeout;
    return cfg;
}

// `n` QoS 1 publishes on `topic` in one burst (one on_data), ids from 1.
std::string qos1_burst(int n, std::string_view topic = "t", Version v = Version::v311) {
    std::string b;
    for (int i = 1; i <= n; ++i)
        b += encode(publish_packet(topic, "m" + std::to_string(i), 1, static_cast<uint16_t>(i)), v);
    return b;
}

}  // namespace

TEST_SUITE("mqtt hardening") {

// --- max_topic_levels --------------------------------------------------------

TEST_CASE("max_topic_levels: a 3.1.1 SUBSCRIBE to a deeper filter gets SUBACK failure 0x80, the connection stays") {
    Harness h;
    std::deque<Client> cs;
    Client& c = connected(h, cs, "c");
    CHECK(c.subscribe(deep(201)) == std::vector<uint8_t>{0x80});
    CHECK(c.subscribe(std::string(65000, '/'), 0, 2) == std::vector<uint8_t>{0x80});
    CHECK_FALSE(c.peer.transport.closed());
    // Still a working connection.
    CHECK(c.subscribe("ok/t", 1, 3) == std::vector<uint8_t>{1});
    c.send(Pingreq{});
    CHECK(only<Pingresp>(c.receive()).size() == 1);
}

TEST_CASE("max_topic_levels: an MQTT 5 SUBSCRIBE to a deeper filter gets SUBACK 0x8F (Topic Filter invalid)") {
    Harness h;
    std::deque<Client> cs;
    Client& c = connected(h, cs, "c", Version::v5);
    CHECK(c.subscribe(deep(201)) == std::vector<uint8_t>{0x8F});
    CHECK(c.subscribe(std::string(65000, '/'), 0, 2) == std::vector<uint8_t>{0x8F});
    CHECK_FALSE(c.peer.transport.closed());
    CHECK(c.subscribe("ok/t", 1, 3) == std::vector<uint8_t>{1});
}

TEST_CASE("max_topic_levels: a 65,000-level filter then a publish walking it is refused; the broker and other clients go on") {
    // Before the fix the subscription was taken and the publish recursed
    // once per level through the matcher: a stack overflow (SIGSEGV).
    Harness h;
    std::deque<Client> cs;
    Client& watcher = connected(h, cs, "watcher", Version::v311, "#");
    Client& hostile = connected(h, cs, "hostile", Version::v5);
    const std::string slashes(65000, '/');
    CHECK(hostile.subscribe(slashes) == std::vector<uint8_t>{0x8F});
    hostile.send(publish_packet(slashes, "x", 0));
    auto d = disconnects(hostile.receive());
    REQUIRE(d.size() == 1);
    CHECK(d[0].reason_code == 0x90);  // Topic Name invalid
    CHECK(hostile.peer.transport.closed());
    CHECK(only<Publish>(watcher.receive()).empty());  // not routed

    // Everybody else is unaffected.
    Client& pub = connected(h, cs, "pub");
    pub.send(publish_packet("a/b", "after", 1, 1));
    CHECK(acks(pub.receive(), PacketType::Puback).size() == 1);
    CHECK(payloads(watcher.receive()) == std::vector<std::string>{"after"});
    CHECK_FALSE(watcher.peer.transport.closed());
}

TEST_CASE("max_topic_levels: a 3.1.1 PUBLISH on a deeper topic closes that client only (no packet: 3.1.1 has no DISCONNECT)") {
    Harness h;
    std::deque<Client> cs;
    Client& watcher = connected(h, cs, "watcher", Version::v311, "#");
    Client& hostile = connected(h, cs, "hostile");
    hostile.send(publish_packet(deep(201), "x", 1, 1));
    CHECK(hostile.receive().empty());
    CHECK(hostile.peer.transport.closed());
    CHECK(only<Publish>(watcher.receive()).empty());
    Client& pub = connected(h, cs, "pub");
    pub.send(publish_packet("a", "fine", 0));
    CHECK(payloads(watcher.receive()) == std::vector<std::string>{"fine"});
}

TEST_CASE("max_topic_levels: an MQTT 5 PUBLISH on a deeper topic gets DISCONNECT 0x90 and is not routed") {
    Harness h;
    std::deque<Client> cs;
    Client& watcher = connected(h, cs, "watcher", Version::v5, "#");
    Client& hostile = connected(h, cs, "hostile", Version::v5);
    hostile.send(publish_packet(deep(201), "x", 1, 1));
    auto d = disconnects(hostile.receive());
    REQUIRE(d.size() == 1);
    CHECK(d[0].reason_code == 0x90);
    CHECK(hostile.peer.transport.closed());
    CHECK(only<Publish>(watcher.receive()).empty());
    CHECK_FALSE(watcher.peer.transport.closed());
}

TEST_CASE("max_topic_levels: a filter and a topic of exactly 200 levels work end to end") {
    Harness h;
    std::deque<Client> cs;
    const std::string topic = deep(200, "end");
    std::string wild;  // "+/+/.../#": 200 levels too
    for (int i = 1; i < 200; ++i) wild += "+/";
    wild += "#";
    Client& exact = connected(h, cs, "exact", Version::v311, topic, 1);
    Client& wildcard = connected(h, cs, "wild", Version::v5, wild, 1);
    Client& pub = connected(h, cs, "pub", Version::v5);
    pub.send(publish_packet(topic, "deep", 1, 1, /*retain=*/true));
    auto a = acks(pub.receive(), PacketType::Puback);
    REQUIRE(a.size() == 1);
    CHECK(a[0].reason_code == 0);
    CHECK_FALSE(pub.peer.transport.closed());
    auto e = only<Publish>(exact.receive());
    REQUIRE(e.size() == 1);
    CHECK(e[0].topic == topic);
    CHECK(e[0].payload == "deep");
    auto w = only<Publish>(wildcard.receive());
    REQUIRE(w.size() == 1);
    CHECK(w[0].topic == topic);
    // The retained store walks 200 levels too.
    Client& late = connected(h, cs, "late");
    CHECK(late.subscribe(wild, 0) == std::vector<uint8_t>{0});
    CHECK(payloads(late.last) == std::vector<std::string>{"deep"});
}

// --- slow_consumer_timeout -----------------------------------------------------

TEST_CASE("slow consumer: a QoS 1 publisher to a subscriber that never reads is held back, then the subscriber is cut off (MQTT 5 DISCONNECT 0x97) and the publisher released") {
    Harness h(slow_config());
    std::deque<Client> cs;
    Client& slow = connected(h, cs, "slow", Version::v5, "#", 1);  // never read from here on
    Client& watcher = connected(h, cs, "watcher", Version::v311, "w/#");
    Client& pub = connected(h, cs, "pub");
    pub.send_raw(qos1_burst(30));
    // 10 queued (the limit), the 11th over it: the publisher stops reading.
    CHECK(pub.peer.transport.paused);
    REQUIRE_FALSE(pub.peer.transport.pause_calls.empty());
    CHECK(pub.peer.transport.pause_calls.front() == true);
    auto first = acks(pub.receive(), PacketType::Puback);
    CHECK(first.size() < 30);  // the rest of the burst waits unparsed
    CHECK(pub.peer.transport.paused);

    const int64_t t0 = now_ms();
    slow.peer.tick(t0 + 500);  // within slow_consumer_timeout
    CHECK_FALSE(slow.peer.transport.closed());
    CHECK(pub.peer.transport.paused);

    slow.peer.tick(t0 + 1500);
    CHECK(slow.peer.transport.closed());
    auto d = disconnects(slow.receive());
    REQUIRE(d.size() == 1);
    CHECK(d[0].reason_code == 0x97);  // Quota exceeded

    // Released: it reads again and every QoS 1 publish is acknowledged.
    auto rest = acks(read_all(pub), PacketType::Puback);
    CHECK(first.size() + rest.size() == 30);
    CHECK_FALSE(pub.peer.transport.paused);
    CHECK(pub.peer.transport.pause_calls.back() == false);
    CHECK_FALSE(pub.peer.transport.closed());
    // And it goes on publishing normally.
    pub.send(publish_packet("w/x", "later", 1, 31));
    CHECK(acks(pub.receive(), PacketType::Puback).size() == 1);
    CHECK(payloads(watcher.receive()) == std::vector<std::string>{"later"});
}

TEST_CASE("slow consumer: a 3.1.1 subscriber that stays congested past slow_consumer_timeout is closed (no packet) and the publisher released") {
    Harness h(slow_config());
    std::deque<Client> cs;
    Client& slow = connected(h, cs, "slow", Version::v311, "#", 1);
    Client& pub = connected(h, cs, "pub", Version::v5);
    pub.send_raw(qos1_burst(30, "t", Version::v5));
    CHECK(pub.peer.transport.paused);
    auto first = acks(pub.receive(), PacketType::Puback);
    slow.peer.tick(now_ms() + 1500);
    CHECK(slow.peer.transport.closed());
    CHECK(disconnects(slow.receive()).empty());
    auto rest = acks(read_all(pub), PacketType::Puback);
    CHECK(first.size() + rest.size() == 30);
    CHECK_FALSE(pub.peer.transport.paused);
    CHECK_FALSE(pub.peer.transport.closed());
}

TEST_CASE("slow consumer: QoS 0 goes first; a subscriber that is within half its limits once its QoS 0 is dropped stays connected") {
    Config cfg = slow_config();
    cfg.limits.max_inflight = 2;  // so a little reading leaves the queue congested
    Harness h(cfg);
    std::deque<Client> cs;
    Client& sub = connected(h, cs, "sub", Version::v5, "#", 1);
    Client& pub = connected(h, cs, "pub");
    Client& pub0 = connected(h, cs, "pub0");
    pub.send_raw(qos1_burst(11));  // 11 queued: congested, pub held
    REQUIRE(pub.peer.transport.paused);
    // The subscriber takes 2 (its window): 9 queued, still congested
    // (released only at half, 5), so QoS 0 is admitted again.
    auto got = only<Publish>(sub.receive());
    REQUIRE(got.size() == 2);
    pub0.send(publish_packet("q0", "zero", 0));
    for (int round = 0; round < 2; ++round) {  // 2 more each: 6 queued, 1 of them QoS 0
        for (auto& p : got) sub.send(ack(PacketType::Puback, p.packet_id));
        got = only<Publish>(sub.receive());
        REQUIRE(got.size() == 2);
    }
    REQUIRE(pub.peer.transport.paused);  // 6 > 5: still congested

    sub.peer.tick(now_ms() + 1500);
    // Dropping the one QoS 0 message brought it to 5: released, not cut off.
    CHECK_FALSE(sub.peer.transport.closed());
    CHECK(disconnects(sub.receive()).empty());
    read_all(pub);
    CHECK_FALSE(pub.peer.transport.paused);
    // The QoS 0 message is gone, the QoS 1 ones all arrive.
    std::vector<std::string> rest;
    for (int i = 0; i < 20; ++i) {
        for (auto& p : got) sub.send(ack(PacketType::Puback, p.packet_id));
        got = only<Publish>(sub.receive());
        if (got.empty()) break;
        for (auto& p : got) rest.emplace_back(p.payload);
    }
    CHECK(std::find(rest.begin(), rest.end(), "zero") == rest.end());
    CHECK(rest.size() == 5);  // m7..m11
}

TEST_CASE("slow consumer: a persistent session cut off for it keeps at most max_queued_messages") {
    Harness h(slow_config());
    std::deque<Client> cs;
    Client& slow = connected(h, cs, "persist", Version::v311, "#", 1, /*clean=*/false);
    Client& pub = connected(h, cs, "pub");
    pub.send_raw(qos1_burst(30));
    REQUIRE(pub.peer.transport.paused);
    auto first = acks(pub.receive(), PacketType::Puback);
    slow.peer.tick(now_ms() + 1500);
    REQUIRE(slow.peer.transport.closed());
    slow.peer.drop();
    auto rest = acks(read_all(pub), PacketType::Puback);
    CHECK(first.size() + rest.size() == 30);
    CHECK_FALSE(pub.peer.transport.paused);

    Client& back = cs.emplace_back(h);
    Connack a = back.connect("persist", false);
    REQUIRE(a.reason_code == 0);
    CHECK(a.session_present);
    auto got = payloads(back.last);
    auto more = payloads(read_all(back));
    got.insert(got.end(), more.begin(), more.end());
    CHECK(got.size() >= 1);
    CHECK(got.size() <= 10);
    CHECK(std::set<std::string>(got.begin(), got.end()).size() == got.size());  // each once
    if (!got.empty()) CHECK(got.front() == "m1");  // oldest kept, newest dropped
}

// --- keep alive while held back -------------------------------------------------

TEST_CASE("keep alive: a publisher held back (we are not reading it) is not timed out, and its will is not published") {
    Config cfg = slow_config(10, 0);  // no slow-consumer cut-off: it stays held
    Harness h(cfg);
    std::deque<Client> cs;
    Client& slow = connected(h, cs, "slow", Version::v311, "t", 1);
    Client& watcher = connected(h, cs, "watcher", Version::v311, "wills/#");
    Client& pub = cs.emplace_back(h, Version::v5);
    Connect c = connect_packet("pub", Version::v5, true, 10);
    c.will = true;
    c.will_topic = "wills/pub";
    c.will_payload = "gone";
    REQUIRE(pub.connect(c).reason_code == 0);
    pub.send_raw(qos1_burst(20, "t", Version::v5));
    REQUIRE(pub.peer.transport.paused);
    pub.receive();

    const int64_t t0 = now_ms();
    for (int64_t t = 5000; t <= 120000; t += 5000) pub.peer.tick(t0 + t);  // 12 x its keep alive
    CHECK_FALSE(pub.peer.transport.closed());
    CHECK(disconnects(pub.receive()).empty());
    CHECK(payloads(watcher.receive()).empty());
    CHECK(pub.peer.transport.paused);

    // Once the subscriber reads, the publisher is released and goes on.
    for (int i = 0; i < 10; ++i) {
        auto got = only<Publish>(slow.receive());
        if (got.empty()) break;
        for (auto& p : got) slow.send(ack(PacketType::Puback, p.packet_id));
    }
    read_all(pub);
    CHECK_FALSE(pub.peer.transport.paused);
    CHECK_FALSE(pub.peer.transport.closed());
}

// --- control output a client does not read ------------------------------------------

TEST_CASE("control output: a client that sends PINGREQs and never reads is paused past 64 KiB owed and resumed once drained; 100,000 of them are all answered") {
    // 100,000 PINGREQs in one read. Before the fix every PINGRESP was queued
    // (no pause) and each seal() walked the whole queue: quadratic, minutes
    // for this test. Now at most ~64 KiB is owed, then the input waits.
    constexpr int kPings = 100000;
    Harness h;
    std::deque<Client> cs;
    Client& c = connected(h, cs, "pinger");
    std::string burst;
    burst.reserve(2 * kPings);
    for (int i = 0; i < kPings; ++i) burst += encode(Pingreq{}, Version::v311);
    c.send_raw(burst);
    CHECK(c.peer.transport.paused);
    REQUIRE_FALSE(c.peer.transport.pause_calls.empty());
    CHECK(c.peer.transport.pause_calls.front() == true);

    const std::string first = c.peer.read();
    CHECK(first.size() / 2 < size_t(kPings));      // not all answered before we read
    CHECK(first.size() >= 16 * 1024);              // but about 64 KiB worth (with framing)
    CHECK(first.size() <= 64 * 1024 + 1024);
    size_t answered = first.size() / 2;
    for (int i = 0; i < 1000 && answered < size_t(kPings); ++i) {
        std::string more = c.peer.read();
        if (more.empty()) break;
        answered += more.size() / 2;
    }
    CHECK(answered == size_t(kPings));
    CHECK_FALSE(c.peer.transport.paused);
    CHECK(c.peer.transport.pause_calls.back() == false);
    CHECK_FALSE(c.peer.transport.closed());
    c.send(Pingreq{});
    CHECK(only<Pingresp>(c.receive()).size() == 1);
}

// --- MQTT 3.1.1 QoS 2 beyond receive_maximum ------------------------------------------

TEST_CASE("QoS 2: a 3.1.1 client may keep more than receive_maximum publishes unreleased; its PUBRELs then complete every flow") {
    Harness h;  // receive_maximum 64
    std::deque<Client> cs;
    Client& sub = connected(h, cs, "sub", Version::v311, "q2", 0);
    Client& pub = connected(h, cs, "pub");
    std::string burst;
    for (uint16_t i = 1; i <= 100; ++i) burst += encode(publish_packet("q2", "m" + std::to_string(i), 2, i), Version::v311);
    pub.send_raw(burst);
    auto recs = acks(read_all(pub), PacketType::Pubrec);
    CHECK(recs.size() == 100);
    CHECK_FALSE(pub.peer.transport.closed());
    CHECK(payloads(sub.receive()).size() == 100);

    // A repeat (DUP) of an unreleased id is acknowledged, not routed again.
    Publish dup = publish_packet("q2", "m7", 2, 7);
    dup.dup = true;
    pub.send(dup);
    CHECK(acks(pub.receive(), PacketType::Pubrec).size() == 1);
    CHECK(payloads(sub.receive()).empty());

    std::string rels;
    for (uint16_t i = 1; i <= 100; ++i) rels += encode(ack(PacketType::Pubrel, i), Version::v311);
    pub.send_raw(rels);
    auto comps = acks(read_all(pub), PacketType::Pubcomp);
    REQUIRE(comps.size() == 100);
    std::set<uint16_t> ids;
    for (auto& a : comps) ids.insert(a.packet_id);
    CHECK(ids.size() == 100);
    CHECK(*ids.begin() == 1);
    CHECK(*ids.rbegin() == 100);
    CHECK_FALSE(pub.peer.transport.closed());
    // The ids are free again: reusing one routes a new message.
    pub.send(publish_packet("q2", "again", 2, 1));
    CHECK(acks(pub.receive(), PacketType::Pubrec).size() == 1);
    CHECK(payloads(sub.receive()) == std::vector<std::string>{"again"});
}

TEST_CASE("QoS 2: an MQTT 5 client beyond receive_maximum (64) unreleased gets DISCONNECT 0x93") {
    Harness h;
    std::deque<Client> cs;
    Client& pub = connected(h, cs, "pub", Version::v5);
    std::string burst;
    for (uint16_t i = 1; i <= 64; ++i) burst += encode(publish_packet("q2", "m", 2, i), Version::v5);
    pub.send_raw(burst);
    CHECK(acks(read_all(pub), PacketType::Pubrec).size() == 64);
    CHECK_FALSE(pub.peer.transport.closed());
    pub.send(publish_packet("q2", "m", 2, 65));
    auto d = disconnects(pub.receive());
    REQUIRE(d.size() == 1);
    CHECK(d[0].reason_code == 0x93);  // Receive Maximum exceeded
    CHECK(pub.peer.transport.closed());
}

// --- PacketIdSet ------------------------------------------------------------------

TEST_CASE("PacketIdSet: small form up to 64 ids, bitmap beyond, back to small when empty; agrees with std::set") {
    PacketIdSet s;
    CHECK(s.size() == 0);
    for (uint16_t i = 0; i < PacketIdSet::kSmall; ++i) s.insert(static_cast<uint16_t>(i * 1000 + 1));
    CHECK(s.size() == 64);
    s.insert(1);  // a repeat does not count
    CHECK(s.size() == 64);
    s.insert(65535);  // the 65th: bitmap form
    s.insert(0);
    CHECK(s.size() == 66);
    for (uint16_t i = 0; i < PacketIdSet::kSmall; ++i) CHECK(s.count(static_cast<uint16_t>(i * 1000 + 1)) == 1);
    CHECK(s.count(65535) == 1);
    CHECK(s.count(0) == 1);
    CHECK(s.count(2) == 0);
    s.insert(65535);
    CHECK(s.size() == 66);
    CHECK(s.erase(2) == 0);
    CHECK(s.erase(65535) == 1);
    CHECK(s.erase(65535) == 0);
    CHECK(s.erase(0) == 1);
    for (uint16_t i = 0; i < PacketIdSet::kSmall; ++i) CHECK(s.erase(static_cast<uint16_t>(i * 1000 + 1)) == 1);
    CHECK(s.size() == 0);
    // Empty again, in its small form: it works as before.
    s.insert(42);
    CHECK(s.size() == 1);
    CHECK(s.count(42) == 1);
    CHECK(s.count(43) == 0);
    CHECK(s.erase(42) == 1);
    CHECK(s.size() == 0);

    // All 65,536 ids in, all out.
    for (uint32_t i = 0; i <= 65535; ++i) s.insert(static_cast<uint16_t>(i));
    CHECK(s.size() == 65536);
    for (uint32_t i = 0; i <= 65535; ++i) REQUIRE(s.erase(static_cast<uint16_t>(i)) == 1);
    CHECK(s.size() == 0);

    // Random operations across the whole id space and around the switch.
    std::mt19937 rng(20240601);
    for (int phase = 0; phase < 4; ++phase) {
        PacketIdSet ids;
        std::set<uint16_t> ref;
        // Narrow ranges cross the 64-id boundary both ways often.
        const uint32_t range = phase == 0 ? 100 : phase == 1 ? 200 : 65536;
        const int target = phase == 3 ? 5000 : 80;
        for (int step = 0; step < 200000; ++step) {
            uint16_t id = static_cast<uint16_t>(rng() % range);
            if (phase == 1) id = static_cast<uint16_t>(id * 327);  // spread over the space
            int op = static_cast<int>(rng() % 3);
            // Lean towards `target` ids so both forms get long runs.
            if (op == 2) op = ref.size() < size_t(target) ? 0 : 1;
            if (op == 1 && !ref.empty() && rng() % 2) {  // often an id that is in
                auto it = ref.lower_bound(id);
                id = it == ref.end() ? *ref.begin() : *it;
            }
            if (op == 0) {
                ids.insert(id);
                ref.insert(id);
            } else {
                REQUIRE(ids.erase(id) == ref.erase(id));
            }
            REQUIRE(ids.size() == ref.size());
            uint16_t probe = static_cast<uint16_t>(rng() % range);
            if (phase == 1) probe = static_cast<uint16_t>(probe * 327);
            REQUIRE(ids.count(probe) == ref.count(probe));
            REQUIRE(ids.count(id) == ref.count(id));
        }
        for (uint16_t id : ref) REQUIRE(ids.count(id) == 1);
        // Drain to empty and refill: the way back to the small form.
        for (uint16_t id : std::vector<uint16_t>(ref.begin(), ref.end())) REQUIRE(ids.erase(id) == 1);
        CHECK(ids.size() == 0);
        for (uint32_t i = 0; i <= 65535; i += 4099) CHECK(ids.count(static_cast<uint16_t>(i)) == 0);
        ids.insert(7);
        CHECK(ids.size() == 1);
        CHECK(ids.count(7) == 1);
    }
}

}  // TEST_SUITE
