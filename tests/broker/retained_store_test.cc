// Retained messages: store, clear with an empty payload, match by filter
// (wildcards and the '$' rule), expiry.
#include "broker/retained_store.h"

#include "test_util.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace duplex;
using duplex::test::make_message;
using duplex::test::retained_topics;

namespace {

using Topics = std::vector<std::string>;

void retain(RetainedStore& store, const std::string& topic, const std::string& payload = "x",
            int64_t expires_at_ms = 0) {
    store.update(make_message(topic, payload, 0, true, 0, expires_at_ms));
}

}  // namespace

TEST_SUITE("retained_store") {

TEST_CASE("[MQTT-3.3.1-5] the last retained message per topic replaces the previous one") {
    RetainedStore store;
    retain(store, "a/b", "one");
    retain(store, "a/b", "two");
    CHECK(store.size() == 1);
    std::vector<std::string> payloads;
    store.match("a/b", 0, [&](const MessagePtr& m) { payloads.push_back(m->payload); });
    CHECK(payloads == std::vector<std::string>{"two"});
}

TEST_CASE("[MQTT-3.3.1-10] a retained message with an empty payload clears the topic") {
    RetainedStore store;
    retain(store, "a/b");
    retain(store, "a/b/c");
    retain(store, "a");
    CHECK(store.size() == 3);
    retain(store, "a/b", "");
    CHECK(store.size() == 2);
    CHECK(retained_topics(store, "#") == Topics{"a", "a/b/c"});
    retain(store, "a/b/c", "");
    CHECK(store.size() == 1);
    CHECK(retained_topics(store, "#") == Topics{"a"});
    retain(store, "a", "");
    CHECK(store.size() == 0);
    CHECK(retained_topics(store, "#").empty());
}

TEST_CASE("[MQTT-3.3.1-11] a zero-byte retained message is not stored") {
    RetainedStore store;
    retain(store, "never/stored", "");
    CHECK(store.size() == 0);
    CHECK(retained_topics(store, "#").empty());
    CHECK(retained_topics(store, "never/stored").empty());
    // Clearing a prefix of a stored topic, or a topic below it, changes nothing.
    retain(store, "a/b/c");
    retain(store, "a/b", "");
    retain(store, "a/b/c/d", "");
    retain(store, "a", "");
    CHECK(store.size() == 1);
    CHECK(retained_topics(store, "#") == Topics{"a/b/c"});
}

TEST_CASE("clearing and re-storing the same topic repeatedly keeps the count exact") {
    RetainedStore store;
    for (int i = 0; i < 100; ++i) {
        retain(store, "x/y/z", "v");
        retain(store, "x/y", "v");
        CHECK(store.size() == 2);
        retain(store, "x/y/z", "");
        retain(store, "x/y", "");
        retain(store, "x/y", "");  // clearing twice
        CHECK(store.size() == 0);
    }
    CHECK(retained_topics(store, "#").empty());
}

TEST_CASE("retained matching with an exact filter and empty levels") {
    RetainedStore store;
    for (const char* t : {"a", "a/b", "a//b", "/", "/a", "a/"}) retain(store, t);
    CHECK(retained_topics(store, "a") == Topics{"a"});
    CHECK(retained_topics(store, "a//b") == Topics{"a//b"});
    CHECK(retained_topics(store, "/") == Topics{"/"});
    CHECK(retained_topics(store, "a/") == Topics{"a/"});
    CHECK(retained_topics(store, "a/b/c").empty());
    CHECK(retained_topics(store, "b").empty());
}

TEST_CASE("[MQTT-4.7.1-2] retained matching with '#'") {
    RetainedStore store;
    for (const char* t : {"sport", "sport/tennis", "sport/tennis/player1", "sport/tennis/player1/ranking",
                          "sports", "/sport", "sport/"})
        retain(store, t);
    CHECK(retained_topics(store, "sport/#") ==
          Topics{"sport", "sport/", "sport/tennis", "sport/tennis/player1", "sport/tennis/player1/ranking"});
    CHECK(retained_topics(store, "sport/tennis/player1/#") ==
          Topics{"sport/tennis/player1", "sport/tennis/player1/ranking"});
    CHECK(retained_topics(store, "#") == Topics{"/sport", "sport", "sport/", "sport/tennis",
                                                "sport/tennis/player1", "sport/tennis/player1/ranking",
                                                "sports"});
    CHECK(retained_topics(store, "/#") == Topics{"/sport"});
}

TEST_CASE("[MQTT-4.7.1-3] retained matching with '+'") {
    RetainedStore store;
    for (const char* t : {"sport", "sport/tennis", "sport/", "sport/tennis/player1", "/finance", "finance",
                          "a/b"})
        retain(store, t);
    CHECK(retained_topics(store, "sport/+") == Topics{"sport/", "sport/tennis"});
    CHECK(retained_topics(store, "+") == Topics{"finance", "sport"});
    CHECK(retained_topics(store, "+/+") == Topics{"/finance", "a/b", "sport/", "sport/tennis"});
    CHECK(retained_topics(store, "/+") == Topics{"/finance"});
    CHECK(retained_topics(store, "+/tennis/#") == Topics{"sport/tennis", "sport/tennis/player1"});
    CHECK(retained_topics(store, "+/#") ==
          Topics{"/finance", "a/b", "finance", "sport", "sport/", "sport/tennis", "sport/tennis/player1"});
}

TEST_CASE("[MQTT-4.7.2-1] retained: wildcard filters do not match $ topics") {
    RetainedStore store;
    retain(store, "$SYS/broker/uptime");
    retain(store, "$SYS");
    retain(store, "$x/a");
    retain(store, "a/$x");
    retain(store, "plain");
    CHECK(retained_topics(store, "#") == Topics{"a/$x", "plain"});
    CHECK(retained_topics(store, "+") == Topics{"plain"});
    CHECK(retained_topics(store, "+/broker/uptime").empty());
    CHECK(retained_topics(store, "+/+") == Topics{"a/$x"});
    CHECK(retained_topics(store, "+/#") == Topics{"a/$x", "plain"});
    // Explicit '$' first levels match, and wildcards below them are fine.
    CHECK(retained_topics(store, "$SYS/#") == Topics{"$SYS", "$SYS/broker/uptime"});
    CHECK(retained_topics(store, "$SYS/+/uptime") == Topics{"$SYS/broker/uptime"});
    CHECK(retained_topics(store, "$x/+") == Topics{"$x/a"});
    CHECK(retained_topics(store, "a/+") == Topics{"a/$x"});
    CHECK(retained_topics(store, "a/#") == Topics{"a/$x"});
}

TEST_CASE("[MQTT-3.3.2-5] expired retained messages are not delivered and are dropped") {
    RetainedStore store;
    retain(store, "t/expiring", "v", 1000);
    retain(store, "t/forever", "v", 0);
    retain(store, "t/later", "v", 5000);
    CHECK(store.size() == 3);
    CHECK(retained_topics(store, "t/#", 999) == Topics{"t/expiring", "t/forever", "t/later"});
    CHECK(store.size() == 3);
    // expires_at_ms itself counts as expired.
    CHECK(retained_topics(store, "t/#", 1000) == Topics{"t/forever", "t/later"});
    CHECK(store.size() == 2);
    // Dropped for good: an earlier clock does not bring it back.
    CHECK(retained_topics(store, "t/expiring", 0).empty());
    CHECK(retained_topics(store, "t/+", 1'000'000) == Topics{"t/forever"});
    CHECK(store.size() == 1);
}

TEST_CASE("expired retained message: storing again on the topic works and counts once") {
    RetainedStore store;
    retain(store, "e", "old", 10);
    CHECK(retained_topics(store, "e", 20).empty());
    CHECK(store.size() == 0);
    retain(store, "e", "new");
    CHECK(store.size() == 1);
    // Clearing after lazy expiry does not underflow the count.
    retain(store, "e", "", 0);
    retain(store, "f", "v", 10);
    CHECK(retained_topics(store, "#", 50).empty());
    retain(store, "f", "");
    CHECK(store.size() == 0);
}

TEST_CASE("match visits the stored MessagePtr, not a copy") {
    RetainedStore store;
    auto m = make_message("a/b", "payload", 1, true);
    store.update(m);
    int n = 0;
    store.match("a/+", 0, [&](const MessagePtr& got) {
        ++n;
        CHECK(got.get() == m.get());
        CHECK(got->qos == 1);
    });
    CHECK(n == 1);
}

}  // TEST_SUITE
