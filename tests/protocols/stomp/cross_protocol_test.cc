// Bytes that cross from one protocol to another are valid in the target
// protocol or are not sent: STOMP text refused at the way in, MQTT text that
// a STOMP version cannot carry not delivered to that subscriber.
#include "base/utf8.h"
#include "tests/support/harness.h"

#include <doctest/doctest.h>

using namespace duplex;
using namespace duplex::test;
using namespace std::string_literals;

namespace {

// A STOMP client of `v`, connected and subscribed to /topic/t.
st::Client& subscribed(Harness& h, std::unique_ptr<st::Client>& c, stomp::Version v) {
    c = std::make_unique<st::Client>(h, v);
    REQUIRE(c->connect().command == "CONNECTED");
    c->send("SUBSCRIBE", {{"destination", "/topic/t"}, {"id", "s"}});
    c->receive();
    return *c;
}

}  // namespace

TEST_SUITE("cross protocol") {

TEST_CASE("STOMP headers that are not UTF-8 or hold NUL are refused with ERROR at the way in [MQTT-1.5.4-1/2]") {
    for (std::string bad : {"\xff"s, "a\0b"s, "\xc0\xaf"s, "\xed\xa0\x80"s}) {
        Harness h;
        mq::Client sub(h, mqtt::Version::v5);
        sub.connect("sub");
        sub.subscribe("t", 0);
        st::Client c(h);
        REQUIRE(c.connect().command == "CONNECTED");
        // The raw frame: serialize() would not write NUL in a header.
        c.send_raw("SEND\ndestination:/topic/t\nk:" + bad + "\n\nbody"s + '\0');
        auto frames = c.receive();
        REQUIRE_FALSE(frames.empty());
        CHECK(frames.back().command == "ERROR");
        CHECK(duplex::valid_utf8(frames.back().get("message")));
        CHECK(c.peer.transport.closed());
        // Nothing reached the MQTT 5 subscriber, which would have got a malformed PUBLISH.
        CHECK(mq::only<mqtt::Publish>(sub.receive()).empty());
        CHECK(sub.error.empty());
    }
    // In a header name and in content-type (an MQTT 5 property) too.
    Harness h;
    st::Client c(h);
    REQUIRE(c.connect().command == "CONNECTED");
    c.send_raw("SEND\ndestination:/topic/t\ncontent-type:\xff\n\nx"s + '\0');
    CHECK(c.receive().back().command == "ERROR");
}

TEST_CASE("a line break in an MQTT topic or property never becomes a forged STOMP header or frame") {
    Harness h;
    std::unique_ptr<st::Client> v10, v11, v12;
    subscribed(h, v10, stomp::Version::v10);
    subscribed(h, v11, stomp::Version::v11);
    subscribed(h, v12, stomp::Version::v12);
    mq::Client pub(h, mqtt::Version::v5);
    pub.connect("pub");
    auto with_property = [&](std::string key, std::string value) {
        mqtt::Publish p = mq::publish_packet("t", "x", 0);
        p.properties.user_properties.push_back({key, value});
        return p;
    };
    // LF: 1.1 and 1.2 escape it, 1.0 cannot: not delivered to 1.0.
    pub.send(with_property("k", "a\nMESSAGE\ninjected:1"));
    // CR: only 1.2 escapes it.
    pub.send(with_property("k", "a\rb"));
    auto got10 = v10->receive(), got11 = v11->receive(), got12 = v12->receive();
    CHECK(v10->error.empty());
    CHECK(v11->error.empty());
    CHECK(v12->error.empty());
    CHECK(st::Client::of(got10, "MESSAGE").empty());
    REQUIRE(st::Client::of(got11, "MESSAGE").size() == 1);
    CHECK(got11[0].get("k") == "a\nMESSAGE\ninjected:1");  // one header, escaped and unescaped again
    CHECK(got11[0].header("injected") == nullptr);
    REQUIRE(st::Client::of(got12, "MESSAGE").size() == 2);
    CHECK(got12[1].get("k") == "a\rb");
    // The subscribers are still fine afterwards.
    pub.send(mq::publish_packet("t", "clean", 0));
    CHECK(st::Client::of(v10->receive(), "MESSAGE").size() == 1);
    CHECK(st::Client::of(v11->receive(), "MESSAGE").size() == 1);
}

}  // TEST_SUITE

TEST_SUITE("stomp input") {

TEST_CASE("a frame fed one byte at a time is parsed once it is complete, with or without content-length") {
    using namespace duplex::test::st;
    Harness h;
    std::unique_ptr<st::Client> sub;
    subscribed(h, sub, stomp::Version::v12);
    st::Client pub(h);
    REQUIRE(pub.connect().command == "CONNECTED");
    std::string body_with_nuls("a\0b\0c", 5);
    std::string frames = frame("SEND", {{"destination", "/topic/t"}}, "plain") +
                         frame("SEND", {{"destination", "/topic/t"}, {"content-length", "5"}}, body_with_nuls);
    for (char c : frames) pub.send_raw(std::string(1, c));
    auto got = st::Client::of(sub->receive(), "MESSAGE");
    REQUIRE(got.size() == 2);
    CHECK(got[0].body == "plain");
    CHECK(got[1].body == body_with_nuls);
    CHECK_FALSE(pub.peer.transport.closed());
}

TEST_CASE("an oversized frame that never ends is still refused while it is being skipped over") {
    Config c = test_config();
    c.limits.max_packet_size = 1024;
    Harness h(c);
    st::Client pub(h);
    REQUIRE(pub.connect().command == "CONNECTED");
    pub.send_raw("SEND\ndestination:/topic/t\n\n");
    for (int i = 0; i < 200 && !pub.peer.transport.closed(); ++i) pub.send_raw(std::string(512, 'x'));
    CHECK(pub.peer.transport.closed());
}

}  // TEST_SUITE
