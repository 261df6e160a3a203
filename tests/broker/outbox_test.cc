// The one outbox (broker/outbox.h): its drop policy, backpressure and
// release, the same for MQTT sessions, STOMP subscriptions and queues.
#include "broker/outbox.h"

#include "broker/backpressure.h"
#include "duplex/config.h"
#include "test_util.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace duplex;
using duplex::test::make_message;

namespace {

using Strings = std::vector<std::string>;

Outgoing entry(std::string payload, uint8_t qos) {
    Outgoing o;
    o.message = make_message("t", std::move(payload), qos);
    o.qos = qos;
    return o;
}

Strings payloads(const Outbox::Lane& lane) {
    Strings out;
    lane.for_each([&](const Outgoing& o) { out.push_back(o.message->payload); });
    return out;
}

// A publisher that counts how it is paused and woken.
struct Publisher final : HeldPublisher {
    explicit Publisher(Backpressure& b) : HeldPublisher(b) {}
    std::vector<bool> pauses;
    int wakes = 0;
    void pause_input(bool pause) override { pauses.push_back(pause); }
    void wake() override { ++wakes; }
};

}  // namespace

TEST_SUITE("outbox") {

TEST_CASE("within the limits every message is kept, in order, with its bytes counted") {
    Limits limits;
    Outbox box(limits, nullptr);
    Outbox::Lane lane(box);
    CHECK(box.offer(lane, entry("a0", 0)) == Outbox::Admit::Queued);
    CHECK(box.offer(lane, entry("bb1", 1)) == Outbox::Admit::Queued);
    CHECK(payloads(lane) == Strings{"a0", "bb1"});
    CHECK(box.messages() == 2);
    CHECK(box.bytes() == 5);
    Outgoing first = lane.pop_front();
    CHECK(first.message->payload == "a0");
    CHECK(box.messages() == 1);
    CHECK(box.bytes() == 3);
}

TEST_CASE("over max_queued_messages: QoS 0 goes first, oldest first") {
    Limits limits;
    limits.max_queued_messages = 3;
    Outbox box(limits, nullptr);
    Outbox::Lane lane(box);
    box.offer(lane, entry("a0", 0));
    box.offer(lane, entry("b1", 1));
    box.offer(lane, entry("c0", 0));
    CHECK(box.offer(lane, entry("d1", 1)) == Outbox::Admit::Queued);  // evicts a0
    CHECK(payloads(lane) == Strings{"b1", "c0", "d1"});
    CHECK(box.dropped() == 1);
    box.offer(lane, entry("e0", 0));  // a QoS 0 may evict an older QoS 0
    CHECK(payloads(lane) == Strings{"b1", "d1", "e0"});
    box.offer(lane, entry("f2", 2));
    CHECK(payloads(lane) == Strings{"b1", "d1", "f2"});
    CHECK(box.dropped() == 3);
    CHECK(box.bytes() == 6);
}

TEST_CASE("with only reliable messages queued and nobody to hold, the incoming message is dropped and counted") {
    Limits limits;
    limits.max_queued_messages = 2;
    Outbox box(limits, nullptr);
    box.set_live(true);
    Outbox::Lane lane(box);
    box.offer(lane, entry("a1", 1));
    box.offer(lane, entry("b2", 2));
    CHECK(box.offer(lane, entry("c1", 1)) == Outbox::Admit::Dropped);
    CHECK(box.offer(lane, entry("d0", 0)) == Outbox::Admit::Dropped);
    CHECK(payloads(lane) == Strings{"a1", "b2"});
    CHECK(box.dropped() == 2);
    lane.pop_front();
    CHECK(box.offer(lane, entry("e1", 1)) == Outbox::Admit::Queued);
    CHECK(payloads(lane) == Strings{"b2", "e1"});
}

TEST_CASE("max_queued_bytes: QoS 0 payloads are dropped until the new one fits, not when that cannot help") {
    Limits limits;
    limits.max_queued_bytes = 10;
    Outbox box(limits, nullptr);
    Outbox::Lane lane(box);
    box.offer(lane, entry("0aaa", 0));
    box.offer(lane, entry("1bbb", 1));
    box.offer(lane, entry("0cc", 0));  // 11 > 10: evicts 0aaa
    CHECK(payloads(lane) == Strings{"1bbb", "0cc"});
    box.offer(lane, entry("1dd", 1));  // 10 fits exactly
    CHECK(box.bytes() == 10);
    box.offer(lane, entry("1e", 1));  // evicts 0cc
    CHECK(payloads(lane) == Strings{"1bbb", "1dd", "1e"});
    CHECK(box.offer(lane, entry("1ff", 1)) == Outbox::Admit::Dropped);  // nothing to evict
    CHECK(box.dropped() == 2 + 1);
    CHECK(box.offer(lane, entry("", 1)) == Outbox::Admit::Queued);  // an empty payload always fits
    CHECK(lane.size() == 4);

    // QoS 0 messages are not evicted when that still cannot make room.
    Outbox box2(limits, nullptr);
    Outbox::Lane lane2(box2);
    box2.offer(lane2, entry("0a", 0));
    box2.offer(lane2, entry("1bbbbbb", 1));
    CHECK(box2.offer(lane2, entry("1ccc", 1)) == Outbox::Admit::Dropped);
    CHECK(payloads(lane2) == Strings{"0a", "1bbbbbb"});
    CHECK(box2.dropped() == 1);
}

TEST_CASE("lanes share one quota; the drop policy walks them all; a lane that goes takes its accounting") {
    Limits limits;
    limits.max_queued_messages = 3;
    Outbox box(limits, nullptr);
    Outbox::Lane a(box);
    auto b = std::make_unique<Outbox::Lane>(box);
    box.offer(a, entry("a1", 1));
    box.offer(*b, entry("b0", 0));
    box.offer(*b, entry("b1", 1));
    CHECK(box.offer(a, entry("a2", 1)) == Outbox::Admit::Queued);  // evicts b0 from the other lane
    CHECK(payloads(a) == Strings{"a1", "a2"});
    CHECK(payloads(*b) == Strings{"b1"});
    CHECK(box.messages() == 3);
    b.reset();
    CHECK(box.messages() == 2);
    CHECK(box.bytes() == 4);
}

TEST_CASE("a live outbox keeps reliable messages up to twice its limits, holds the publisher, releases at half") {
    Backpressure bp;
    Limits limits;
    limits.max_queued_messages = 2;
    Outbox box(limits, &bp);
    box.set_live(true);
    Outbox::Lane lane(box);
    Publisher pub(bp);
    box.offer(lane, entry("a", 1));
    box.offer(lane, entry("b", 1));
    CHECK_FALSE(box.congested());
    CHECK(box.offer(lane, entry("c", 1)) == Outbox::Admit::Held);
    CHECK(box.congested());
    Outbox* congested[] = {&box};
    pub.hold(congested);
    CHECK(pub.held());
    CHECK(pub.pauses == std::vector<bool>{true});
    CHECK(box.offer(lane, entry("d", 2)) == Outbox::Admit::Held);
    CHECK(box.offer(lane, entry("e", 1)) == Outbox::Admit::Dropped);  // twice the limit
    CHECK(box.offer(lane, entry("f", 0)) == Outbox::Admit::Dropped);  // QoS 0 never beyond it
    CHECK(payloads(lane) == Strings{"a", "b", "c", "d"});
    lane.pop_front();
    lane.pop_front();
    CHECK(box.congested());  // 2 > half of 2
    CHECK(pub.wakes == 0);
    lane.pop_front();
    CHECK_FALSE(box.congested());  // 1 <= 1: released by the outbox itself
    CHECK(pub.wakes == 1);
    CHECK_FALSE(pub.held());
    CHECK(pub.take_resume());
    CHECK_FALSE(pub.take_resume());  // once
    CHECK(bp.waiting_outboxes() == 0);
}

TEST_CASE("an outbox that is not live drops reliable messages at its limits and holds nobody") {
    Backpressure bp;
    Limits limits;
    limits.max_queued_messages = 1;
    Outbox box(limits, &bp);
    Outbox::Lane lane(box);
    box.offer(lane, entry("a", 1));
    CHECK(box.offer(lane, entry("b", 1)) == Outbox::Admit::Dropped);
    CHECK_FALSE(box.congested());
}

TEST_CASE("going offline, or going away, releases the publishers held for an outbox") {
    Backpressure bp;
    Limits limits;
    limits.max_queued_messages = 1;
    Publisher pub(bp);
    {
        Outbox box(limits, &bp);
        box.set_live(true);
        Outbox::Lane lane(box);
        box.offer(lane, entry("a", 1));
        REQUIRE(box.offer(lane, entry("b", 1)) == Outbox::Admit::Held);
        Outbox* c[] = {&box};
        pub.hold(c);
        box.set_live(false);
        CHECK(pub.wakes == 1);
        CHECK_FALSE(pub.held());
        REQUIRE(box.offer(lane, entry("c", 0)) == Outbox::Admit::Dropped);
        box.set_live(true);
        lane.pop_front();
        REQUIRE(box.offer(lane, entry("d", 1)) == Outbox::Admit::Held);
        pub.hold(c);
    }  // destroyed while congested
    CHECK(pub.wakes == 2);
    CHECK_FALSE(pub.held());
    CHECK(bp.waiting_outboxes() == 0);
}

TEST_CASE("a publisher held by two outboxes resumes only when both released it; forgetting it unregisters") {
    Backpressure bp;
    Limits limits;
    limits.max_queued_messages = 1;
    Outbox x(limits, &bp), y(limits, &bp);
    x.set_live(true);
    y.set_live(true);
    Outbox::Lane lx(x), ly(y);
    x.offer(lx, entry("a", 1));
    y.offer(ly, entry("a", 1));
    REQUIRE(x.offer(lx, entry("b", 1)) == Outbox::Admit::Held);
    REQUIRE(y.offer(ly, entry("b", 1)) == Outbox::Admit::Held);
    Outbox* both[] = {&x, &y};
    {
        Publisher pub(bp);
        pub.hold(both);
        lx.pop_front();
        lx.pop_front();
        CHECK(pub.held());
        CHECK(pub.wakes == 0);
        ly.pop_front();
        ly.pop_front();
        CHECK_FALSE(pub.held());
        CHECK(pub.wakes == 1);
        CHECK(pub.pauses == std::vector<bool>{true});
        x.offer(lx, entry("c", 1));
        REQUIRE(x.offer(lx, entry("d", 1)) == Outbox::Admit::Held);
        Outbox* one[] = {&x};
        pub.hold(one);
    }  // the publisher goes first
    CHECK(bp.waiting_outboxes() == 0);
    lx.pop_front();  // releasing finds nobody: no use after free (ASan)
}

TEST_CASE("drop_qos0 drops every QoS 0 message of every lane and counts them") {
    Limits limits;
    Outbox box(limits, nullptr);
    Outbox::Lane a(box), b(box);
    box.offer(a, entry("a0", 0));
    box.offer(a, entry("a1", 1));
    box.offer(b, entry("b0", 0));
    box.drop_qos0();
    CHECK(payloads(a) == Strings{"a1"});
    CHECK(b.empty());
    CHECK(box.dropped() == 2);
    CHECK(box.messages() == 1);
}

TEST_CASE("a message handed back goes in front and is never dropped; take_all empties a lane in order") {
    Limits limits;
    limits.max_queued_messages = 1;
    Outbox box(limits, nullptr);
    Outbox::Lane lane(box);
    box.offer(lane, entry("a", 1));
    lane.push_front(entry("back", 1));  // over the limit: kept anyway
    CHECK(payloads(lane) == Strings{"back", "a"});
    std::vector<Outgoing> all = lane.take_all();
    REQUIRE(all.size() == 2);
    CHECK(all[0].message->payload == "back");
    CHECK(lane.empty());
    CHECK(box.messages() == 0);
    CHECK(box.bytes() == 0);
}

}  // TEST_SUITE
