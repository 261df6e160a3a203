// MQTT codec: packet formats of 3.1, 3.1.1 and 5.0, valid and malformed.
// Test names carry the spec tag (5.0 numbering unless marked 3.1.1).
#include "tests/protocols/mqtt/test_util.h"

#include <array>

using namespace mqtt_test;

namespace {

constexpr Version kV31 = Version::v31, kV311 = Version::v311, kV5 = Version::v5;

template <class T>
const T& as(const Parsed& p) {
    REQUIRE(p.result.status == ParseStatus::Ok);
    REQUIRE(std::holds_alternative<T>(p.packet));
    return std::get<T>(p.packet);
}

// Parses `h`, expects one whole packet, and that serialize() gives the same bytes back.
template <class T>
T round_trip(std::string_view h, Version v) {
    Parsed p = parse_hex(h, v);
    INFO("input ", h, " error ", (p.result.error ? p.result.error : ""));
    REQUIRE(p.result.status == ParseStatus::Ok);
    CHECK(p.result.consumed == p.bytes.size());
    CHECK(ser(p.packet, v) == norm(h));
    return as<T>(p);  // views stay valid only for scalar checks; copy is fine for those
}

void expect(std::string_view h, Version v, ParseStatus status, Reason reason, std::string_view tag = {}) {
    Parsed p = parse_hex(h, v);
    INFO("input ", h, " error ", (p.result.error ? p.result.error : "(none)"));
    CHECK(p.result.status == status);
    CHECK(p.result.reason == reason);
    CHECK(p.result.consumed == 0);
    if (status != ParseStatus::NeedMore) REQUIRE(p.result.error != nullptr);
    if (!tag.empty()) CHECK(std::string_view(p.result.error).find(tag) != std::string_view::npos);
}

void malformed(std::string_view h, Version v, std::string_view tag = {}) {
    expect(h, v, ParseStatus::Malformed, Reason::MalformedPacket, tag);
}
void protocol_error(std::string_view h, Version v, std::string_view tag = {}) {
    expect(h, v, ParseStatus::ProtocolError, Reason::ProtocolError, tag);
}

// Valid packets of every type and version, used by the truncation test.
struct Sample {
    const char* hex;
    Version version;
};
const Sample kValid[] = {
    {"10 0f 00 06 4d 51 49 73 64 70 03 02 00 3c 00 01 63", kV31},
    {"10 0c 00 04 4d 51 54 54 04 02 00 3c 00 00", kV311},
    {"10 1d 00 04 4d 51 54 54 04 ee 00 1e 00 03 63 69 64 00 01 77 00 03 62 79 65 00 01 75 00 01 70", kV311},
    {"10 16 00 04 4d 51 54 54 05 02 00 3c 08 11 00 00 0e 10 21 00 14 00 01 63", kV5},
    {"10 1b 00 04 4d 51 54 54 05 0e 00 3c 00 00 01 63 05 18 00 00 00 05 00 01 77 00 02 01 02", kV5},
    {"20 02 01 00", kV311},
    {"20 08 00 00 05 21 00 0a 24 01", kV5},
    {"30 07 00 03 61 2f 62 68 69", kV311},
    {"32 09 00 03 61 2f 62 00 0a 68 69", kV31},
    {"32 0c 00 03 61 2f 62 00 0a 02 01 01 68 69", kV5},
    {"40 02 00 0a", kV311},
    {"50 03 00 0a 10", kV5},
    {"62 02 00 0a", kV5},
    {"70 07 00 0a 92 03 1f 00 00", kV5},
    {"82 08 00 01 00 03 61 2f 23 01", kV311},
    {"82 09 00 01 02 0b 05 00 01 61 2d", kV5},
    {"90 04 00 01 00 80", kV311},
    {"90 05 00 01 00 00 8f", kV5},
    {"a2 05 00 02 00 01 61", kV311},
    {"a2 06 00 02 00 00 01 61", kV5},
    {"b0 02 00 02", kV311},
    {"b0 05 00 02 00 00 11", kV5},
    {"c0 00", kV311},
    {"d0 00", kV5},
    {"e0 00", kV311},
    {"e0 07 8b 05 11 00 00 00 00", kV5},
    {"f0 06 18 04 15 00 01 6d", kV5},
};

}  // namespace

// ---------------------------------------------------------------------------
// Fixed header, lengths, streaming

TEST_CASE("[MQTT-2.1.4] every valid sample parses whole and re-serializes to the same bytes") {
    for (const auto& s : kValid) {
        INFO(s.hex);
        Parsed p = parse_hex(s.hex, s.version);
        REQUIRE(p.result.status == ParseStatus::Ok);
        CHECK(p.result.consumed == p.bytes.size());
        const Version ev = std::holds_alternative<Connect>(p.packet) ? std::get<Connect>(p.packet).version : s.version;
        CHECK(ser(p.packet, ev) == norm(s.hex));
    }
}

TEST_CASE("[MQTT-2.1.4] incomplete input returns NeedMore at every truncation point") {
    for (const auto& s : kValid) {
        const Bytes full = hex(s.hex);
        for (size_t n = 0; n < full.size(); ++n) {
            INFO(s.hex, " truncated to ", n);
            Parsed p = parse_bytes(Bytes(full.begin(), full.begin() + static_cast<long>(n)), s.version);
            CHECK(p.result.status == ParseStatus::NeedMore);
            CHECK(p.result.consumed == 0);
            size_t len = 0;
            ParseResult pr = peek_length(p.bytes, kMax, len);
            if (n >= 2) {
                CHECK(pr.status == ParseStatus::Ok);
                CHECK(len == full.size());
            } else {
                CHECK(pr.status == ParseStatus::NeedMore);
            }
        }
    }
}

