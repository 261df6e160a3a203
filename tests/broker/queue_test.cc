// Point-to-point queues (broker/queue.h): one consumer per message, round
// robin over consumers with room, hand-backs in front and to another
// consumer first, bounds through the outbox, names spelled once.
#include "broker/queue.h"

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

// A consumer with a window of `room` messages it has not taken off yet.
struct Consumer final : QueueConsumer {
    explicit Consumer(size_t room = 100) : room(room) {}
    size_t room;
    std::vector<Outgoing> got;
    bool can_accept() const override { return got.size() < room; }
    void offer(Outgoing m) override { got.push_back(std::move(m)); }
    Strings payloads() const {
        Strings out;
        for (auto& m : got) out.push_back(m.message->payload);
        return out;
    }
};

}  // namespace

TEST_SUITE("queue") {

TEST_CASE("messages without a consumer are held, then go to the first consumer in order") {
    Limits limits;
    Queue q("queue:a", limits, nullptr);
    q.push(make_message("a", "1"));
    q.push(make_message("a", "2"));
    CHECK(q.size() == 2);
    CHECK(q.bytes() == 2);
    Consumer c;
    q.add_consumer(&c);
    CHECK(c.payloads() == Strings{"1", "2"});
    CHECK(q.size() == 0);
    CHECK(q.bytes() == 0);
}

TEST_CASE("each message goes to exactly one consumer, round robin over those with room") {
    Limits limits;
    Queue q("queue:a", limits, nullptr);
    Consumer a(1), b(100), c(100);
    q.add_consumer(&a);
    q.add_consumer(&b);
    q.add_consumer(&c);
    for (int i = 0; i < 5; ++i) q.push(make_message("a", std::to_string(i)));
    CHECK(a.payloads() == Strings{"0"});  // full after one
    CHECK(b.payloads() == Strings{"1", "3"});
    CHECK(c.payloads() == Strings{"2", "4"});
}

TEST_CASE("a handed-back message goes in front, redelivered, and to another consumer first") {
    Limits limits;
    Queue q("queue:a", limits, nullptr);
    Consumer a(0), b(0);
    q.add_consumer(&a);
    q.add_consumer(&b);
    q.push(make_message("a", "later"));
    q.requeue(make_message("a", "back"), &a);
    a.room = b.room = 100;
    q.dispatch();
    REQUIRE(b.got.size() == 1);
    CHECK(b.got[0].message->payload == "back");
    CHECK(b.got[0].redelivered);
    CHECK(a.payloads() == Strings{"later"});
    CHECK_FALSE(a.got[0].redelivered);
}

TEST_CASE("a handed-back message goes back to the same consumer when it is the only one with room") {
    Limits limits;
    Queue q("queue:a", limits, nullptr);
    Consumer a, b(0);
    q.add_consumer(&b);
    q.requeue(make_message("a", "back"), &a);
    q.add_consumer(&a);
    CHECK(a.payloads() == Strings{"back"});
}

TEST_CASE("with no consumer the queue drops at its limits, counted; QoS 0 first") {
    Backpressure bp;
    Limits limits;
    limits.max_queued_messages = 2;
    Queue q("queue:a", limits, &bp);
    q.push(make_message("a", "0a", 0));
    q.push(make_message("a", "1b", 1));
    CHECK(q.push(make_message("a", "1c", 1)) == nullptr);  // evicts 0a
    CHECK(q.push(make_message("a", "1d", 1)) == nullptr);  // nobody drains: dropped
    CHECK(q.dropped() == 2);
    Consumer c;
    q.add_consumer(&c);
    CHECK(c.payloads() == Strings{"1b", "1c"});
}

TEST_CASE("a persistent message for a queue whose consumers are full holds its publisher back until they drain") {
    Backpressure bp;
    Limits limits;
    limits.max_queued_messages = 2;
    Queue q("queue:a", limits, &bp);
    Consumer c(0);  // connected, but its window is full
    q.add_consumer(&c);
    q.push(make_message("a", "1", 1));
    q.push(make_message("a", "2", 1));
    Outbox* congested = q.push(make_message("a", "3", 1));
    REQUIRE(congested != nullptr);
    c.room = 100;
    q.dispatch();
    CHECK(c.payloads() == Strings{"1", "2", "3"});
    CHECK(q.push(make_message("a", "4", 1)) == nullptr);
    CHECK(q.dropped() == 0);
}

TEST_CASE("removing a consumer keeps round robin in range; Queues forgets idle queues, force drops held ones") {
    Limits limits;
    Queues queues(limits, nullptr);
    Queue& q = queues.get("queue:x");
    CHECK(queues.find("queue:x") == &q);
    Consumer a, b;
    q.add_consumer(&a);
    q.add_consumer(&b);
    q.remove_consumer(&b);
    q.remove_consumer(&b);  // twice: no-op
    q.push(make_message("x", "1"));
    CHECK(a.payloads() == Strings{"1"});
    q.remove_consumer(&a);
    queues.release("queue:x");
    CHECK(queues.find("queue:x") == nullptr);
    Queue& t = queues.get("temp:1/r");
    t.push(make_message("r", "held"));
    queues.release("temp:1/r");
    CHECK(queues.find("temp:1/r") != nullptr);  // holds a message
    queues.release("temp:1/r", true);
    CHECK(queues.size() == 0);
}

TEST_CASE("queue keys and reply addresses are spelled in one place and resolve to each other") {
    CHECK(queue_key("jobs") == "queue:jobs");
    CHECK(temp_queue_key("7f3a", "replies") == "temp:7f3a/replies");
    CHECK(reply_address("7f3a", "replies") == "/remote-temp-queue/7f3a/replies");
    Limits limits;
    Queues queues(limits, nullptr);
    Queue& t = queues.get(temp_queue_key("7f3a", "replies"));
    CHECK(queues.find_reply_queue(reply_address("7f3a", "replies")) == &t);
    CHECK(queues.find_reply_queue("/remote-temp-queue/8/replies") == nullptr);
    CHECK(queues.find_reply_queue("replies") == nullptr);
}

}  // TEST_SUITE
