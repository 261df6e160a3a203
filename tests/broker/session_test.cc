// MQTT session state through its intent-level operations: queueing (the
// policy itself is pinned in outbox_test.cc), sending within a window,
// acknowledgements in the expected state, incoming QoS 2 ids, going offline,
// packet ids.
#include "broker/session.h"

#include "broker/backpressure.h"
#include "broker/router.h"
#include "duplex/config.h"
#include "test_util.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

using namespace duplex;
using duplex::test::make_message;

namespace {

struct CountingOutput : SessionOutput {
    int has_output = 0;
    int taken_over = 0;
    void session_has_output() override { ++has_output; }
    void session_taken_over() override { ++taken_over; }
};

using Strings = std::vector<std::string>;

Strings payloads(const Session& s) {
    Strings out;
    s.for_each_queued([&](const Outgoing& o) { out.push_back(o.message->payload); });
    return out;
}

// Sends everything the window allows; returns the packet ids (0 for QoS 0).
std::vector<uint16_t> send_all(Session& s, size_t window, int64_t now = 0) {
    std::vector<uint16_t> ids;
    uint16_t id = 0;
    while (s.next_to_send(window, now, id)) {
        ids.push_back(id);
        s.sent(true, id);
    }
    return ids;
}

}  // namespace

TEST_SUITE("session") {

TEST_CASE("enqueue keeps order, options and byte count, and signals the output") {
    Limits limits;
    Session s("c1", limits);
    CHECK(s.client_id() == "c1");
    CountingOutput out;
    s.go_online(&out);
    CHECK(s.output() == &out);
    s.enqueue(make_message("a", "12345", 1), 1, true, {3, 4});
    s.enqueue(make_message("b", "xy", 2), 0, false);
    CHECK(s.queued() == 2);
    uint16_t id = 0;
    const Outgoing* o = s.next_to_send(10, 0, id);
    REQUIRE(o);
    CHECK(o->message->topic == "a");
    CHECK(o->qos == 1);
    CHECK(o->retain);
    CHECK(o->subscription_ids == std::vector<uint32_t>{3, 4});
    CHECK(id == 1);
    CHECK(s.queued_bytes() == 7);
    CHECK(out.has_output == 2);
    s.sent(true, id);
    CHECK(s.queued_bytes() == 2);
    CHECK(s.in_flight() == 1);
    o = s.next_to_send(10, 0, id);
    REQUIRE(o);
    CHECK(o->qos == 0);
    CHECK_FALSE(o->retain);
    CHECK(id == 0);
    s.sent(true, id);
    CHECK(s.in_flight() == 1);  // QoS 0 is not in flight
}

TEST_CASE("deliver queues with the delivery's QoS, retain flag and subscription ids") {
    Limits limits;
    Session s("c", limits);
    CountingOutput out;
    s.go_online(&out);
    uint32_t ids[] = {7, 8};
    s.deliver(make_message("t", "p", 2), Delivery{.qos = 1, .retain = true, .subscription_ids = ids});
    uint16_t id = 0;
    const Outgoing* o = s.next_to_send(10, 0, id);
    REQUIRE(o);
    CHECK(o->qos == 1);
    CHECK(o->retain);
    CHECK(o->subscription_ids == std::vector<uint32_t>{7, 8});
    CHECK(out.has_output == 1);
}

TEST_CASE("[MQTT-3.1.2-5] offline sessions keep QoS 1/2 messages but not QoS 0") {
    Limits limits;
    Session s("offline", limits);
    s.deliver(make_message("t", "q0", 0), Delivery{.qos = 0, .retain = false, .subscription_ids = {}});
    s.deliver(make_message("t", "q1", 1), Delivery{.qos = 1, .retain = false, .subscription_ids = {}});
    s.deliver(make_message("t", "q2", 2), Delivery{.qos = 2, .retain = false, .subscription_ids = {}});
    // Published at QoS 2 but granted QoS 0: still QoS 0, not kept.
    s.deliver(make_message("t", "q2as0", 2), Delivery{.qos = 0, .retain = false, .subscription_ids = {}});
    CHECK(payloads(s) == Strings{"q1", "q2"});
    CHECK(s.queued_bytes() == 4);
}

TEST_CASE("going offline drops queued QoS 0 (counted), keeps QoS 1/2 and in-flight state, starts the expiry clock") {
    Limits limits;
    Session s("c", limits);
    CountingOutput out;
    s.go_online(&out);
    s.set_expiry_interval(10);
    s.enqueue(make_message("t", "in-flight", 1), 1, false);
    send_all(s, 10);
    s.enqueue(make_message("t", "a0"), 0, false);
    s.enqueue(make_message("t", "b1", 1), 1, false);
    s.go_offline(1000);
    CHECK(s.output() == nullptr);
    CHECK(payloads(s) == Strings{"b1"});
    CHECK(s.dropped() == 1);
    CHECK(s.in_flight() == 1);
    CHECK_FALSE(s.expired(1000 + 9999));
    CHECK(s.expired(1000 + 10000));
    s.go_online(&out);
    CHECK_FALSE(s.expired(1000 + 10000));  // connected again
}

TEST_CASE("a live session's queue holds its publishers back; going offline releases them") {
    Backpressure bp;
    Limits limits;
    limits.max_queued_messages = 1;
    Session s("c", limits, &bp);
    CountingOutput out;
    s.go_online(&out);
    s.enqueue(make_message("t", "a", 1), 1, false);
    Outbox* congested = s.enqueue(make_message("t", "b", 1), 1, false);
    CHECK(congested == &s.outbox());
    CHECK(s.congested());
    s.go_offline(0);
    CHECK_FALSE(s.congested());
    // Offline it keeps no more than its limits: the newest over them goes, counted.
    CHECK(payloads(s) == Strings{"a"});
    CHECK(s.dropped() == 1);
    CHECK(s.enqueue(make_message("t", "c", 1), 1, false) == nullptr);  // dropped offline
    CHECK(payloads(s) == Strings{"a"});
    CHECK(s.dropped() == 2);
}

TEST_CASE("next_to_send stops at the in-flight window for QoS 1/2 but QoS 0 passes") {
    Limits limits;
    Session s("c", limits);
    CountingOutput out;
    s.go_online(&out);
    s.enqueue(make_message("t", "1a", 1), 1, false);
    s.enqueue(make_message("t", "1b", 1), 1, false);
    s.enqueue(make_message("t", "0c"), 0, false);
    CHECK(send_all(s, 1) == std::vector<uint16_t>{1});
    CHECK_FALSE(s.has_sendable(1));
    CHECK(s.acknowledge(1, InFlight::State::WaitPuback));
    CHECK(s.has_sendable(1));
    CHECK(send_all(s, 1) == std::vector<uint16_t>{2, 0});
}

TEST_CASE("[MQTT-3.3.2-5] expired messages are dropped from the queue, not sent") {
    Limits limits;
    Session s("c", limits);
    CountingOutput out;
    s.go_online(&out);
    s.enqueue(make_message("t", "old", 1, false, 0, /*expires_at_ms=*/500), 1, false);
    s.enqueue(make_message("t", "new", 1, false, 0, /*expires_at_ms=*/5000), 1, false);
    uint16_t id = 0;
    const Outgoing* o = s.next_to_send(10, 1000, id);
    REQUIRE(o);
    CHECK(o->message->payload == "new");
    CHECK(s.queued() == 1);
}

TEST_CASE("a message dropped as if sent (too big for the client) does not go in flight [MQTT-3.1.2-25]") {
    Limits limits;
    Session s("c", limits);
    CountingOutput out;
    s.go_online(&out);
    s.enqueue(make_message("t", "big", 1), 1, false);
    uint16_t id = 0;
    REQUIRE(s.next_to_send(10, 0, id));
    s.sent(false, id);
    CHECK(s.in_flight() == 0);
    CHECK(s.queued() == 0);
}

TEST_CASE("acknowledgements end a flow only for a known id in the expected state [MQTT-4.3.2] [MQTT-4.3.3]") {
    Limits limits;
    Session s("c", limits);
    CountingOutput out;
    s.go_online(&out);
    s.enqueue(make_message("t", "q1", 1), 1, false);
    s.enqueue(make_message("t", "q2", 2), 2, false);
    CHECK(send_all(s, 10) == std::vector<uint16_t>{1, 2});
    CHECK_FALSE(s.acknowledge(7, InFlight::State::WaitPuback));   // unknown id
    CHECK_FALSE(s.acknowledge(2, InFlight::State::WaitPuback));   // PUBACK for a QoS 2 message
    CHECK_FALSE(s.acknowledge(2, InFlight::State::WaitPubcomp));  // PUBCOMP before PUBREC
    CHECK_FALSE(s.received_pubrec(1));                            // PUBREC for a QoS 1 message
    CHECK(s.received_pubrec(2));
    CHECK(s.received_pubrec(2));  // a repeated PUBREC is answered again
    CHECK(s.acknowledge(2, InFlight::State::WaitPubcomp));
    CHECK(s.acknowledge(1, InFlight::State::WaitPuback));
    CHECK_FALSE(s.acknowledge(1, InFlight::State::WaitPuback));  // twice
    CHECK(s.in_flight() == 0);
}

TEST_CASE("after a reconnect in-flight messages are resent in order, PUBLISH with DUP, PUBREL as is [MQTT-4.4.0-1]") {
    Limits limits;
    Session s("c", limits);
    CountingOutput out;
    s.go_online(&out);
    s.enqueue(make_message("t", "a", 1), 1, false);
    s.enqueue(make_message("t", "b", 2), 2, false);
    send_all(s, 10);
    s.received_pubrec(2);
    struct Seen {
        uint16_t id;
        InFlight::State state;
        bool dup;
    };
    std::vector<Seen> seen;
    s.for_each_to_resend([&](const InFlight& f) { seen.push_back({f.packet_id, f.state, f.dup}); });
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].id == 1);
    CHECK(seen[0].dup);
    CHECK(seen[1].state == InFlight::State::WaitPubcomp);
    CHECK_FALSE(seen[1].dup);
}