TEST_CASE("[MQTT-2.1.4] parse consumes exactly one packet of a stream and never reads the next") {
    const Bytes two = hex("c0 00 30 07 00 03 61 2f 62 68 69");
    Packet p;
    ParseResult r = parse(two, kV311, kMax, p);
    REQUIRE(r.status == ParseStatus::Ok);
    CHECK(r.consumed == 2);
    CHECK(std::holds_alternative<Pingreq>(p));
    r = parse(std::span(two).subspan(2), kV311, kMax, p);
    REQUIRE(r.status == ParseStatus::Ok);
    CHECK(r.consumed == 9);
    CHECK(std::get<Publish>(p).payload == "hi");
}

TEST_CASE("[MQTT-2.1.4] payload ends at the remaining length, not at the end of the buffer") {
    Parsed p = parse_hex("30 05 00 01 61 68 69 ff ff ff", kV311);
    const auto& pub = as<Publish>(p);
    CHECK(p.result.consumed == 7);
    CHECK(pub.payload == "hi");
}

TEST_CASE("[MQTT-1.5.5] peek_length reads only the fixed header") {
    size_t len = 0;
    CHECK(peek_length(hex("30"), kMax, len).status == ParseStatus::NeedMore);
    CHECK(peek_length(hex("30 80"), kMax, len).status == ParseStatus::NeedMore);
    CHECK(peek_length(hex("30 ff ff ff"), kMax, len).status == ParseStatus::NeedMore);
    REQUIRE(peek_length(hex("30 00"), kMax, len).status == ParseStatus::Ok);
    CHECK(len == 2);
    REQUIRE(peek_length(hex("30 7f"), kMax, len).status == ParseStatus::Ok);
    CHECK(len == 129);
    REQUIRE(peek_length(hex("30 80 01"), kMax, len).status == ParseStatus::Ok);
    CHECK(len == 131);
    REQUIRE(peek_length(hex("30 ff 7f"), kMax, len).status == ParseStatus::Ok);
    CHECK(len == 3 + 16383);
    REQUIRE(peek_length(hex("30 80 80 01"), kMax, len).status == ParseStatus::Ok);
    CHECK(len == 4 + 16384);
    REQUIRE(peek_length(hex("30 ff ff ff 7f"), SIZE_MAX, len).status == ParseStatus::Ok);
    CHECK(len == 5 + 268435455);
}

TEST_CASE("[MQTT-1.5.5] remaining length longer than 4 bytes is malformed") {
    size_t len = 0;
    ParseResult r = peek_length(hex("30 ff ff ff ff 01"), SIZE_MAX, len);
    CHECK(r.status == ParseStatus::Malformed);
    CHECK(r.reason == Reason::MalformedPacket);
    malformed("30 80 80 80 80 01", kV311, "2.1.4");
}

TEST_CASE("[MQTT-1.5.5-1] remaining length not minimally encoded is malformed") {
    malformed("c0 80 00", kV311, "[MQTT-1.5.5-1]");
    malformed("30 85 80 00", kV5, "[MQTT-1.5.5-1]");
}

TEST_CASE("[MQTT-3.2.2-15] packet above the maximum size is TooLarge before its body arrives") {
    size_t len = 0;
    // Only the fixed header of a 200-byte PUBLISH has arrived.
    ParseResult r = peek_length(hex("30 c6 01"), 100, len);
    CHECK(r.status == ParseStatus::TooLarge);
    CHECK(r.reason == Reason::PacketTooLarge);
    CHECK(len == 201);
    Packet p;
    r = parse(hex("30 c6 01 00"), kV311, 100, p);
    CHECK(r.status == ParseStatus::TooLarge);
    CHECK(r.reason == Reason::PacketTooLarge);
    // The limit is the whole packet size, fixed header included.
    CHECK(parse_hex("30 07 00 03 61 2f 62 68 69", kV311, 9).result.status == ParseStatus::Ok);
    CHECK(parse_hex("30 07 00 03 61 2f 62 68 69", kV311, 8).result.status == ParseStatus::TooLarge);
}

TEST_CASE("[MQTT-2.1.2] packet type 0 is reserved; AUTH (15) is reserved before 5.0") {
    malformed("00 00", kV311, "reserved");
    malformed("00 00", kV5, "reserved");
    malformed("07 02 00 0a", kV5, "reserved");  // flags of a reserved type are not looked at
    malformed("f2 00", kV311, "AUTH");
    malformed("f0 00", kV311, "AUTH");
    malformed("f0 00", kV31, "AUTH");
}

TEST_CASE("[MQTT-2.2.2-1][MQTT-2.2.2-2] reserved fixed-header flags must match table 2.2") {
    malformed("11 0c 00 04 4d 51 54 54 04 02 00 3c 00 00", kV311, "CONNECT");
    malformed("28 02 00 00", kV311, "CONNACK");
    malformed("41 02 00 0a", kV311, "PUBACK");
    malformed("52 02 00 0a", kV5, "PUBREC");
    malformed("60 02 00 0a", kV311, "[MQTT-3.6.1-1]");
    malformed("72 02 00 0a", kV311, "PUBCOMP");
    malformed("80 08 00 01 00 03 61 2f 23 01", kV311, "[MQTT-3.8.1-1]");
    malformed("83 08 00 01 00 03 61 2f 23 01", kV5, "[MQTT-3.8.1-1]");
    malformed("92 03 00 01 00", kV311, "SUBACK");
    malformed("a0 05 00 02 00 01 61", kV311, "[MQTT-3.10.1-1]");
    malformed("b4 02 00 02", kV311, "UNSUBACK");
    malformed("c1 00", kV311, "PINGREQ");
    malformed("d8 00", kV5, "PINGRESP");
    malformed("e2 00", kV311, "DISCONNECT");
    malformed("f1 00", kV5, "AUTH");
    // 3.1.1 and 5.0 have no DUP on SUBSCRIBE.
    malformed("8a 08 00 01 00 03 61 2f 23 01", kV311, "[MQTT-3.8.1-1]");
}

