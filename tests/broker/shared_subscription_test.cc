// MQTT 5 shared subscriptions (broker/shared_subscription.h): parsing
// [MQTT-4.8.2-1/2], one member per message, least loaded connected member
// first, offline members only when nobody is connected.
#include "broker/shared_subscription.h"

#include "duplex/config.h"
#include "test_util.h"

#include <doctest/doctest.h>

#include <string>

using namespace duplex;
using duplex::test::make_message;

namespace {
struct NullOutput : SessionOutput {
    void session_has_output() override {}
    void session_taken_over() override {}
};
}  // namespace

TEST_SUITE("shared subscription") {

TEST_CASE("[MQTT-4.8.2-1] [MQTT-4.8.2-2] $share/{group}/{filter} is parsed and checked") {
    std::string_view group, filter;
    bool valid = false;
    CHECK_FALSE(SharedGroup::parse("a/b", group, filter, valid));
    CHECK(SharedGroup::parse("$share/g/a/+", group, filter, valid));
    CHECK(valid);
    CHECK(group == "g");
    CHECK(filter == "a/+");
    CHECK(SharedGroup::parse("$share/g", group, filter, valid));
    CHECK_FALSE(valid);  // no filter
    CHECK(SharedGroup::parse("$share//a", group, filter, valid));
    CHECK_FALSE(valid);  // empty group
    CHECK(SharedGroup::parse("$share/g+/a", group, filter, valid));
    CHECK_FALSE(valid);  // wildcard in the group name
    CHECK(SharedGroup::parse("$share/g/a/#/b", group, filter, valid));
    CHECK_FALSE(valid);  // invalid filter
}

TEST_CASE("each message goes to one member, the least loaded connected one, ties round robin") {
    Limits limits;
    Session a("a", limits), b("b", limits);
    NullOutput out;
    a.go_online(&out);
    b.go_online(&out);
    SharedGroup g("g", "t/#");
    g.add(&a, SubOptions{.qos = 1});
    g.add(&b, SubOptions{.qos = 1});
    for (int i = 0; i < 4; ++i) g.deliver(make_message("t/x", "p", 1), Delivery{});
    CHECK(a.queued() == 2);
    CHECK(b.queued() == 2);
    // b is busier: a gets the next one, then they are even again.
    b.enqueue(make_message("t/x", "extra", 1), 1, false);
    g.deliver(make_message("t/x", "p", 1), Delivery{});
    CHECK(a.queued() == 3);
    CHECK(b.queued() == 3);
}

TEST_CASE("offline members get messages only when no member is connected, and only persistent ones") {
    Limits limits;
    Session online("on", limits), offline("off", limits), gone("gone", limits);
    offline.set_expiry_interval(60);
    NullOutput out;
    online.go_online(&out);
    SharedGroup g("g", "t");
    g.add(&gone, SubOptions{.qos = 1});
    g.add(&offline, SubOptions{.qos = 1});
    g.add(&online, SubOptions{.qos = 1});
    g.deliver(make_message("t", "p", 1), Delivery{});
    CHECK(online.queued() == 1);
    CHECK(offline.queued() == 0);
    CHECK(g.remove(&online));
    CHECK_FALSE(g.remove(&online));
    g.deliver(make_message("t", "p", 1), Delivery{});
    CHECK(offline.queued() == 1);
    CHECK(gone.queued() == 0);  // not persistent
    // QoS 0 is never queued for an offline member.
    g.deliver(make_message("t", "q0", 0), Delivery{});
    CHECK(offline.queued() == 1);
}

TEST_CASE("the member's granted QoS caps the message's, and its subscription id travels") {
    Limits limits;
    Session a("a", limits);
    NullOutput out;
    a.go_online(&out);
    SharedGroup g("g", "t");
    g.add(&a, SubOptions{.qos = 0, .no_local = false, .retain_as_published = false, .retain_handling = 0,
                         .subscription_id = 9});
    g.deliver(make_message("t", "p", 2), Delivery{});
    uint16_t id = 0;
    const Outgoing* o = a.next_to_send(10, 0, id);
    REQUIRE(o);
    CHECK(o->qos == 0);
    CHECK(o->shared == &g);
    CHECK(o->subscription_ids == std::vector<uint32_t>{9});
}

}  // TEST_SUITE
