// MQTT session state: queueing and its limits, packet ids, in-flight lookup.
#include "broker/session.h"

#include "duplex/config.h"
#include "test_util.h"

#include <doctest/doctest.h>

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

std::vector<std::string> payloads(const Session& s) {
    std::vector<std::string> out;
    for (auto& o : s.queue) out.push_back(o.message->payload);
    return out;
}

using Strings = std::vector<std::string>;

Outbound inflight_entry(uint16_t id, Outbound::State state = Outbound::State::WaitPuback) {
    Outbound o;
    o.message = make_message("t", "p", 1);
    o.qos = 1;
    o.packet_id = id;
    o.state = state;
    return o;
}

}  // namespace

TEST_SUITE("session") {

TEST_CASE("enqueue keeps order, options and byte count, and signals the output") {
    Limits limits;
    Session s("c1", limits);
    CHECK(s.client_id() == "c1");
    CountingOutput out;
    s.attach(&out);
    CHECK(s.output() == &out);
    s.enqueue(make_message("a", "12345", 1), 1, true, {3, 4});
    s.enqueue(make_message("b", "xy", 2), 0, false);
    REQUIRE(s.queue.size() == 2);
    CHECK(s.queue[0].message->topic == "a");
    CHECK(s.queue[0].qos == 1);
    CHECK(s.queue[0].retain);
    CHECK_FALSE(s.queue[0].dup);
    CHECK(s.queue[0].packet_id == 0);
    CHECK(s.queue[0].state == Outbound::State::Queued);
    CHECK(s.queue[0].subscription_ids == std::vector<uint32_t>{3, 4});
    CHECK(s.queue[1].message->topic == "b");
    CHECK(s.queue[1].qos == 0);
    CHECK_FALSE(s.queue[1].retain);
    CHECK(s.queued_bytes() == 7);
    CHECK(out.has_output == 2);
    CHECK(s.dropped() == 0);
    s.on_dequeued(s.queue.front());
    s.queue.pop_front();
    CHECK(s.queued_bytes() == 2);
}

TEST_CASE("deliver queues with the delivery's QoS, retain flag and subscription ids") {
    Limits limits;
    Session s("c", limits);
    CountingOutput out;
    s.attach(&out);
    uint32_t ids[] = {7, 8};
    s.deliver(make_message("t", "p", 2), Delivery{.qos = 1, .retain = true, .subscription_ids = ids});
    REQUIRE(s.queue.size() == 1);
    CHECK(s.queue[0].qos == 1);
    CHECK(s.queue[0].retain);
    CHECK(s.queue[0].subscription_ids == std::vector<uint32_t>{7, 8});
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

TEST_CASE("max_queued_messages: QoS 0 messages are dropped first, oldest first") {
    Limits limits;
    limits.max_queued_messages = 3;
    Session s("c", limits);
    CountingOutput out;
    s.attach(&out);
    s.enqueue(make_message("t", "a0"), 0, false);
    s.enqueue(make_message("t", "b1"), 1, false);
    s.enqueue(make_message("t", "c0"), 0, false);
    CHECK(s.dropped() == 0);
    s.enqueue(make_message("t", "d1"), 1, false);  // evicts a0
    CHECK(payloads(s) == Strings{"b1", "c0", "d1"});
    CHECK(s.dropped() == 1);
    s.enqueue(make_message("t", "e0"), 0, false);  // evicts c0 (a QoS 0 may evict an older QoS 0)
    CHECK(payloads(s) == Strings{"b1", "d1", "e0"});
    CHECK(s.dropped() == 2);
    s.enqueue(make_message("t", "f2"), 2, false);  // evicts e0
    CHECK(payloads(s) == Strings{"b1", "d1", "f2"});
    CHECK(s.dropped() == 3);
    CHECK(s.queued_bytes() == 6);
}

TEST_CASE("max_queued_messages: with only QoS 1/2 queued the incoming message is dropped and counted") {
    Limits limits;
    limits.max_queued_messages = 2;
    Session s("c", limits);
    CountingOutput out;
    s.attach(&out);
    s.enqueue(make_message("t", "a1"), 1, false);
    s.enqueue(make_message("t", "b2"), 2, false);
    CHECK(out.has_output == 2);
    s.enqueue(make_message("t", "c1"), 1, false);
    s.enqueue(make_message("t", "d0"), 0, false);
    CHECK(payloads(s) == Strings{"a1", "b2"});
    CHECK(s.dropped() == 2);
    CHECK(out.has_output == 2);  // nothing new to send
    CHECK(s.queued_bytes() == 4);
    // Room again after one is taken off the queue.
    s.on_dequeued(s.queue.front());
    s.queue.pop_front();
    s.enqueue(make_message("t", "e1"), 1, false);
    CHECK(payloads(s) == Strings{"b2", "e1"});
    CHECK(s.dropped() == 2);
}

TEST_CASE("max_queued_bytes: QoS 0 payloads are dropped until the new one fits") {
    Limits limits;
    limits.max_queued_bytes = 10;
    Session s("c", limits);
    CountingOutput out;
    s.attach(&out);
    s.enqueue(make_message("t", "0aaa"), 0, false);  // 4
    s.enqueue(make_message("t", "1bbb"), 1, false);  // 8
    s.enqueue(make_message("t", "0cc"), 0, false);   // 4 + 4 + 3 = 11 > 10 -> evicts 0aaa
    CHECK(payloads(s) == Strings{"1bbb", "0cc"});
    CHECK(s.queued_bytes() == 7);
    CHECK(s.dropped() == 1);
    s.enqueue(make_message("t", "1dd"), 1, false);  // 7 + 3 = 10 fits exactly
    CHECK(payloads(s) == Strings{"1bbb", "0cc", "1dd"});
    CHECK(s.queued_bytes() == 10);
    CHECK(s.dropped() == 1);
    s.enqueue(make_message("t", "1e"), 1, false);  // 12 -> evicts 0cc -> 9
    CHECK(payloads(s) == Strings{"1bbb", "1dd", "1e"});
    CHECK(s.queued_bytes() == 9);
    CHECK(s.dropped() == 2);
    s.enqueue(make_message("t", "1ff"), 1, false);  // 12, nothing to evict -> dropped
    CHECK(payloads(s) == Strings{"1bbb", "1dd", "1e"});
    CHECK(s.queued_bytes() == 9);
    CHECK(s.dropped() == 3);
    // An empty payload always fits the byte limit.
    s.enqueue(make_message("t", ""), 1, false);
    CHECK(s.queue.size() == 4);
    CHECK(s.queued_bytes() == 9);
}

TEST_CASE("queue limits: a message larger than the whole byte limit evicts nothing") {
    Limits limits;
    limits.max_queued_bytes = 10;
    Session s("c", limits);
    CountingOutput out;
    s.attach(&out);
    s.enqueue(make_message("t", "0a"), 0, false);
    s.enqueue(make_message("t", "0b"), 0, false);
    s.enqueue(make_message("t", std::string(11, 'x')), 1, false);
    CHECK(payloads(s) == Strings{"0a", "0b"});
    CHECK(s.queued_bytes() == 4);
    CHECK(s.dropped() == 1);  // only the oversized message
}

TEST_CASE("queue limits: QoS 0 messages are not evicted when that still cannot make room") {
    // Evicting queued QoS 0 messages only makes sense if it makes room for
    // the incoming one. Here the QoS 1 message already queued leaves too
    // little room even with every QoS 0 message gone.
    Limits limits;
    limits.max_queued_bytes = 10;
    Session s("c", limits);
    CountingOutput out;
    s.attach(&out);
    s.enqueue(make_message("t", "0a"), 0, false);       // 2
    s.enqueue(make_message("t", "1bbbbbb"), 1, false);  // 9
    s.enqueue(make_message("t", "1ccc"), 1, false);     // 13 > 10; 11 > 10 even without 0a
    CHECK(payloads(s) == Strings{"0a", "1bbbbbb"});
    CHECK(s.queued_bytes() == 9);
    CHECK(s.dropped() == 1);  // only the incoming message
}

TEST_CASE("backpressure: a live session keeps QoS 1/2 beyond the limit up to twice it, then drains") {
    struct Sink : CongestionSink {
        std::vector<Subscriber*> calls;
        void congested(Subscriber* s) override { calls.push_back(s); }
    } sink;
    Limits limits;
    limits.max_queued_messages = 2;
    Session s("c", limits, &sink);
    CountingOutput out;
    s.attach(&out);
    s.enqueue(make_message("t", "a"), 1, false);
    s.enqueue(make_message("t", "b"), 1, false);
    CHECK_FALSE(s.congested());
    CHECK(sink.calls.empty());
    s.enqueue(make_message("t", "c"), 1, false);  // over the limit: kept
    s.enqueue(make_message("t", "d"), 2, false);
    CHECK(payloads(s) == Strings{"a", "b", "c", "d"});
    CHECK(s.congested());
    CHECK(sink.calls == std::vector<Subscriber*>{&s, &s});
    CHECK(s.dropped() == 0);
    s.enqueue(make_message("t", "e"), 1, false);  // 2x the limit: dropped
    s.enqueue(make_message("t", "f"), 0, false);  // QoS 0 is never kept beyond the limit
    CHECK(payloads(s) == Strings{"a", "b", "c", "d"});
    CHECK(s.dropped() == 2);
    // Drained once back to half the limit or less.
    auto pop = [&] {
        s.on_dequeued(s.queue.front());
        s.queue.pop_front();
    };
    pop();
    pop();
    CHECK_FALSE(s.drained());  // 2 > 1
    CHECK(s.congested());
    pop();
    CHECK(s.drained());  // 1 <= 1
    CHECK_FALSE(s.congested());
    CHECK_FALSE(s.drained());  // reported once
}

TEST_CASE("backpressure: an offline session drops QoS 1 at the limit even with a sink") {
    struct Sink : CongestionSink {
        int calls = 0;
        void congested(Subscriber*) override { ++calls; }
    } sink;
    Limits limits;
    limits.max_queued_messages = 1;
    Session s("c", limits, &sink);
    s.enqueue(make_message("t", "a"), 1, false);
    s.enqueue(make_message("t", "b"), 1, false);
    CHECK(payloads(s) == Strings{"a"});
    CHECK(s.dropped() == 1);
    CHECK(sink.calls == 0);
    CHECK_FALSE(s.congested());
}

TEST_CASE("next_packet_id counts from 1 and is never 0 [MQTT-2.2.1-3]") {
    Limits limits;
    Session s("c", limits);
    CHECK(s.next_packet_id() == 1);
    CHECK(s.next_packet_id() == 2);
    CHECK(s.next_packet_id() == 3);
}

TEST_CASE("[MQTT-2.2.1-3] packet ids wrap from 65535 to 1, skipping ids in flight") {
    Limits limits;
    Session s("c", limits);
    s.inflight.push_back(inflight_entry(1));
    s.inflight.push_back(inflight_entry(2));
    s.inflight.push_back(inflight_entry(5, Outbound::State::WaitPubcomp));
    s.inflight.push_back(inflight_entry(65535, Outbound::State::WaitPubrec));
    std::set<uint16_t> seen;
    uint16_t id = 0;
    for (int i = 0; i < 65535 - 4; ++i) {  // every free id once
        id = s.next_packet_id();
        CHECK_MESSAGE(id != 0, "i=" << i);
        CHECK_MESSAGE(!s.find_inflight(id), "id=" << id);
        seen.insert(id);
    }
    CHECK(seen.size() == 65535 - 4);
    CHECK(id == 65534);
    CHECK_FALSE(seen.count(0));
    CHECK_FALSE(seen.count(1));
    CHECK_FALSE(seen.count(5));
    CHECK_FALSE(seen.count(65535));
    // Wraps past 65535 (in flight), 0, 1, 2 (in flight) to 3, then 4, 6.
    CHECK(s.next_packet_id() == 3);
    CHECK(s.next_packet_id() == 4);
    CHECK(s.next_packet_id() == 6);
    // Once acknowledged, an id is available again on the next lap.
    CHECK(s.erase_inflight(65535));
    for (int i = 0; i < 65535 - 6 - 1; ++i) s.next_packet_id();  // 7 .. 65534
    CHECK(s.next_packet_id() == 65535);
    CHECK(s.next_packet_id() == 3);
}

TEST_CASE("find_inflight / erase_inflight by packet id") {
    Limits limits;
    Session s("c", limits);
    s.inflight.push_back(inflight_entry(10, Outbound::State::WaitPuback));
    s.inflight.push_back(inflight_entry(20, Outbound::State::WaitPubrec));
    s.inflight.push_back(inflight_entry(30, Outbound::State::WaitPubcomp));
    CHECK(s.find_inflight(0) == nullptr);
    CHECK(s.find_inflight(11) == nullptr);
    Outbound* o = s.find_inflight(20);
    REQUIRE(o != nullptr);
    CHECK(o->packet_id == 20);
    CHECK(o->state == Outbound::State::WaitPubrec);
    o->state = Outbound::State::WaitPubcomp;  // a pointer into the deque: updates in place
    CHECK(s.inflight[1].state == Outbound::State::WaitPubcomp);
    CHECK_FALSE(s.erase_inflight(11));
    CHECK(s.inflight.size() == 3);
    CHECK(s.erase_inflight(20));
    CHECK_FALSE(s.erase_inflight(20));
    REQUIRE(s.inflight.size() == 2);
    CHECK(s.inflight[0].packet_id == 10);  // order kept
    CHECK(s.inflight[1].packet_id == 30);
    CHECK(s.find_inflight(20) == nullptr);
}

}  // TEST_SUITE