TEST_CASE("[MQTT-2.2.2-1] MQTT 3.1 allows DUP on PUBREL, SUBSCRIBE and UNSUBSCRIBE retransmissions") {
    CHECK(as<Subscribe>(parse_hex("8a 08 00 01 00 03 61 2f 23 01", kV31)).topics.size() == 1);
    CHECK(as<Ack>(parse_hex("6a 02 00 0a", kV31)).type == PacketType::Pubrel);
    CHECK(as<Unsubscribe>(parse_hex("aa 05 00 02 00 01 61", kV31)).filters.size() == 1);
}

// ---------------------------------------------------------------------------
// CONNECT

TEST_CASE("[MQTT-3.1.2-1] MQTT 3.1 CONNECT (MQIsdp, level 3)") {
    const auto c = round_trip<Connect>("10 0f 00 06 4d 51 49 73 64 70 03 02 00 3c 00 01 63", kV31);
    CHECK(c.version == kV31);
    CHECK(c.clean_start);
    CHECK(c.keep_alive == 60);
    CHECK_FALSE(c.will);
    CHECK_FALSE(c.username);
    CHECK_FALSE(c.password);
}

TEST_CASE("[MQTT-3.1.2-1] CONNECT carries its own version whatever version parse() is given") {
    for (Version given : {kV31, kV311, kV5}) {
        CHECK(as<Connect>(parse_hex("10 0c 00 04 4d 51 54 54 04 02 00 3c 00 00", given)).version == kV311);
        CHECK(as<Connect>(parse_hex("10 0f 00 06 4d 51 49 73 64 70 03 02 00 3c 00 01 63", given)).version == kV31);
        CHECK(as<Connect>(parse_hex("10 0d 00 04 4d 51 54 54 05 02 00 3c 00 00 00", given)).version == kV5);
    }
}

TEST_CASE("[MQTT-3.1.3-1] 3.1.1 CONNECT with will, user name and password") {
    Parsed p = parse_hex("10 1d 00 04 4d 51 54 54 04 ee 00 1e 00 03 63 69 64 00 01 77 00 03 62 79 65 00 01 75 00 01 70", kV311);
    const auto& c = as<Connect>(p);
    CHECK(c.version == kV311);
    CHECK(c.clean_start);
    CHECK(c.keep_alive == 30);
    CHECK(c.client_id == "cid");
    CHECK(c.will);
    CHECK(c.will_qos == 1);
    CHECK(c.will_retain);
    CHECK(c.will_topic == "w");
    CHECK(c.will_payload == "bye");
    REQUIRE(c.username);
    CHECK(*c.username == "u");
    REQUIRE(c.password);
    CHECK(*c.password == "p");
    CHECK(ser(p.packet, kV311) == to_hex(p.bytes));
}

TEST_CASE("[MQTT-3.1.2-1] 5.0 CONNECT with properties and will properties") {
    Parsed p = parse_hex("10 16 00 04 4d 51 54 54 05 02 00 3c 08 11 00 00 0e 10 21 00 14 00 01 63", kV5);
    const auto& c = as<Connect>(p);
    CHECK(c.version == kV5);
    CHECK(c.properties.session_expiry_interval == 3600u);
    CHECK(c.properties.receive_maximum == 20);
    CHECK(c.client_id == "c");
    CHECK(ser(p.packet, kV5) == to_hex(p.bytes));

    Parsed w = parse_hex("10 1b 00 04 4d 51 54 54 05 0e 00 3c 00 00 01 63 05 18 00 00 00 05 00 01 77 00 02 01 02", kV5);
    const auto& cw = as<Connect>(w);
    CHECK(cw.will);
    CHECK(cw.will_qos == 1);
    CHECK(cw.will_properties.will_delay_interval == 5u);
    CHECK(cw.will_topic == "w");
    CHECK(cw.will_payload == std::string_view("\x01\x02", 2));
    CHECK(ser(w.packet, kV5) == to_hex(w.bytes));
}

TEST_CASE("[MQTT-3.1.2-2] unsupported protocol name/level is UnsupportedProtocolVersion") {
    const auto unsupported = [](std::string_view h) {
        expect(h, kV311, ParseStatus::ProtocolError, Reason::UnsupportedProtocolVersion, "[MQTT-3.1.2-2]");
    };
    unsupported("10 0c 00 04 4d 51 54 54 03 02 00 3c 00 00");             // MQTT level 3
    unsupported("10 0c 00 04 4d 51 54 54 06 02 00 3c 00 00");             // MQTT level 6
    unsupported("10 0e 00 06 4d 51 49 73 64 70 04 02 00 3c 00 00");       // MQIsdp level 4
    unsupported("10 0c 00 04 4d 51 58 58 04 02 00 3c 00 00");             // MQXX
    unsupported("10 0c 00 04 6d 71 74 74 04 02 00 3c 00 00");             // lower case
}

TEST_CASE("[MQTT-3.1.2-3] CONNECT reserved flag must be 0") {
    malformed("10 0c 00 04 4d 51 54 54 04 03 00 3c 00 00", kV311, "[MQTT-3.1.2-3]");
    malformed("10 0d 00 04 4d 51 54 54 05 01 00 3c 00 00 00", kV5, "[MQTT-3.1.2-3]");
}

TEST_CASE("[MQTT-3.1.2-13][MQTT-3.1.2-15] (3.1.1) Will QoS and Will Retain must be 0 without the Will Flag") {
    malformed("10 0c 00 04 4d 51 54 54 04 0a 00 3c 00 00", kV311, "Will QoS");    // qos 1, no will
    malformed("10 0c 00 04 4d 51 54 54 04 12 00 3c 00 00", kV311, "Will QoS");    // qos 2, no will
    malformed("10 0c 00 04 4d 51 54 54 04 22 00 3c 00 00", kV311, "Will Retain"); // retain, no will
    malformed("10 0d 00 04 4d 51 54 54 05 22 00 3c 00 00 00", kV5, "[MQTT-3.1.2-13]");
}