TEST_CASE("[MQTT-4.3.3-2] incoming QoS 2 ids are recorded until PUBREL") {
    Limits limits;
    Session s("c", limits);
    CHECK_FALSE(s.awaiting_pubrel(5));
    s.record_incoming_qos2(5);
    s.record_incoming_qos2(5);
    CHECK(s.awaiting_pubrel(5));
    CHECK(s.incoming_qos2() == 1);
    CHECK(s.release_incoming_qos2(5));
    CHECK_FALSE(s.release_incoming_qos2(5));
    CHECK_FALSE(s.awaiting_pubrel(5));
}

TEST_CASE("[MQTT-2.2.1-3] packet ids count from 1, wrap from 65535 to 1 and skip ids in flight") {
    Limits limits;
    limits.max_queued_messages = 70000;
    Session s("c", limits);
    CountingOutput out;
    s.go_online(&out);
    // Ids 1..3 in flight; 2 acknowledged.
    for (int i = 0; i < 3; ++i) s.enqueue(make_message("t", "p", 1), 1, false);
    CHECK(send_all(s, 100000) == std::vector<uint16_t>{1, 2, 3});
    CHECK(s.acknowledge(2, InFlight::State::WaitPuback));
    // Send and acknowledge 4..65535 one by one: the next lap starts at 1 and
    // skips 1 and 3, still in flight.
    for (uint32_t want = 4; want <= 65535; ++want) {
        s.enqueue(make_message("t", "p", 1), 1, false);
        uint16_t id = 0;
        REQUIRE(s.next_to_send(100000, 0, id));
        REQUIRE_MESSAGE(id == want, "want " << want);
        s.sent(true, id);
        REQUIRE(s.acknowledge(id, InFlight::State::WaitPuback));
    }
    s.enqueue(make_message("t", "p", 1), 1, false);
    uint16_t id = 0;
    REQUIRE(s.next_to_send(100000, 0, id));
    CHECK(id == 2);
}

