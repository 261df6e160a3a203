// Three deviations from the spec that mosquitto's byte-exact broker tests
// found, each pinned here.
#include "tests/support/harness.h"

#include <doctest/doctest.h>

using namespace duplex;
using namespace duplex::test;
using namespace duplex::test::mq;

TEST_SUITE("mqtt deviations") {

TEST_CASE("MQTT 5: a PUBREC with a reason code >= 0x80 ends the QoS 2 flow: no PUBREL, quota free [MQTT-4.3.3-4]") {
    Harness h;
    Client sub(h, mqtt::Version::v5);
    mqtt::Connect c = connect_packet("sub", mqtt::Version::v5);
    c.properties.receive_maximum = 1;  // one QoS 2 message in flight at a time
    REQUIRE(sub.connect(c).reason_code == 0);
    sub.subscribe("t", 2);
    Client pub(h, mqtt::Version::v5);
    pub.connect("pub");
    pub.send(publish_packet("t", "one", 2, 1));
    pub.send(publish_packet("t", "two", 2, 2));
    pub.receive();
    auto first = only<mqtt::Publish>(sub.receive());
    REQUIRE(first.size() == 1);
    CHECK(first[0].payload == "one");
    mqtt::Ack rec = mqtt::ack(mqtt::PacketType::Pubrec, first[0].packet_id);
    rec.reason_code = 0x80;  // unspecified error
    sub.send(rec);
    auto next = sub.receive();
    CHECK(only<mqtt::Ack>(next).empty());  // no PUBREL for the failed flow
    auto second = only<mqtt::Publish>(next);
    REQUIRE(second.size() == 1);  // the slot is free: delivery goes on
    CHECK(second[0].payload == "two");
}

TEST_CASE("MQTT 3.1 (MQIsdp): the CONNACK's first byte is reserved, even for a resumed session") {
    Harness h;
    for (int round = 0; round < 2; ++round) {
        Client c(h, mqtt::Version::v31);
        c.send(connect_packet("dev", mqtt::Version::v31, /*clean=*/false));
        std::string raw = c.peer.read();
        REQUIRE(raw.size() == 4);
        CHECK(raw[0] == '\x20');
        CHECK(raw[2] == '\0');  // round 1 resumes the session: 3.1.1 would say 1 here
        CHECK(raw[3] == '\0');
        c.peer.drop();
    }
}

TEST_CASE("MQTT 5: a DISCONNECT too big for the client's Maximum Packet Size goes without its Reason String [MQTT-3.1.2-24]") {
    Harness h;
    Client c(h, mqtt::Version::v5);
    mqtt::Connect con = connect_packet("small", mqtt::Version::v5);
    con.properties.maximum_packet_size = 20;
    REQUIRE(c.connect(con).reason_code == 0);
    c.send(con);  // a second CONNECT: protocol error, DISCONNECT with a long reason string
    auto got = c.receive();
    REQUIRE(c.error.empty());
    auto d = only<mqtt::Disconnect>(got);
    REQUIRE(d.size() == 1);
    CHECK(d[0].reason_code == 0x82);
    CHECK_FALSE(d[0].properties.reason_string.has_value());
    CHECK(c.peer.transport.closed());
}

}  // TEST_SUITE