TEST_CASE("[MQTT-3.1.2-14] (3.1.1) Will QoS 3 is malformed") {
    malformed("10 12 00 04 4d 51 54 54 04 1e 00 3c 00 00 00 01 77 00 01 78", kV311, "Will QoS must not be 3");
}

TEST_CASE("[MQTT-3.1.2-22] (3.1.1) password without user name is malformed; 5.0 allows it") {
    malformed("10 0f 00 04 4d 51 54 54 04 42 00 3c 00 00 00 01 70", kV311, "[MQTT-3.1.2-22]");
    malformed("10 11 00 06 4d 51 49 73 64 70 03 42 00 3c 00 00 00 01 70", kV31, "[MQTT-3.1.2-22]");
    const auto c = round_trip<Connect>("10 10 00 04 4d 51 54 54 05 42 00 3c 00 00 00 00 01 70", kV5);
    CHECK_FALSE(c.username);
    CHECK(c.password.has_value());
}

TEST_CASE("[MQTT-3.1.3-1] CONNECT fields must fit, in order, with no trailing bytes") {
    malformed("10 0d 00 04 4d 51 54 54 04 02 00 3c 00 00 00", kV311, "CONNECT");   // trailing byte
    malformed("10 0b 00 04 4d 51 54 54 04 02 00 3c 00", kV311);                   // client id length cut
    malformed("10 0c 00 04 4d 51 54 54 04 02 00 3c 00 05", kV311, "[MQTT-1.5.4]"); // client id too long
    malformed("10 0c 00 04 4d 51 54 54 04 82 00 3c 00 00", kV311);                 // user name flag, no user
    malformed("10 03 00 04 4d", kV311);                                           // protocol name cut
    malformed("10 0c 00 04 4d 51 54 54 05 02 00 3c 00 00", kV5);                  // 5.0 needs property length
}

TEST_CASE("[MQTT-1.5.4-1] CONNECT strings must be valid UTF-8") {
    malformed("10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 c3 28", kV311, "[MQTT-1.5.4-1]");      // client id
    malformed("10 10 00 04 4d 51 54 54 04 82 00 3c 00 00 00 02 ed a0", kV311, "[MQTT-1.5.4-1]"); // user name
    malformed("10 12 00 04 4d 51 54 54 04 06 00 3c 00 00 00 02 c0 80 00 00", kV311);             // will topic
    malformed("10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 00", kV311, "[MQTT-1.5.4-2]");          // U+0000
    // Password and will payload are binary: any bytes.
    CHECK(parse_hex("10 13 00 04 4d 51 54 54 04 c2 00 3c 00 00 00 01 75 00 02 ff 00", kV311).result.status == ParseStatus::Ok);
}

TEST_CASE("[MQTT-3.3.2-2] CONNECT will topic must not contain wildcards") {
    expect("10 12 00 04 4d 51 54 54 04 06 00 3c 00 00 00 01 23 00 01 78", kV311, ParseStatus::ProtocolError,
           Reason::TopicNameInvalid, "[MQTT-3.3.2-2]");
}

// ---------------------------------------------------------------------------
// CONNACK

TEST_CASE("[MQTT-3.2.2-1] 3.1.1 CONNACK session present and return code") {
    auto c = round_trip<Connack>("20 02 01 00", kV311);
    CHECK(c.session_present);
    CHECK(c.reason_code == 0);
    c = round_trip<Connack>("20 02 00 05", kV311);
    CHECK_FALSE(c.session_present);
    CHECK(c.reason_code == 5);
    malformed("20 02 02 00", kV311, "[MQTT-3.2.2-1]");
    malformed("20 02 80 00", kV5, "[MQTT-3.2.2-1]");
    protocol_error("20 02 00 06", kV311, "reserved");
    protocol_error("20 02 01 05", kV311, "Session Present");
    malformed("20 03 00 00 00", kV311, "CONNACK");
    malformed("20 01 00", kV311);
}

TEST_CASE("[MQTT-3.2.2-8] 5.0 CONNACK reason codes and properties") {
    auto c = round_trip<Connack>("20 03 00 00 00", kV5);
    CHECK(c.reason_code == 0);
    Parsed p = parse_hex("20 08 00 00 05 21 00 0a 24 01", kV5);
    CHECK(as<Connack>(p).properties.receive_maximum == 10);
    CHECK(as<Connack>(p).properties.maximum_qos == 1);
    c = round_trip<Connack>("20 03 00 84 00", kV5);
    CHECK(c.reason_code == 0x84);
    protocol_error("20 03 00 05 00", kV5, "[MQTT-3.2.2-8]");
    malformed("20 02 00 00", kV5);  // property length missing
}

// ---------------------------------------------------------------------------
// PUBLISH

TEST_CASE("[MQTT-3.3.1-1] PUBLISH QoS 0/1/2, DUP and RETAIN") {
    for (Version v : {kV31, kV311}) {
        auto p = round_trip<Publish>("30 07 00 03 61 2f 62 68 69", v);
        CHECK(p.qos == 0);
        CHECK_FALSE(p.dup);
        CHECK_FALSE(p.retain);
        CHECK(p.packet_id == 0);
        p = round_trip<Publish>("32 09 00 03 61 2f 62 00 0a 68 69", v);
        CHECK(p.qos == 1);
        CHECK(p.packet_id == 10);
        p = round_trip<Publish>("3d 05 00 01 78 ff ff", v);
        CHECK(p.qos == 2);
        CHECK(p.dup);
        CHECK(p.retain);
        CHECK(p.packet_id == 0xffff);
    }
    Parsed x = parse_hex("32 09 00 03 61 2f 62 00 0a 68 69", kV311);
    CHECK(as<Publish>(x).topic == "a/b");
    CHECK(as<Publish>(x).payload == "hi");
    Parsed e = parse_hex("30 03 00 01 61", kV311);
    CHECK(as<Publish>(e).payload.empty());
}