TEST_CASE("subscriptions: added once, options replaced, removed") {
    Limits limits;
    Session s("c", limits);
    SubOptions o;
    o.qos = 1;
    CHECK(s.add_subscription("a/#", o));
    o.qos = 2;
    CHECK_FALSE(s.add_subscription("a/#", o));
    CHECK(s.subscriptions().at("a/#").qos == 2);
    CHECK(s.remove_subscription("a/#"));
    CHECK_FALSE(s.remove_subscription("a/#"));
}

// Retained messages on "r/00".."r/<n-1>", payload "old-NN"; QoS 1 for odd NN
// (and for all if `all_qos1`), else QoS 0.
void store_retained(Router& r, int n, bool all_qos1 = true) {
    for (int i = 0; i < n; ++i) {
        std::string nn = (i < 10 ? "0" : "") + std::to_string(i);
        uint8_t qos = all_qos1 || i % 2 ? 1 : 0;
        r.publish(make_message("r/" + nn, "old-" + nn, qos, true), 0);
    }
}

TEST_CASE("[MQTT-3.3.1-6] every retained message reaches a new subscription, however far beyond the queue limits; none is overtaken by a later live message on its topic [MQTT-4.6.0-6]") {
    Router r;
    store_retained(r, 50);
    Backpressure bp;
    Limits limits;
    limits.max_queued_messages = 10;
    Session s("c", limits, &bp);
    CountingOutput out;
    s.go_online(&out);
    SubOptions o;
    o.qos = 1;
    o.subscription_id = 5;
    s.send_retained(r, "r/#", o, 0);
    CHECK(s.queued() == 5);  // half the limit: the other half stays for live messages
    CHECK(s.retained_pending() == 45);
    CHECK(out.has_output > 0);
    // A live message on a topic whose retained message is still waiting.
    s.enqueue(make_message("r/40", "new-40", 1), 1, false);
    CHECK(s.retained_pending() == 44);

    std::vector<std::string> got;
    size_t most_queued = 0;
    for (int guard = 0; guard < 1000; ++guard) {
        most_queued = std::max(most_queued, s.queued());
        uint16_t id = 0;
        const Outgoing* m = s.next_to_send(4, 0, id);
        if (!m) {
            if (s.in_flight() == 0) break;
            // The client acknowledges what is in flight.
            std::vector<uint16_t> ids;
            s.for_each_to_resend([&](const InFlight& f) { ids.push_back(f.packet_id); });
            for (uint16_t i : ids) REQUIRE(s.acknowledge(i, InFlight::State::WaitPuback));
            continue;
        }
        got.push_back(m->message->payload);
        if (m->message->payload.starts_with("old-")) {
            CHECK(m->retain);
            CHECK(m->qos == 1);
            CHECK(m->subscription_ids == std::vector<uint32_t>{5});
        }
        s.sent(true, id);
    }
    REQUIRE(got.size() == 51);
    std::set<std::string> distinct(got.begin(), got.end());
    CHECK(distinct.size() == 51);
    auto at = [&](const std::string& p) { return std::find(got.begin(), got.end(), p) - got.begin(); };
    CHECK(at("old-40") < at("new-40"));
    CHECK(most_queued <= limits.max_queued_messages);
    CHECK(s.dropped() == 0);
    CHECK_FALSE(s.congested());
    CHECK(s.retained_pending() == 0);
}

