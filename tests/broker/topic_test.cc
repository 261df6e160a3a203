// Topic names, filters and level splitting (MQTT 4.7).
#include "broker/topic.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

using namespace duplex;

namespace {

std::vector<std::string> split(std::string_view topic) {
    std::vector<std::string> out;
    TopicLevels levels(topic);
    std::string_view level;
    while (levels.next(level)) out.emplace_back(level);
    return out;
}

}  // namespace

TEST_SUITE("topic") {

TEST_CASE("TopicLevels splits on '/' and keeps empty levels [MQTT-4.7.1-1]") {
    CHECK(split("a/b/c") == std::vector<std::string>{"a", "b", "c"});
    CHECK(split("a") == std::vector<std::string>{"a"});
    CHECK(split("a//b") == std::vector<std::string>{"a", "", "b"});
    CHECK(split("/") == std::vector<std::string>{"", ""});
    CHECK(split("/a") == std::vector<std::string>{"", "a"});
    CHECK(split("a/") == std::vector<std::string>{"a", ""});
    CHECK(split("//") == std::vector<std::string>{"", "", ""});
    CHECK(split("$SYS/broker") == std::vector<std::string>{"$SYS", "broker"});
    // An empty string is a single empty level.
    CHECK(split("") == std::vector<std::string>{""});
}

TEST_CASE("TopicLevels returns false forever once exhausted") {
    TopicLevels levels("x/y");
    std::string_view l;
    CHECK(levels.next(l));
    CHECK(l == "x");
    CHECK(levels.next(l));
    CHECK(l == "y");
    CHECK_FALSE(levels.next(l));
    CHECK_FALSE(levels.next(l));
    CHECK(l == "y");  // untouched by a failing next()
}

TEST_CASE("[MQTT-4.7.3-1] topic names are non-empty") {
    CHECK_FALSE(valid_topic_name(""));
}

TEST_CASE("[MQTT-4.7.0-1] topic names must not contain wildcard characters") {
    CHECK_FALSE(valid_topic_name("+"));
    CHECK_FALSE(valid_topic_name("#"));
    CHECK_FALSE(valid_topic_name("a/+"));
    CHECK_FALSE(valid_topic_name("a/#"));
    CHECK_FALSE(valid_topic_name("a+b"));
    CHECK_FALSE(valid_topic_name("sport/tennis#"));
}

TEST_CASE("valid topic names include empty levels, '$' topics and spaces [MQTT-4.7.3]") {
    CHECK(valid_topic_name("a"));
    CHECK(valid_topic_name("a/b"));
    CHECK(valid_topic_name("/a"));
    CHECK(valid_topic_name("a/"));
    CHECK(valid_topic_name("/"));
    CHECK(valid_topic_name("a//b"));
    CHECK(valid_topic_name("$SYS/x"));
    CHECK(valid_topic_name("$"));
    CHECK(valid_topic_name("sport/tennis player"));
    CHECK(valid_topic_name("ACCOUNTS"));
}

TEST_CASE("[MQTT-4.7.1-2] multi-level wildcard only as the last level") {
    CHECK(valid_topic_filter("#"));
    CHECK(valid_topic_filter("sport/tennis/player1/#"));
    CHECK(valid_topic_filter("sport/#"));
    CHECK(valid_topic_filter("/#"));
    CHECK(valid_topic_filter("$SYS/#"));
    CHECK(valid_topic_filter("a//#"));
    CHECK_FALSE(valid_topic_filter("sport/tennis#"));
    CHECK_FALSE(valid_topic_filter("sport/tennis/#/ranking"));
    CHECK_FALSE(valid_topic_filter("#/a"));
    CHECK_FALSE(valid_topic_filter("#/"));
    CHECK_FALSE(valid_topic_filter("#/#"));
    CHECK_FALSE(valid_topic_filter("a/b#"));
    CHECK_FALSE(valid_topic_filter("##"));
}

TEST_CASE("[MQTT-4.7.1-3] single-level wildcard occupies an entire level") {
    CHECK(valid_topic_filter("+"));
    CHECK(valid_topic_filter("+/tennis/#"));
    CHECK(valid_topic_filter("sport/+/player1"));
    CHECK(valid_topic_filter("+/+"));
    CHECK(valid_topic_filter("/+"));
    CHECK(valid_topic_filter("+/"));
    CHECK(valid_topic_filter("a/+/c"));
    CHECK(valid_topic_filter("+/#"));
    CHECK_FALSE(valid_topic_filter("sport+"));
    CHECK_FALSE(valid_topic_filter("a+"));
    CHECK_FALSE(valid_topic_filter("+a"));
    CHECK_FALSE(valid_topic_filter("a/b+/c"));
    CHECK_FALSE(valid_topic_filter("++"));
    CHECK_FALSE(valid_topic_filter("+#"));
}

TEST_CASE("[MQTT-4.7.3-1] topic filters are non-empty; plain names are valid filters") {
    CHECK_FALSE(valid_topic_filter(""));
    CHECK(valid_topic_filter("a"));
    CHECK(valid_topic_filter("/"));
    CHECK(valid_topic_filter("a//b"));
    CHECK(valid_topic_filter("a/"));
    CHECK(valid_topic_filter("$SYS/monitor/Clients"));
}

TEST_CASE("has_wildcard") {
    CHECK(has_wildcard("+"));
    CHECK(has_wildcard("a/#"));
    CHECK(has_wildcard("a+b"));
    CHECK_FALSE(has_wildcard("a/b"));
    CHECK_FALSE(has_wildcard(""));
    CHECK_FALSE(has_wildcard("$SYS"));
}

}  // TEST_SUITE