TEST_CASE("[MQTT-3.3.2-3] 5.0 PUBLISH with properties") {
    Parsed p = parse_hex("32 0c 00 03 61 2f 62 00 0a 02 01 01 68 69", kV5);
    const auto& pub = as<Publish>(p);
    CHECK(pub.properties.payload_format_indicator == 1);
    CHECK(pub.payload == "hi");
    CHECK(ser(p.packet, kV5) == to_hex(p.bytes));
    round_trip<Publish>("30 05 00 01 61 00 78", kV5);
}

TEST_CASE("[MQTT-3.3.1-4] PUBLISH QoS 3 is malformed") {
    malformed("36 05 00 01 61 00 01", kV311, "[MQTT-3.3.1-4]");
    malformed("3e 06 00 01 61 00 01 00", kV5, "[MQTT-3.3.1-4]");
}

TEST_CASE("[MQTT-3.3.2-2] PUBLISH topic with wildcards is TopicNameInvalid") {
    expect("30 05 00 03 61 2f 2b", kV311, ParseStatus::ProtocolError, Reason::TopicNameInvalid, "[MQTT-3.3.2-2]");
    expect("30 04 00 01 23 00", kV5, ParseStatus::ProtocolError, Reason::TopicNameInvalid, "[MQTT-3.3.2-2]");
    expect("32 07 00 03 61 23 62 00 01", kV31, ParseStatus::ProtocolError, Reason::TopicNameInvalid);
}

TEST_CASE("[MQTT-4.7.3-1] PUBLISH topic must not be empty unless a 5.0 Topic Alias is given") {
    expect("30 03 00 00 78", kV311, ParseStatus::ProtocolError, Reason::TopicNameInvalid, "[MQTT-4.7.3-1]");
    expect("30 04 00 00 00 78", kV5, ParseStatus::ProtocolError, Reason::TopicNameInvalid, "[MQTT-4.7.3-1]");
    const auto p = round_trip<Publish>("30 07 00 00 03 23 00 01 78", kV5);
    CHECK(p.properties.topic_alias == 1);
    CHECK(p.topic.empty());
}

TEST_CASE("[MQTT-2.3.1-1] PUBLISH with QoS > 0 needs a non-zero packet identifier") {
    malformed("32 07 00 03 61 2f 62 00 00", kV311, "[MQTT-2.3.1-1]");
    malformed("34 08 00 03 61 2f 62 00 00 00", kV5, "[MQTT-2.2.1-3]");
    malformed("32 04 00 01 61 00", kV311);  // packet id cut
}

TEST_CASE("[MQTT-1.5.4-1] PUBLISH topic must be valid UTF-8 and fit") {
    malformed("30 05 00 03 61 c3 28", kV311, "[MQTT-1.5.4-1]");      // bad continuation
    malformed("30 05 00 03 ed b0 80", kV311, "[MQTT-1.5.4-1]");      // surrogate U+DC00
    malformed("30 04 00 02 c1 bf", kV311, "[MQTT-1.5.4-1]");         // overlong
    malformed("30 06 00 04 f4 90 80 80", kV311, "[MQTT-1.5.4-1]");   // > U+10FFFF
    malformed("30 04 00 02 61 00", kV311, "[MQTT-1.5.4-2]");         // U+0000
    malformed("30 04 00 05 61 62", kV311, "[MQTT-1.5.4]");           // longer than packet
    // Payload is not checked: any bytes.
    CHECK(parse_hex("30 05 00 01 61 ff 00", kV311).result.status == ParseStatus::Ok);
}