TEST_CASE("few retained matches are queued at once, without a backlog") {
    Router r;
    store_retained(r, 3);
    Limits limits;
    Session s("c", limits);
    CountingOutput out;
    s.go_online(&out);
    SubOptions o;
    o.qos = 1;
    s.send_retained(r, "r/#", o, 0);
    CHECK(s.queued() == 3);
    CHECK(s.retained_pending() == 0);
}

TEST_CASE("a retained backlog is replaced when its subscription is made again, keeps only QoS 1/2 offline, goes with the subscription [MQTT-3.10.4-2]") {
    Router r;
    store_retained(r, 50, false);  // 25 QoS 0, 25 QoS 1
    Limits limits;
    limits.max_queued_messages = 10;
    Session s("c", limits);
    CountingOutput out;
    s.go_online(&out);
    SubOptions o;
    o.qos = 1;
    s.add_subscription("r/#", o);
    s.send_retained(r, "r/#", o, 0);
    CHECK(s.retained_pending() == 45);
    s.send_retained(r, "r/#", o, 0);  // again: the queue is at half, everything waits
    CHECK(s.retained_pending() == 50);
    s.go_offline(0);
    CHECK(s.retained_pending() == 25);
    CHECK(s.remove_subscription("r/#"));
    CHECK(s.retained_pending() == 0);
}

TEST_CASE("at most max_retained_messages wait per session; a subscription granted QoS 0 keeps no backlog offline") {
    Router r;
    store_retained(r, 50);
    Limits limits;
    limits.max_queued_messages = 10;
    limits.max_retained_messages = 20;
    Session s("c", limits);
    CountingOutput out;
    s.go_online(&out);
    SubOptions o;
    s.send_retained(r, "r/#", o, 0);
    CHECK(s.queued() == 5);
    CHECK(s.retained_pending() == 20);
    s.go_offline(0);
    CHECK(s.retained_pending() == 0);
}

}  // TEST_SUITE
