// Router: one delivery per subscriber at the highest QoS of its matching
// subscriptions, QoS downgrade, subscription ids, No Local, Retain As
// Published, retained store updates and nested publishes.
#include "broker/router.h"

#include "test_util.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace duplex;
using duplex::test::make_message;
using duplex::test::RecordingSubscriber;

namespace {
using Ids = std::vector<uint32_t>;
using Topics = std::vector<std::string>;
}  // namespace

TEST_SUITE("router") {

TEST_CASE("publish delivers to matching subscribers only, and counts") {
    Router router;
    RecordingSubscriber a, b, c;
    router.subscribe("x/+", &a, {});
    router.subscribe("x/y", &b, {});
    router.subscribe("z", &c, {});
    CHECK(router.subscription_count() == 3);
    auto m = make_message("x/y", "hello");
    router.publish(m, 0);
    REQUIRE(a.received.size() == 1);
    REQUIRE(b.received.size() == 1);
    CHECK(c.received.empty());
    CHECK(a.received[0].message.get() == m.get());  // shared, not copied
    CHECK(b.received[0].message.get() == m.get());
    CHECK(router.published() == 1);
    CHECK(router.deliveries() == 2);
    router.publish(make_message("nobody/here"), 0);
    CHECK(router.published() == 2);
    CHECK(router.deliveries() == 2);
}

TEST_CASE("[MQTT-3.3.4-2] delivered QoS is min(published QoS, granted QoS)") {
    Router router;
    RecordingSubscriber s0, s1, s2;
    router.subscribe("t", &s0, {.qos = 0});
    router.subscribe("t", &s1, {.qos = 1});
    router.subscribe("t", &s2, {.qos = 2});
    for (uint8_t pub = 0; pub <= 2; ++pub) router.publish(make_message("t", "p", pub), 0);
    RecordingSubscriber* subs[] = {&s0, &s1, &s2};
    for (uint8_t sub = 0; sub <= 2; ++sub) {
        REQUIRE(subs[sub]->received.size() == 3);
        for (uint8_t pub = 0; pub <= 2; ++pub) {
            CAPTURE(int(sub));
            CAPTURE(int(pub));
            CHECK(subs[sub]->received[pub].qos == std::min(pub, sub));
            CHECK(subs[sub]->received[pub].message->qos == pub);  // the message itself is unchanged
        }
    }
}

TEST_CASE("[MQTT-3.3.4-2] overlapping subscriptions deliver once at the maximum QoS") {
    Router router;
    RecordingSubscriber s;
    router.subscribe("a/b", &s, {.qos = 0});
    router.subscribe("a/+", &s, {.qos = 2});
    router.subscribe("#", &s, {.qos = 1});
    router.publish(make_message("a/b", "p", 2), 0);
    REQUIRE(s.received.size() == 1);
    CHECK(s.received[0].qos == 2);
    CHECK(router.deliveries() == 1);
    // Published at QoS 1: min(1, max(0, 2, 1)) = 1.
    router.publish(make_message("a/b", "p", 1), 0);
    REQUIRE(s.received.size() == 2);
    CHECK(s.received[1].qos == 1);
    // Only the QoS 0 and QoS 1 filters match "a": max is 1.
    router.subscribe("a", &s, {.qos = 0});
    router.publish(make_message("a", "p", 2), 0);
    REQUIRE(s.received.size() == 3);
    CHECK(s.received[2].qos == 1);
}

TEST_CASE("[MQTT-3.3.4-4] subscription identifiers of every matching subscription are sent") {
    Router router;
    RecordingSubscriber s, other;
    router.subscribe("a/b", &s, {.subscription_id = 11});
    router.subscribe("a/+", &s, {.subscription_id = 22});
    router.subscribe("a/#", &s, {});  // no identifier
    router.subscribe("#", &s, {.subscription_id = 33});
    router.subscribe("a/b", &other, {.subscription_id = 44});
    router.publish(make_message("a/b"), 0);
    REQUIRE(s.received.size() == 1);
    auto ids = s.received[0].subscription_ids;
    std::sort(ids.begin(), ids.end());
    CHECK(ids == Ids{11, 22, 33});
    REQUIRE(other.received.size() == 1);
    CHECK(other.received[0].subscription_ids == Ids{44});
    // The next publish starts from a fresh list.
    router.publish(make_message("a/c"), 0);
    REQUIRE(s.received.size() == 2);
    ids = s.received[1].subscription_ids;
    std::sort(ids.begin(), ids.end());
    CHECK(ids == Ids{22, 33});
    // A subscription without an id gives an empty list.
    RecordingSubscriber bare;
    router.subscribe("q", &bare, {});
    router.publish(make_message("q"), 0);
    REQUIRE(bare.received.size() == 1);
    CHECK(bare.received[0].subscription_ids.empty());
}

TEST_CASE("[MQTT-3.8.3-3] No Local: not delivered back to the publishing connection") {
    Router router;
    RecordingSubscriber self, peer, local_ok;
    self.set_origin_id(5);
    peer.set_origin_id(6);
    local_ok.set_origin_id(7);
    router.subscribe("t", &self, {.no_local = true});
    router.subscribe("t", &peer, {.no_local = true});
    router.subscribe("t", &local_ok, {.no_local = false});
    router.publish(make_message("t", "x", 0, false, /*origin=*/5), 0);
    CHECK(self.received.empty());
    CHECK(peer.received.size() == 1);
    CHECK(local_ok.received.size() == 1);
    router.publish(make_message("t", "x", 0, false, /*origin=*/7), 0);
    CHECK(self.received.size() == 1);
    CHECK(peer.received.size() == 2);
    CHECK(local_ok.received.size() == 2);  // no_local off: own messages come back
    // In-process messages (origin 0) reach a subscriber whose origin id is 0.
    RecordingSubscriber inproc;
    router.subscribe("t", &inproc, {.no_local = true});
    router.publish(make_message("t", "x", 0, false, 0), 0);
    CHECK(inproc.received.size() == 1);
}

TEST_CASE("[MQTT-3.8.3-3] No Local applies per subscription: another overlapping one still delivers") {
    Router router;
    RecordingSubscriber s;
    s.set_origin_id(9);
    router.subscribe("t/#", &s, {.qos = 2, .no_local = true, .subscription_id = 1});
    router.subscribe("t/+", &s, {.qos = 1, .no_local = false, .subscription_id = 2});
    router.publish(make_message("t/x", "p", 2, false, 9), 0);
    REQUIRE(s.received.size() == 1);
    CHECK(s.received[0].qos == 1);  // the No Local subscription does not contribute
    CHECK(s.received[0].subscription_ids == Ids{2});
}

TEST_CASE("[MQTT-3.3.1-12] live messages carry retain=0 unless Retain As Published") {
    Router router;
    RecordingSubscriber plain, rap;
    router.subscribe("r", &plain, {});
    router.subscribe("r", &rap, {.retain_as_published = true});
    router.publish(make_message("r", "p", 0, /*retain=*/true), 0);
    router.publish(make_message("r", "p", 0, /*retain=*/false), 0);
    REQUIRE(plain.received.size() == 2);
    REQUIRE(rap.received.size() == 2);
    CHECK_FALSE(plain.received[0].retain);
    CHECK(rap.received[0].retain);
    CHECK_FALSE(plain.received[1].retain);
    CHECK_FALSE(rap.received[1].retain);
}

TEST_CASE("[MQTT-3.3.1-13] Retain As Published from any overlapping subscription applies") {
    Router router;
    RecordingSubscriber s;
    router.subscribe("r/+", &s, {.retain_as_published = false});
    router.subscribe("r/#", &s, {.retain_as_published = true});
    router.publish(make_message("r/x", "p", 0, true), 0);
    REQUIRE(s.received.size() == 1);
    CHECK(s.received[0].retain);
    // The flag is worked out per publish: a later message matched only by a
    // filter without Retain As Published is sent with retain=0.
    router.subscribe("q", &s, {.retain_as_published = false});
    router.publish(make_message("q", "p", 0, true), 0);
    REQUIRE(s.received.size() == 2);
    CHECK_FALSE(s.received[1].retain);
}

TEST_CASE("[MQTT-3.3.1-5] retained publishes are stored and visible through retained()") {
    Router router;
    router.publish(make_message("r/a", "1", 1, true), 0);
    router.publish(make_message("r/b", "2", 0, true), 0);
    router.publish(make_message("r/c", "3", 0, false), 0);  // not retained
    CHECK(router.retained_count() == 2);
    Topics got;
    router.retained("r/#", 0, [&](const MessagePtr& m) { got.push_back(m->topic); });
    std::sort(got.begin(), got.end());
    CHECK(got == Topics{"r/a", "r/b"});
    // An empty retained payload clears and is still routed to subscribers [MQTT-3.3.1-10].
    RecordingSubscriber s;
    router.subscribe("r/a", &s, {});
    router.publish(make_message("r/a", "", 0, true), 0);
    CHECK(router.retained_count() == 1);
    CHECK(s.received.size() == 1);
}

TEST_CASE("a publish from inside deliver() is routed after the current message") {
    Router router;
    RecordingSubscriber first, second, echo_target;
    std::vector<std::string> order;
    // `first` republishes on "echo" when it sees "in".
    first.on_deliver = [&](const MessagePtr& m, const Delivery&) {
        order.push_back("first:" + m->topic);
        if (m->topic == "in") router.publish(make_message("echo", "e"), 0);
    };
    second.on_deliver = [&](const MessagePtr& m, const Delivery&) { order.push_back("second:" + m->topic); };
    echo_target.on_deliver = [&](const MessagePtr& m, const Delivery&) { order.push_back("echo:" + m->topic); };
    router.subscribe("in", &first, {});
    router.subscribe("in", &second, {});
    router.subscribe("echo", &echo_target, {});
    router.subscribe("echo", &second, {});
    router.publish(make_message("in"), 0);
    // Both subscribers of "in" get it before anyone sees "echo".
    REQUIRE(order.size() == 4);
    std::vector<std::string> head(order.begin(), order.begin() + 2);
    std::sort(head.begin(), head.end());
    CHECK(head == std::vector<std::string>{"first:in", "second:in"});
    std::vector<std::string> tail(order.begin() + 2, order.end());
    std::sort(tail.begin(), tail.end());
    CHECK(tail == std::vector<std::string>{"echo:echo", "second:echo"});
    CHECK(router.published() == 2);
    CHECK(router.deliveries() == 4);
}

TEST_CASE("nested publishes are routed in FIFO order, including deeper nesting") {
    Router router;
    RecordingSubscriber chain;
    // "n0" -> publishes "n1" and "m1"; "n1" -> publishes "n2".
    chain.on_deliver = [&](const MessagePtr& m, const Delivery&) {
        if (m->topic == "n0") {
            router.publish(make_message("n1"), 0);
            router.publish(make_message("m1"), 0);
        } else if (m->topic == "n1") {
            router.publish(make_message("n2"), 0);
        }
    };
    router.subscribe("#", &chain, {});
    router.publish(make_message("n0"), 0);
    CHECK(chain.topics() == Topics{"n0", "n1", "m1", "n2"});
    CHECK(router.published() == 4);
    // The router is usable normally afterwards.
    router.publish(make_message("after"), 0);
    CHECK(chain.topics().back() == "after");
}

TEST_CASE("a subscriber may unsubscribe itself while being delivered to") {
    Router router;
    RecordingSubscriber once, other;
    once.on_deliver = [&](const MessagePtr&, const Delivery&) { router.unsubscribe("t", &once); };
    router.subscribe("t", &once, {});
    router.subscribe("t", &other, {});
    router.publish(make_message("t"), 0);
    router.publish(make_message("t"), 0);
    CHECK(once.received.size() == 1);
    CHECK(other.received.size() == 2);
    CHECK(router.subscription_count() == 1);
}

TEST_CASE("a nested retained publish is stored immediately and routed afterwards") {
    Router router;
    RecordingSubscriber s;
    int retained_seen_during_delivery = -1;
    s.on_deliver = [&](const MessagePtr& m, const Delivery&) {
        if (m->topic == "trigger") {
            router.publish(make_message("state", "on", 1, true), 0);
            retained_seen_during_delivery = int(router.retained_count());
        }
    };
    router.subscribe("#", &s, {.qos = 1, .retain_as_published = true});
    router.publish(make_message("trigger"), 0);
    CHECK(retained_seen_during_delivery == 1);
    REQUIRE(s.received.size() == 2);
    CHECK(s.received[1].message->topic == "state");
    CHECK(s.received[1].retain);
    CHECK(s.received[1].qos == 1);
}

}  // TEST_SUITE