TEST_CASE("[MQTT-3.3.1-1] serialize_publish_head + payload equals serialize(Publish); publish_size agrees") {
    const std::string big(200'000, 'x');
    Publish base;
    base.topic = "sensors/temp";
    for (Version v : {kV31, kV311, kV5})
        for (uint8_t qos : {0, 1, 2})
            for (size_t payload_len : {size_t{0}, size_t{5}, size_t{120}, size_t{16'400}, big.size()}) {
                Publish p = base;
                p.qos = qos;
                p.packet_id = qos ? 77 : 0;
                p.retain = qos == 1;
                p.dup = qos == 2;
                p.payload = std::string_view(big).substr(0, payload_len);
                if (v == kV5) {
                    p.properties.message_expiry_interval = 30;
                    p.properties.subscription_identifiers = {1, 300};
                    p.properties.user_properties = {{"k", "v"}};
                }
                INFO("version ", int(v), " qos ", int(qos), " payload ", payload_len);
                std::string full, head;
                serialize(p, v, full);
                serialize_publish_head(p, v, payload_len, head);
                head.append(p.payload);
                CHECK(head == full);
                CHECK(publish_size(p, v, payload_len) == full.size());
                Packet back;
                ParseResult r = parse({reinterpret_cast<const uint8_t*>(full.data()), full.size()}, v, kMax, back);
                REQUIRE(r.status == ParseStatus::Ok);
                CHECK(std::get<Publish>(back) == p);
            }
}

TEST_CASE("[MQTT-3.3.1-1] serialize_publish_head ignores publish.payload and appends to the string") {
    Publish p;
    p.topic = "a";
    p.payload = "ignored";
    std::string out = "X";
    serialize_publish_head(p, kV311, 2, out);
    CHECK(to_hex(out) == norm("58 30 05 00 01 61"));
    CHECK(publish_size(p, kV311, 2) == 7);
}

// ---------------------------------------------------------------------------
// PUBACK / PUBREC / PUBREL / PUBCOMP

TEST_CASE("[MQTT-3.4.2-1] 3.1.1 acknowledgements are exactly a packet identifier") {
    const std::array<std::pair<const char*, PacketType>, 4> acks = {{
        {"40 02 00 0a", PacketType::Puback},
        {"50 02 00 0a", PacketType::Pubrec},
        {"62 02 00 0a", PacketType::Pubrel},
        {"70 02 00 0a", PacketType::Pubcomp},
    }};
    for (const auto& [h, type] : acks) {
        const auto a = round_trip<Ack>(h, kV311);
        CHECK(a.type == type);
        CHECK(a.packet_id == 10);
        CHECK(a.reason_code == 0);
    }
    malformed("40 03 00 0a 00", kV311, "3.4.1");
    malformed("40 01 00", kV311);
    malformed("40 02 00 00", kV311, "Packet Identifier");
}

TEST_CASE("[MQTT-3.4.2-1] 5.0 acknowledgement short forms (3.4.2.1)") {
    auto a = round_trip<Ack>("40 02 00 0a", kV5);
    CHECK(a.reason_code == 0);
    a = round_trip<Ack>("50 03 00 0a 10", kV5);
    CHECK(a.type == PacketType::Pubrec);
    CHECK(a.reason_code == 0x10);
    // Reason code + empty properties parses; serialize picks the short form.
    Parsed p = parse_hex("40 04 00 0a 00 00", kV5);
    CHECK(as<Ack>(p).reason_code == 0);
    CHECK(ser(p.packet, kV5) == norm("40 02 00 0a"));
    p = parse_hex("40 04 00 0a 80 00", kV5);
    CHECK(ser(p.packet, kV5) == norm("40 03 00 0a 80"));
    Parsed full = parse_hex("70 07 00 0a 92 03 1f 00 00", kV5);
    CHECK(as<Ack>(full).reason_code == 0x92);
    CHECK(as<Ack>(full).properties.reason_string == std::string_view(""));
    CHECK(ser(full.packet, kV5) == to_hex(full.bytes));
}

TEST_CASE("[MQTT-3.4.2-1] 5.0 acknowledgement reason codes must suit the packet") {
    protocol_error("40 03 00 0a 92", kV5, "reason code");  // PUBACK cannot say Packet Identifier not found
    protocol_error("62 03 00 0a 10", kV5, "reason code");  // PUBREL cannot say No matching subscribers
    protocol_error("70 03 00 0a 01", kV5, "reason code");
    round_trip<Ack>("62 03 00 0a 92", kV5);
    malformed("40 05 00 0a 00 00 00", kV5, "3.4.2");            // trailing byte after properties
    malformed("40 05 00 0a 00 05 1f", kV5, "[MQTT-2.2.2-1]");   // property length overrun
}

// ---------------------------------------------------------------------------
// SUBSCRIBE / SUBACK

TEST_CASE("[MQTT-3.8.3-1] 3.1.1 SUBSCRIBE with several topics") {
    Parsed p = parse_hex("82 10 00 01 00 03 61 2f 23 01 00 01 2b 02 00 01 62 00", kV311);
    const auto& s = as<Subscribe>(p);
    CHECK(s.packet_id == 1);
    REQUIRE(s.topics.size() == 3);
    CHECK(s.topics[0].filter == "a/#");
    CHECK(s.topics[0].qos == 1);
    CHECK(s.topics[1].filter == "+");
    CHECK(s.topics[1].qos == 2);
    CHECK(s.topics[2].qos == 0);
    CHECK(ser(p.packet, kV311) == to_hex(p.bytes));
}

TEST_CASE("[MQTT-3.8.3-1] 5.0 SUBSCRIBE options and subscription identifier") {
    Parsed p = parse_hex("82 09 00 01 02 0b 05 00 01 61 2d", kV5);
    const auto& s = as<Subscribe>(p);
    REQUIRE(s.topics.size() == 1);
    CHECK(s.properties.subscription_identifiers == std::vector<uint32_t>{5});
    CHECK(s.topics[0].qos == 1);
    CHECK(s.topics[0].no_local);
    CHECK(s.topics[0].retain_as_published);
    CHECK(s.topics[0].retain_handling == 2);
    CHECK(ser(p.packet, kV5) == to_hex(p.bytes));
}

TEST_CASE("[MQTT-3.8.3-3] (3.1.1) SUBSCRIBE needs at least one topic filter") {
    protocol_error("82 02 00 01", kV311, "[MQTT-3.8.3-3]");
    protocol_error("82 03 00 01 00", kV5, "[MQTT-3.8.3-2]");
}

TEST_CASE("[MQTT-3-8.3-4] (3.1.1) SUBSCRIBE reserved option bits and QoS 3 are malformed") {
    malformed("82 06 00 01 00 01 61 04", kV311, "[MQTT-3-8.3-4]");
    malformed("82 06 00 01 00 01 61 03", kV311, "[MQTT-3-8.3-4]");
    malformed("82 06 00 01 00 01 61 80", kV31, "[MQTT-3-8.3-4]");
}

TEST_CASE("[MQTT-3.8.3-5] 5.0 SUBSCRIBE options: reserved bits malformed, QoS 3 and Retain Handling 3 protocol errors") {
    malformed("82 07 00 01 00 00 01 61 40", kV5, "[MQTT-3.8.3-5]");
    malformed("82 07 00 01 00 00 01 61 80", kV5, "[MQTT-3.8.3-5]");
    protocol_error("82 07 00 01 00 00 01 61 03", kV5, "QoS");
    protocol_error("82 07 00 01 00 00 01 61 30", kV5, "Retain Handling");
}

TEST_CASE("[MQTT-2.3.1-1] SUBSCRIBE and UNSUBSCRIBE need a non-zero packet identifier") {
    malformed("82 06 00 00 00 01 61 00", kV311, "[MQTT-2.3.1-1]");
    malformed("a2 05 00 00 00 01 61", kV311, "[MQTT-2.3.1-1]");
}

TEST_CASE("[MQTT-1.5.4-1] SUBSCRIBE filter must be valid UTF-8 and followed by options") {
    malformed("82 06 00 01 00 01 ff 00", kV311, "[MQTT-1.5.4-1]");
    malformed("82 05 00 01 00 01 61", kV311, "[MQTT-1.5.1]");   // options byte missing
    malformed("82 05 00 01 00 05 61", kV311, "[MQTT-1.5.4]");   // filter longer than packet
}

TEST_CASE("[MQTT-3.9.3-2] (3.1.1) SUBACK return codes") {
    const auto s = round_trip<Suback>("90 06 00 01 00 01 02 80", kV311);
    CHECK(s.packet_id == 1);
    CHECK(s.reason_codes == std::vector<uint8_t>{0, 1, 2, 0x80});
    protocol_error("90 03 00 01 03", kV311, "[MQTT-3.9.3-2]");
    protocol_error("90 03 00 01 8f", kV311, "[MQTT-3.9.3-2]");
    protocol_error("90 02 00 01", kV311, "at least one");
}

TEST_CASE("[MQTT-3.9.3-1] 5.0 SUBACK reason codes and properties") {
    Parsed p = parse_hex("90 0a 00 01 05 1f 00 02 6f 6b 00 8f", kV5);
    const auto& s = as<Suback>(p);
    CHECK(s.properties.reason_string == std::string_view("ok"));
    CHECK(s.reason_codes == std::vector<uint8_t>{0, 0x8f});
    CHECK(ser(p.packet, kV5) == to_hex(p.bytes));
    protocol_error("90 04 00 01 00 03", kV5, "[MQTT-3.9.3-1]");
}

// ---------------------------------------------------------------------------
// UNSUBSCRIBE / UNSUBACK

TEST_CASE("[MQTT-3.10.3-1] UNSUBSCRIBE filters in 3.1.1 and 5.0") {
    Parsed p = parse_hex("a2 08 00 02 00 01 61 00 01 2b", kV311);
    const auto& u = as<Unsubscribe>(p);
    CHECK(u.packet_id == 2);
    CHECK(u.filters == std::vector<std::string_view>{"a", "+"});
    CHECK(ser(p.packet, kV311) == to_hex(p.bytes));
    Parsed p5 = parse_hex("a2 0d 00 02 07 26 00 01 6b 00 01 76 00 01 61", kV5);
    const auto& u5 = as<Unsubscribe>(p5);
    REQUIRE(u5.properties.user_properties.size() == 1);
    CHECK(u5.properties.user_properties[0].key == "k");
    CHECK(u5.filters == std::vector<std::string_view>{"a"});
    CHECK(ser(p5.packet, kV5) == to_hex(p5.bytes));
}

TEST_CASE("[MQTT-3.10.3-2] UNSUBSCRIBE needs at least one topic filter") {
    protocol_error("a2 02 00 02", kV311, "[MQTT-3.10.3-2]");
    protocol_error("a2 03 00 02 00", kV5, "[MQTT-3.10.3-2]");
    malformed("a2 04 00 02 00 01", kV311);                       // filter cut
    malformed("a2 05 00 02 00 01 80", kV311, "[MQTT-1.5.4-1]");  // bad UTF-8
}

TEST_CASE("[MQTT-3.11.3-1] UNSUBACK: packet id only in 3.1.1, reason codes in 5.0") {
    CHECK(round_trip<Unsuback>("b0 02 00 02", kV311).packet_id == 2);
    malformed("b0 03 00 02 00", kV311, "3.11.1");
    const auto u = round_trip<Unsuback>("b0 05 00 02 00 00 11", kV5);
    CHECK(u.reason_codes == std::vector<uint8_t>{0, 0x11});
    protocol_error("b0 04 00 02 00 02", kV5, "[MQTT-3.11.3-1]");
    protocol_error("b0 03 00 02 00", kV5, "at least one");
    malformed("b0 02 00 02", kV5);  // 5.0 needs the property length
}

// ---------------------------------------------------------------------------
// PINGREQ / PINGRESP / DISCONNECT / AUTH

TEST_CASE("[MQTT-3.12.4-1] PINGREQ and PINGRESP have remaining length 0") {
    for (Version v : {kV31, kV311, kV5}) {
        round_trip<Pingreq>("c0 00", v);
        round_trip<Pingresp>("d0 00", v);
        malformed("c0 01 00", v, "PINGREQ");
        malformed("d0 02 00 00", v, "PINGRESP");
    }
}

TEST_CASE("[MQTT-3.14.1-1] 3.1.1 DISCONNECT has remaining length 0") {
    round_trip<Disconnect>("e0 00", kV311);
    round_trip<Disconnect>("e0 00", kV31);
    malformed("e0 01 00", kV311, "DISCONNECT");
}

TEST_CASE("[MQTT-3.14.2-1] 5.0 DISCONNECT short forms, reason codes and properties") {
    CHECK(round_trip<Disconnect>("e0 00", kV5).reason_code == 0);
    CHECK(round_trip<Disconnect>("e0 01 04", kV5).reason_code == 4);
    Parsed p = parse_hex("e0 07 8b 05 11 00 00 00 00", kV5);
    CHECK(as<Disconnect>(p).reason_code == 0x8b);
    CHECK(as<Disconnect>(p).properties.session_expiry_interval == 0u);
    CHECK(ser(p.packet, kV5) == to_hex(p.bytes));
    CHECK(ser(parse_hex("e0 02 00 00", kV5).packet, kV5) == norm("e0 00"));
    protocol_error("e0 01 01", kV5, "[MQTT-3.14.2-1]");
    malformed("e0 03 00 00 00", kV5, "3.14.2");
}

TEST_CASE("[MQTT-3.15.2-1] 5.0 AUTH reason codes and properties") {
    CHECK(round_trip<Auth>("f0 00", kV5).reason_code == 0);
    Parsed p = parse_hex("f0 06 18 04 15 00 01 6d", kV5);
    CHECK(as<Auth>(p).reason_code == 0x18);
    CHECK(as<Auth>(p).properties.authentication_method == std::string_view("m"));
    CHECK(ser(p.packet, kV5) == to_hex(p.bytes));
    // A bare reason code is accepted; serialize adds the property length.
    Parsed bare = parse_hex("f0 01 19", kV5);
    CHECK(as<Auth>(bare).reason_code == 0x19);
    CHECK(ser(bare.packet, kV5) == norm("f0 02 19 00"));
    protocol_error("f0 02 04 00", kV5, "[MQTT-3.15.2-1]");
}

// ---------------------------------------------------------------------------
// Serialization of packets built by hand

TEST_CASE("[MQTT-3.1.2-1] serialize CONNECT for each version") {
    Connect c;
    c.client_id = "id";
    c.keep_alive = 10;
    CHECK(ser(c, kV31) == norm("10 10 00 06 4d 51 49 73 64 70 03 02 00 0a 00 02 69 64"));
    CHECK(ser(c, kV311) == norm("10 0e 00 04 4d 51 54 54 04 02 00 0a 00 02 69 64"));
    CHECK(ser(c, kV5) == norm("10 0f 00 04 4d 51 54 54 05 02 00 0a 00 00 02 69 64"));
}

TEST_CASE("[MQTT-3.9.3-1] serialize server packets: CONNACK, SUBACK, UNSUBACK") {
    Connack ca;
    ca.session_present = true;
    CHECK(ser(ca, kV311) == norm("20 02 01 00"));
    ca.properties.assigned_client_identifier = "x";
    CHECK(ser(ca, kV5) == norm("20 07 01 00 04 12 00 01 78"));
    Suback sa;
    sa.packet_id = 9;
    sa.reason_codes = {1, 0x80};
    CHECK(ser(sa, kV311) == norm("90 04 00 09 01 80"));
    CHECK(ser(sa, kV5) == norm("90 05 00 09 00 01 80"));
    Unsuback ua;
    ua.packet_id = 9;
    ua.reason_codes = {0};
    CHECK(ser(ua, kV311) == norm("b0 02 00 09"));
    CHECK(ser(ua, kV5) == norm("b0 04 00 09 00 00"));
}

TEST_CASE("[MQTT-1.5.5] serialize writes multi-byte remaining lengths") {
    Suback sa;
    sa.packet_id = 1;
    sa.reason_codes.assign(200, 0);
    std::string out;
    serialize(sa, kV311, out);
    CHECK(out.size() == 1 + 2 + 202);
    CHECK(to_hex(out.substr(0, 5)) == norm("90 ca 01 00 01"));
    Packet back;
    ParseResult r = parse({reinterpret_cast<const uint8_t*>(out.data()), out.size()}, kV311, kMax, back);
    REQUIRE(r.status == ParseStatus::Ok);
    CHECK(std::get<Suback>(back) == sa);
}

TEST_CASE("[MQTT-1.5.4] valid_utf8 follows RFC 3629 and MQTT restrictions") {
    CHECK(valid_utf8(""));
    CHECK(valid_utf8("plain ascii"));
    CHECK(valid_utf8("\xc3\xa9"));               // é
    CHECK(valid_utf8("\xe2\x82\xac"));           // €
    CHECK(valid_utf8("\xef\xbf\xbf"));           // U+FFFF (non-character: allowed)
    CHECK(valid_utf8("\xf0\x9f\x98\x80"));       // U+1F600
    CHECK(valid_utf8("\xf4\x8f\xbf\xbf"));       // U+10FFFF
    CHECK(valid_utf8("\xed\x9f\xbf"));           // U+D7FF
    CHECK(valid_utf8("\xee\x80\x80"));           // U+E000
    CHECK_FALSE(valid_utf8(std::string_view("a\0b", 3)));   // [MQTT-1.5.4-2]
    CHECK_FALSE(valid_utf8("\xc0\x80"));         // overlong U+0000
    CHECK_FALSE(valid_utf8("\xc1\xbf"));         // overlong
    CHECK_FALSE(valid_utf8("\xe0\x9f\xbf"));     // overlong 3-byte
    CHECK_FALSE(valid_utf8("\xf0\x8f\xbf\xbf")); // overlong 4-byte
    CHECK_FALSE(valid_utf8("\xed\xa0\x80"));     // U+D800 [MQTT-1.5.4-1]
    CHECK_FALSE(valid_utf8("\xed\xbf\xbf"));     // U+DFFF
    CHECK_FALSE(valid_utf8("\xf4\x90\x80\x80")); // U+110000
    CHECK_FALSE(valid_utf8("\xf8\x88\x80\x80\x80"));
    CHECK_FALSE(valid_utf8("\x80"));             // lone continuation
    CHECK_FALSE(valid_utf8("\xc3"));             // truncated
    CHECK_FALSE(valid_utf8("\xe2\x82"));
    CHECK_FALSE(valid_utf8("\xe2\x28\xa1"));     // bad continuation
    CHECK_FALSE(valid_utf8("\xff"));
}

TEST_CASE("packet_type_name names every type") {
    CHECK(std::string_view(packet_type_name(PacketType::Connect)) == "CONNECT");
    CHECK(std::string_view(packet_type_name(PacketType::Unsuback)) == "UNSUBACK");
    CHECK(std::string_view(packet_type_name(PacketType::Auth)) == "AUTH");
    CHECK(std::string_view(packet_type_name(static_cast<PacketType>(0))) == "RESERVED");
}
