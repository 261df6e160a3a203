// RetainedCursor: the retained messages a new subscription still has to
// receive, in topic order, with the one on a topic taken out of order when a
// live message on that topic comes (broker/retained_cursor.h).
#include "broker/retained_cursor.h"

#include "broker/router.h"
#include "test_util.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace duplex;
using duplex::test::make_message;

namespace {

std::vector<std::string> drain(RetainedCursor& c) {
    std::vector<std::string> out;
    while (!c.done()) out.push_back(c.pop()->topic);
    return out;
}

}  // namespace

TEST_SUITE("retained cursor") {

TEST_CASE("hands the snapshot over in topic order and counts what remains") {
    RetainedCursor c({make_message("b"), make_message("c"), make_message("a")});
    CHECK(c.remaining() == 3);
    CHECK(c.peek()->topic == "a");
    CHECK(drain(c) == std::vector<std::string>{"a", "b", "c"});
    CHECK(c.remaining() == 0);
}

TEST_CASE("take(topic) hands that topic's message over once, out of order; the rest keep their order") {
    RetainedCursor c({make_message("a"), make_message("b"), make_message("c"), make_message("d")});
    CHECK(c.take("x") == nullptr);
    MessagePtr m = c.take("c");
    REQUIRE(m);
    CHECK(m->topic == "c");
    CHECK(c.take("c") == nullptr);
    CHECK(c.remaining() == 3);
    CHECK(c.take("a")->topic == "a");
    CHECK(c.peek()->topic == "b");
    CHECK(drain(c) == std::vector<std::string>{"b", "d"});
    CHECK(c.take("d") == nullptr);  // already handed over
}

TEST_CASE("remove_if takes matching messages off") {
    RetainedCursor c({make_message("a", "x", 0), make_message("b", "x", 1), make_message("c", "x", 0)});
    c.remove_if([](const MessagePtr& m) { return m->qos == 0; });
    CHECK(c.remaining() == 1);
    CHECK(drain(c) == std::vector<std::string>{"b"});
}

TEST_CASE("collect offers messages directly while there is room and defers the rest, at most max_deferred") {
    Router r;
    for (int i = 0; i < 10; ++i) r.publish(make_message("r/" + std::to_string(i), "x", 0, true), 0);
    size_t refused = 0;
    int direct = 0;
    auto none = RetainedCursor::collect(r, "r/#", 0, [&](const MessagePtr&) { return ++direct, true; }, 100,
                                        refused);
    CHECK(none == nullptr);  // few matches: no cursor
    CHECK(direct == 10);

    direct = 0;
    auto c = RetainedCursor::collect(r, "r/#", 0, [&](const MessagePtr&) { return ++direct <= 3; }, 5,
                                     refused);
    REQUIRE(c);
    CHECK(direct == 4);  // the fourth was refused and deferred, with every later one
    CHECK(c->remaining() == 5);
    CHECK(refused == 2);
}

}  // TEST_SUITE
