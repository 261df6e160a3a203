// Subscription tree: matching with '+' / '#', the '$' rule, unsubscribe and
// pruning, plus a randomized comparison against a reference matcher.
#include "broker/topic_tree.h"

#include "test_util.h"
#include "tests/topic_match_reference.h"

#include <doctest/doctest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace duplex;
using duplex::test::matches;
using duplex::test::reference_match;
using duplex::test::RecordingSubscriber;

namespace {

using Subs = std::vector<Subscriber*>;

Subs sorted(Subs s) {
    std::sort(s.begin(), s.end());
    return s;
}

}  // namespace

TEST_SUITE("topic_tree") {

TEST_CASE("reference matcher sanity (spec examples)") {
    CHECK(reference_match("sport/#", "sport"));
    CHECK(reference_match("#", "a/b"));
    CHECK_FALSE(reference_match("#", "$SYS/a"));
    CHECK(reference_match("+/+", "/finance"));
    CHECK_FALSE(reference_match("sport/+", "sport"));
    CHECK(reference_match("sport/+", "sport/"));
}

TEST_CASE("[MQTT-4.7.1-2] sport/tennis/player1/# matches the parent and all descendants") {
    TopicTree tree;
    RecordingSubscriber s;
    CHECK(tree.subscribe("sport/tennis/player1/#", &s, {}));
    CHECK(matches(tree, "sport/tennis/player1") == Subs{&s});
    CHECK(matches(tree, "sport/tennis/player1/ranking") == Subs{&s});
    CHECK(matches(tree, "sport/tennis/player1/score/wimbledon") == Subs{&s});
    CHECK(matches(tree, "sport/tennis/player1/") == Subs{&s});
    CHECK(matches(tree, "sport/tennis/player2").empty());
    CHECK(matches(tree, "sport/tennis").empty());
    CHECK(matches(tree, "sport/tennis/player10").empty());
}

TEST_CASE("[MQTT-4.7.1-2] sport/# also matches the singular sport") {
    TopicTree tree;
    RecordingSubscriber s;
    tree.subscribe("sport/#", &s, {});
    CHECK(matches(tree, "sport") == Subs{&s});
    CHECK(matches(tree, "sport/") == Subs{&s});
    CHECK(matches(tree, "sport/tennis") == Subs{&s});
    CHECK(matches(tree, "sports").empty());
    CHECK(matches(tree, "/sport").empty());
}

TEST_CASE("[MQTT-4.7.1-3] sport/+ matches one level only, including an empty one") {
    TopicTree tree;
    RecordingSubscriber s;
    tree.subscribe("sport/+", &s, {});
    CHECK(matches(tree, "sport").empty());
    CHECK(matches(tree, "sport/") == Subs{&s});
    CHECK(matches(tree, "sport/tennis") == Subs{&s});
    CHECK(matches(tree, "sport/tennis/player1").empty());
}

TEST_CASE("[MQTT-4.7.1-3] sport/tennis/+ does not match sport/tennis") {
    TopicTree tree;
    RecordingSubscriber s;
    tree.subscribe("sport/tennis/+", &s, {});
    CHECK(matches(tree, "sport/tennis/player1") == Subs{&s});
    CHECK(matches(tree, "sport/tennis/player2") == Subs{&s});
    CHECK(matches(tree, "sport/tennis/player1/ranking").empty());
    CHECK(matches(tree, "sport/tennis").empty());
}

TEST_CASE("[MQTT-4.7.1-3] +/+ and /+ match /finance; + does not") {
    TopicTree tree;
    RecordingSubscriber plus_plus, slash_plus, plus;
    tree.subscribe("+/+", &plus_plus, {});
    tree.subscribe("/+", &slash_plus, {});
    tree.subscribe("+", &plus, {});
    CHECK(matches(tree, "/finance") == sorted({&plus_plus, &slash_plus}));
    CHECK(matches(tree, "finance") == Subs{&plus});
    CHECK(matches(tree, "a/b") == Subs{&plus_plus});
    CHECK(matches(tree, "/") == sorted({&plus_plus, &slash_plus}));
    CHECK(matches(tree, "a/b/c").empty());
}

TEST_CASE("'#' alone matches every topic not starting with '$'") {
    TopicTree tree;
    RecordingSubscriber s;
    tree.subscribe("#", &s, {});
    for (const char* t : {"a", "a/b", "/", "/a", "a//b", "a/", "x$", "a/$SYS"})
        CHECK_MESSAGE(matches(tree, t) == Subs{&s}, t);
    CHECK(matches(tree, "$SYS").empty());
    CHECK(matches(tree, "$SYS/broker/load").empty());
    CHECK(matches(tree, "$").empty());
}

TEST_CASE("[MQTT-4.7.2-1] wildcard filters do not match $ topics") {
    TopicTree tree;
    RecordingSubscriber hash, plus_monitor, plus, plus_hash;
    tree.subscribe("#", &hash, {});
    tree.subscribe("+/monitor/Clients", &plus_monitor, {});
    tree.subscribe("+", &plus, {});
    tree.subscribe("+/#", &plus_hash, {});
    CHECK(matches(tree, "$SYS/monitor/Clients").empty());
    CHECK(matches(tree, "$SYS").empty());
    CHECK(matches(tree, "$x/a").empty());
    // The same shapes without '$' match.
    CHECK(matches(tree, "SYS/monitor/Clients") == sorted({&hash, &plus_monitor, &plus_hash}));
}

TEST_CASE("[MQTT-4.7.2-1] $SYS/# and $SYS/monitor/+ match $SYS topics") {
    TopicTree tree;
    RecordingSubscriber sys_hash, sys_plus, exact;
    tree.subscribe("$SYS/#", &sys_hash, {});
    tree.subscribe("$SYS/monitor/+", &sys_plus, {});
    tree.subscribe("$SYS/monitor/Clients", &exact, {});
    CHECK(matches(tree, "$SYS/monitor/Clients") == sorted({&sys_hash, &sys_plus, &exact}));
    CHECK(matches(tree, "$SYS") == Subs{&sys_hash});
    CHECK(matches(tree, "$SYS/uptime") == Subs{&sys_hash});
    CHECK(matches(tree, "SYS/monitor/Clients").empty());
}

TEST_CASE("wildcards below the first level do match '$' levels") {
    TopicTree tree;
    RecordingSubscriber a_plus, a_hash;
    tree.subscribe("a/+", &a_plus, {});
    tree.subscribe("a/#", &a_hash, {});
    CHECK(matches(tree, "a/$x") == sorted({&a_plus, &a_hash}));
}

TEST_CASE("empty levels are distinct levels: a//b, /, trailing /") {
    TopicTree tree;
    RecordingSubscriber ab, a_empty_b, slash, a_trailing, a_plus_b;
    tree.subscribe("a/b", &ab, {});
    tree.subscribe("a//b", &a_empty_b, {});
    tree.subscribe("/", &slash, {});
    tree.subscribe("a/", &a_trailing, {});
    tree.subscribe("a/+/b", &a_plus_b, {});
    CHECK(matches(tree, "a/b") == Subs{&ab});
    CHECK(matches(tree, "a//b") == sorted({&a_empty_b, &a_plus_b}));
    CHECK(matches(tree, "/") == Subs{&slash});
    CHECK(matches(tree, "a/") == Subs{&a_trailing});
    CHECK(matches(tree, "a").empty());
    CHECK(matches(tree, "//").empty());
    CHECK(matches(tree, "/a").empty());
}

TEST_CASE("a subscriber is visited once per matching filter, with that filter's options") {
    TopicTree tree;
    RecordingSubscriber s;
    tree.subscribe("a/b", &s, {.qos = 0, .subscription_id = 1});
    tree.subscribe("a/+", &s, {.qos = 1, .subscription_id = 2});
    tree.subscribe("#", &s, {.qos = 2, .subscription_id = 3});
    CHECK(tree.subscription_count() == 3);
    std::map<uint32_t, uint8_t> seen;
    int visits = 0;
    tree.match("a/b", [&](Subscriber* sub, const SubOptions& o) {
        CHECK(sub == &s);
        seen[o.subscription_id] = o.qos;
        ++visits;
    });
    CHECK(visits == 3);
    CHECK(seen == std::map<uint32_t, uint8_t>{{1, 0}, {2, 1}, {3, 2}});
}

TEST_CASE("[MQTT-3.8.4-3] subscribing again replaces the options of the subscription") {
    TopicTree tree;
    RecordingSubscriber s;
    CHECK(tree.subscribe("a/+", &s, {.qos = 0, .no_local = false, .subscription_id = 7}));
    CHECK_FALSE(tree.subscribe("a/+", &s, {.qos = 2, .no_local = true, .retain_as_published = true,
                                           .retain_handling = 2, .subscription_id = 9}));
    CHECK(tree.subscription_count() == 1);
    int visits = 0;
    tree.match("a/x", [&](Subscriber* sub, const SubOptions& o) {
        ++visits;
        CHECK(sub == &s);
        CHECK(o.qos == 2);
        CHECK(o.no_local);
        CHECK(o.retain_as_published);
        CHECK(o.retain_handling == 2);
        CHECK(o.subscription_id == 9);
    });
    CHECK(visits == 1);
}

TEST_CASE("unsubscribe removes only that subscriber's filter") {
    TopicTree tree;
    RecordingSubscriber s1, s2;
    tree.subscribe("a/#", &s1, {});
    tree.subscribe("a/#", &s2, {});
    tree.subscribe("a/b", &s1, {});
    CHECK(tree.subscription_count() == 3);
    CHECK(tree.unsubscribe("a/#", &s1));
    CHECK(tree.subscription_count() == 2);
    CHECK(matches(tree, "a/b") == sorted({&s1, &s2}));
    CHECK(matches(tree, "a/c") == Subs{&s2});
    CHECK(matches(tree, "a") == Subs{&s2});
}

TEST_CASE("[MQTT-3.10.4-5] unsubscribing an unknown filter or subscriber returns false") {
    TopicTree tree;
    RecordingSubscriber s1, s2;
    CHECK_FALSE(tree.unsubscribe("a", &s1));
    tree.subscribe("a/b", &s1, {});
    CHECK_FALSE(tree.unsubscribe("a/b", &s2));  // other subscriber
    CHECK_FALSE(tree.unsubscribe("a", &s1));    // prefix node, no subscription
    CHECK_FALSE(tree.unsubscribe("a/+", &s1));
    CHECK_FALSE(tree.unsubscribe("a/b/#", &s1));
    CHECK_FALSE(tree.unsubscribe("a/b/c", &s1));
    CHECK(tree.subscription_count() == 1);
    CHECK(tree.unsubscribe("a/b", &s1));
    CHECK_FALSE(tree.unsubscribe("a/b", &s1));  // twice
    CHECK(tree.subscription_count() == 0);
}

TEST_CASE("pruning an inner node keeps its sibling and ancestor subscriptions") {
    TopicTree tree;
    RecordingSubscriber s;
    tree.subscribe("a", &s, {.subscription_id = 1});
    tree.subscribe("a/b/c", &s, {.subscription_id = 2});
    tree.subscribe("a/+/d", &s, {.subscription_id = 3});
    tree.subscribe("a/#", &s, {.subscription_id = 4});
    CHECK(tree.unsubscribe("a/b/c", &s));  // prunes c and b
    CHECK(tree.unsubscribe("a/#", &s));    // prunes #
    CHECK(tree.subscription_count() == 2);
    CHECK(matches(tree, "a") == Subs{&s});
    CHECK(matches(tree, "a/b/d") == Subs{&s});
    CHECK(matches(tree, "a/b/c").empty());
    // The pruned path can be used again.
    CHECK(tree.subscribe("a/b/c", &s, {}));
    CHECK(matches(tree, "a/b/c") == Subs{&s});
    CHECK(tree.subscription_count() == 3);
}

TEST_CASE("subscribe/unsubscribe many times returns the count to 0 and matches nothing") {
    TopicTree tree;
    std::vector<RecordingSubscriber> subs(8);
    const char* filters[] = {"#", "+", "a", "a/b", "a/+", "a/#", "+/b/#", "/", "a//b", "$SYS/#", "+/+/+"};
    for (int round = 0; round < 50; ++round) {
        for (auto& s : subs)
            for (const char* f : filters) CHECK(tree.subscribe(f, &s, {.qos = uint8_t(round % 3)}));
        CHECK(tree.subscription_count() == subs.size() * std::size(filters));
        // Unsubscribe in a different order than subscribed.
        for (size_t i = std::size(filters); i-- > 0;)
            for (auto& s : subs) CHECK(tree.unsubscribe(filters[i], &s));
        CHECK(tree.subscription_count() == 0);
        for (const char* t : {"a", "a/b", "/", "a//b", "$SYS/x", "x/b/c"}) CHECK(matches(tree, t).empty());
    }
}

TEST_CASE("randomized: TopicTree::match agrees with a reference matcher") {
    std::mt19937 rng(20240611);
    const std::vector<std::string> topic_levels = {"", "$x", "a", "b"};
    const std::vector<std::string> filter_levels = {"", "$x", "a", "b", "+", "+", "#"};
    auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
    auto random_topic = [&] {
        for (;;) {
            std::string t = pick(topic_levels);
            int n = int(rng() % 4);
            for (int i = 0; i < n; ++i) t += "/" + pick(topic_levels);
            if (!t.empty()) return t;  // "" is not a topic name
        }
    };
    auto random_filter = [&] {
        for (;;) {
            int n = 1 + int(rng() % 4);
            std::string f;
            for (int i = 0; i < n; ++i) {
                std::string level = pick(filter_levels);
                if (level == "#" && i != n - 1) level = "+";
                f += (i ? "/" : "") + level;
            }
            if (!f.empty()) return f;  // "" is not a filter
        }
    };

    int nonempty = 0;  // queries with at least one expected match
    for (int iteration = 0; iteration < 200; ++iteration) {
        TopicTree tree;
        std::vector<RecordingSubscriber> subs(3);
        // (subscriber index, filter) -> subscription id
        std::map<std::pair<size_t, std::string>, uint32_t> active;
        uint32_t next_id = 1;
        int nfilters = 1 + int(rng() % 12);
        for (int i = 0; i < nfilters; ++i) {
            std::string f = random_filter();
            REQUIRE(valid_topic_filter(f));
            size_t si = rng() % subs.size();
            uint32_t id = next_id++;
            bool fresh = !active.count({si, f});
            CHECK(tree.subscribe(f, &subs[si], {.subscription_id = id}) == fresh);
            active[{si, f}] = id;
        }
        // Remove some again.
        for (auto it = active.begin(); it != active.end();) {
            if (rng() % 3 == 0) {
                CHECK(tree.unsubscribe(it->first.second, &subs[it->first.first]));
                it = active.erase(it);
            } else {
                ++it;
            }
        }
        REQUIRE(tree.subscription_count() == active.size());

        for (int q = 0; q < 20; ++q) {
            std::string topic = random_topic();
            REQUIRE(valid_topic_name(topic));
            std::multiset<std::pair<Subscriber*, uint32_t>> expected, got;
            for (auto& [key, id] : active)
                if (reference_match(key.second, topic)) expected.insert({&subs[key.first], id});
            tree.match(topic, [&](Subscriber* s, const SubOptions& o) { got.insert({s, o.subscription_id}); });
            if (!expected.empty()) ++nonempty;
            if (got != expected) {
                std::string filters;
                for (auto& [key, id] : active) filters += key.second + " ";
                FAIL_CHECK("topic '" << topic << "' filters: " << filters << " expected "
                                     << expected.size() << " got " << got.size());
            }
        }
    }
    // The generator must exercise actual matches, not only misses.
    MESSAGE("queries with matches: " << nonempty << " of 4000");
    CHECK(nonempty > 400);
}

}  // TEST_SUITE
