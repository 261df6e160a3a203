// MQTT 5 properties (section 2.2.2): every property in every packet that has
// a property block, duplicates, unknown identifiers, lengths and values.
#include "tests/protocols/mqtt/test_util.h"

#include <map>
#include <string>

using namespace mqtt_test;

namespace {

constexpr Version kV5 = Version::v5;

// Places with a property block, as (name, builder of a packet around the
// given property bytes). "WILL" is the Will Properties of CONNECT.
struct Context {
    const char* name;
    Bytes (*make)(const Bytes& props);
};

const Context kContexts[] = {
    {"CONNECT", [](const Bytes& p) { return Build{}.str("MQTT").raw("05 02 00 3c").props(p).str("c").packet(0x10); }},
    {"WILL", [](const Bytes& p) {
         return Build{}.str("MQTT").raw("05 06 00 3c 00").str("c").props(p).str("t").str("m").packet(0x10);
     }},
    {"CONNACK", [](const Bytes& p) { return Build{}.raw("00 00").props(p).packet(0x20); }},
    {"PUBLISH", [](const Bytes& p) { return Build{}.str("t").props(p).raw("78").packet(0x30); }},
    {"PUBACK", [](const Bytes& p) { return Build{}.raw("00 01 00").props(p).packet(0x40); }},
    {"PUBREC", [](const Bytes& p) { return Build{}.raw("00 01 00").props(p).packet(0x50); }},
    {"PUBREL", [](const Bytes& p) { return Build{}.raw("00 01 00").props(p).packet(0x62); }},
    {"PUBCOMP", [](const Bytes& p) { return Build{}.raw("00 01 00").props(p).packet(0x70); }},
    {"SUBSCRIBE", [](const Bytes& p) { return Build{}.raw("00 01").props(p).str("a").u8(0).packet(0x82); }},
    {"SUBACK", [](const Bytes& p) { return Build{}.raw("00 01").props(p).u8(0).packet(0x90); }},
    {"UNSUBSCRIBE", [](const Bytes& p) { return Build{}.raw("00 01").props(p).str("a").packet(0xA2); }},
    {"UNSUBACK", [](const Bytes& p) { return Build{}.raw("00 01").props(p).u8(0).packet(0xB0); }},
    {"DISCONNECT", [](const Bytes& p) { return Build{}.u8(0).props(p).packet(0xE0); }},
    {"AUTH", [](const Bytes& p) { return Build{}.u8(0).props(p).packet(0xF0); }},
};

// Table 2.2.2.2, written out independently of the codec: identifier, a valid
// encoded value, and the places the property may appear.
struct PropertyRow {
    uint8_t id;
    const char* value;  // hex
    std::vector<std::string> allowed;
};

const std::vector<PropertyRow> kTable = {
    {0x01, "01", {"PUBLISH", "WILL"}},
    {0x02, "00 00 00 3c", {"PUBLISH", "WILL"}},
    {0x03, "00 04 6a 73 6f 6e", {"PUBLISH", "WILL"}},
    {0x08, "00 01 72", {"PUBLISH", "WILL"}},
    {0x09, "00 02 00 ff", {"PUBLISH", "WILL"}},
    {0x0B, "81 01", {"PUBLISH", "SUBSCRIBE"}},
    {0x11, "00 00 0e 10", {"CONNECT", "CONNACK", "DISCONNECT"}},
    {0x12, "00 02 69 64", {"CONNACK"}},
    {0x13, "00 1e", {"CONNACK"}},
    {0x15, "00 05 53 43 52 41 4d", {"CONNECT", "CONNACK", "AUTH"}},
    {0x16, "00 03 01 00 02", {"CONNECT", "CONNACK", "AUTH"}},
    {0x17, "01", {"CONNECT"}},
    {0x18, "00 00 00 05", {"WILL"}},
    {0x19, "01", {"CONNECT"}},
    {0x1A, "00 02 72 69", {"CONNACK"}},
    {0x1C, "00 03 73 72 76", {"CONNACK", "DISCONNECT"}},
    {0x1F, "00 02 6f 6b",
     {"CONNACK", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "SUBACK", "UNSUBACK", "DISCONNECT", "AUTH"}},
    {0x21, "00 14", {"CONNECT", "CONNACK"}},
    {0x22, "00 0a", {"CONNECT", "CONNACK"}},
    {0x23, "00 07", {"PUBLISH"}},
    {0x24, "01", {"CONNACK"}},
    {0x25, "00", {"CONNACK"}},
    {0x26, "00 01 6b 00 01 76",
     {"CONNECT", "WILL", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "SUBSCRIBE",
      "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "DISCONNECT", "AUTH"}},
    {0x27, "00 01 00 00", {"CONNECT", "CONNACK"}},
    {0x28, "01", {"CONNACK"}},
    {0x29, "00", {"CONNACK"}},
    {0x2A, "01", {"CONNACK"}},
};

bool allowed_in(const PropertyRow& row, std::string_view ctx) {
    for (const auto& a : row.allowed)
        if (a == ctx) return true;
    return false;
}

Bytes property(uint8_t id, std::string_view value_hex) { return Build{}.u8(id).raw(value_hex).b; }

const Properties& props_of(const Packet& p, std::string_view ctx) {
    if (ctx == "WILL") return std::get<Connect>(p).will_properties;
    return std::visit(
        [](const auto& x) -> const Properties& {
            if constexpr (requires { x.properties; }) return x.properties;
            else {
                static const Properties none;
                return none;
            }
        },
        p);
}

}  // namespace

TEST_CASE("[MQTT-2.2.2-2] each property is accepted exactly in the packets of table 2.2.2.2 and round-trips") {
    for (const auto& row : kTable)
        for (const auto& ctx : kContexts) {
            const Bytes bytes = ctx.make(property(row.id, row.value));
            INFO("property ", to_hex(Bytes{row.id}), " in ", ctx.name, ": ", to_hex(bytes));
            Parsed p = parse_bytes(bytes, kV5);
            if (allowed_in(row, ctx.name)) {
                REQUIRE(p.result.status == ParseStatus::Ok);
                CHECK(p.result.consumed == bytes.size());
                CHECK_FALSE(props_of(p.packet, ctx.name).empty());
                CHECK(ser(p.packet, kV5) == to_hex(bytes));
            } else {
                CHECK(p.result.status == ParseStatus::Malformed);
                CHECK(p.result.reason == Reason::MalformedPacket);
                REQUIRE(p.result.error);
                CHECK(std::string_view(p.result.error).find("2.2.2.2") != std::string_view::npos);
            }
        }
}

TEST_CASE("[MQTT-2.2.2-2] property values land in the right fields (CONNACK)") {
    Build props;
    props.raw("11 00 00 0e 10")                  // session expiry 3600
        .raw("12").str("id")                      // assigned client id
        .raw("13 00 1e")                          // server keep alive 30
        .raw("15").str("SCRAM")                   // auth method
        .raw("16 00 02 01 02")                    // auth data
        .raw("1a").str("ri")                      // response information
        .raw("1c").str("srv")                     // server reference
        .raw("1f").str("ok")                      // reason string
        .raw("21 00 14")                          // receive maximum 20
        .raw("22 00 0a")                          // topic alias maximum 10
        .raw("24 01 25 00")                       // maximum qos 1, retain available 0
        .raw("26").str("k1").str("v1")            // user properties, order kept
        .raw("26").str("k0").str("v0")
        .raw("27 00 01 00 00")                    // maximum packet size 65536
        .raw("28 01 29 00 2a 01");
    const Bytes bytes = Build{}.raw("00 00").props(props.b).packet(0x20);
    Parsed p = parse_bytes(bytes, kV5);
    REQUIRE(p.result.status == ParseStatus::Ok);
    const Properties& x = std::get<Connack>(p.packet).properties;
    CHECK(x.session_expiry_interval == 3600u);
    CHECK(x.assigned_client_identifier == std::string_view("id"));
    CHECK(x.server_keep_alive == 30);
    CHECK(x.authentication_method == std::string_view("SCRAM"));
    CHECK(x.authentication_data == std::string_view("\x01\x02", 2));
    CHECK(x.response_information == std::string_view("ri"));
    CHECK(x.server_reference == std::string_view("srv"));
    CHECK(x.reason_string == std::string_view("ok"));
    CHECK(x.receive_maximum == 20);
    CHECK(x.topic_alias_maximum == 10);
    CHECK(x.maximum_qos == 1);
    CHECK(x.retain_available == 0);
    REQUIRE(x.user_properties.size() == 2);
    CHECK(x.user_properties[0].key == "k1");
    CHECK(x.user_properties[0].value == "v1");
    CHECK(x.user_properties[1].key == "k0");
    CHECK(x.maximum_packet_size == 65536u);
    CHECK(x.wildcard_subscription_available == 1);
    CHECK(x.subscription_identifier_available == 0);
    CHECK(x.shared_subscription_available == 1);
    // Serialization writes properties in identifier order; this input already is.
    CHECK(ser(p.packet, kV5) == to_hex(bytes));
}

TEST_CASE("[MQTT-2.2.2-2] property values land in the right fields (PUBLISH, CONNECT, WILL)") {
    Build pub;
    pub.raw("01 01 02 00 00 00 3c").raw("03").str("json").raw("08").str("r/t").raw("09 00 01 ff")
        .raw("0b 01 0b ff ff ff 7f 23 00 07");
    Parsed p = parse_bytes(Build{}.str("t").props(pub.b).packet(0x30), kV5);
    REQUIRE(p.result.status == ParseStatus::Ok);
    const Properties& x = std::get<Publish>(p.packet).properties;
    CHECK(x.payload_format_indicator == 1);
    CHECK(x.message_expiry_interval == 60u);
    CHECK(x.content_type == std::string_view("json"));
    CHECK(x.response_topic == std::string_view("r/t"));
    CHECK(x.correlation_data == std::string_view("\xff", 1));
    CHECK(x.subscription_identifiers == std::vector<uint32_t>{1, 268435455});
    CHECK(x.topic_alias == 7);

    Parsed c = parse_bytes(Build{}.str("MQTT").raw("05 06 00 3c").props(hex("17 00 19 01 11 00 00 00 01"))
                               .str("c").props(hex("18 00 00 00 09")).str("t").str("m").packet(0x10),
                           kV5);
    REQUIRE(c.result.status == ParseStatus::Ok);
    const Connect& con = std::get<Connect>(c.packet);
    CHECK(con.properties.request_problem_information == 0);
    CHECK(con.properties.request_response_information == 1);
    CHECK(con.properties.session_expiry_interval == 1u);
    CHECK(con.will_properties.will_delay_interval == 9u);
}

TEST_CASE("[MQTT-2.2.2-2] a property given twice is a Protocol Error (except User Property)") {
    for (const auto& row : kTable)
        for (const auto& ctx : kContexts) {
            if (!allowed_in(row, ctx.name)) continue;
            Bytes twice = property(row.id, row.value);
            const Bytes once = twice;
            twice.insert(twice.end(), once.begin(), once.end());
            const Bytes bytes = ctx.make(twice);
            INFO("property ", to_hex(Bytes{row.id}), " twice in ", ctx.name);
            Parsed p = parse_bytes(bytes, kV5);
            const bool may_repeat = row.id == 0x26 || (row.id == 0x0B && std::string_view(ctx.name) == "PUBLISH");
            if (may_repeat) {
                REQUIRE(p.result.status == ParseStatus::Ok);
                CHECK(ser(p.packet, kV5) == to_hex(bytes));
            } else {
                CHECK(p.result.status == ParseStatus::ProtocolError);
                CHECK(p.result.reason == Reason::ProtocolError);
                REQUIRE(p.result.error);
                CHECK(std::string_view(p.result.error).find("more than once") != std::string_view::npos);
            }
        }
}

TEST_CASE("[MQTT-2.2.2-2] unknown property identifiers are malformed") {
    for (const char* id : {"00", "04", "05", "0a", "0c", "10", "14", "1b", "1d", "1e", "20", "2b", "7f", "80 01"}) {
        INFO("id ", id);
        Parsed p = parse_bytes(Build{}.str("t").props(hex(std::string(id) + " 00")).packet(0x30), kV5);
        CHECK(p.result.status == ParseStatus::Malformed);
        CHECK(p.result.reason == Reason::MalformedPacket);
        REQUIRE(p.result.error);
        CHECK(std::string_view(p.result.error).find("unknown property") != std::string_view::npos);
    }
}

TEST_CASE("[MQTT-2.2.2-1] property length and values must fit in the packet") {
    const auto status = [](const Bytes& b) { return parse_bytes(b, kV5).result.status; };
    // Property Length larger than the rest of the packet.
    CHECK(status(hex("30 05 00 01 74 05 01")) == ParseStatus::Malformed);
    // A four byte value cut short by the Property Length (bytes follow, as payload).
    CHECK(status(hex("30 0a 00 01 74 03 02 00 00 00 3c 78")) == ParseStatus::Malformed);
    // A string value longer than the property block.
    CHECK(status(hex("30 08 00 01 74 03 03 00 05 61")) == ParseStatus::Malformed);
    // Property Length not minimally encoded [MQTT-1.5.5-1].
    CHECK(status(hex("30 05 00 01 74 80 00")) == ParseStatus::Malformed);
    // Property Length varint longer than 4 bytes.
    CHECK(status(hex("30 08 00 01 74 ff ff ff ff 01")) == ParseStatus::Malformed);
    // Subscription identifier varint running past the property block.
    CHECK(status(hex("82 09 00 01 02 0b 80 00 01 61 00")) == ParseStatus::Malformed);
    // Property Length missing altogether.
    CHECK(status(hex("30 03 00 01 74")) == ParseStatus::Malformed);
}

TEST_CASE("[MQTT-1.5.4-1] string properties and user property pairs must be valid UTF-8") {
    const auto check_bad = [](const Bytes& prop) {
        Parsed p = parse_bytes(Build{}.str("t").props(prop).packet(0x30), kV5);
        CHECK(p.result.status == ParseStatus::Malformed);
        REQUIRE(p.result.error);
        CHECK(std::string_view(p.result.error).find("[MQTT-1.5.4-") != std::string_view::npos);
    };
    check_bad(hex("03 00 02 c3 28"));              // content type
    check_bad(hex("08 00 03 ed a0 80"));           // response topic: surrogate
    check_bad(hex("26 00 01 00 00 01 76"));        // user property key U+0000
    check_bad(hex("26 00 01 6b 00 02 c0 80"));     // user property value overlong
    // Binary properties take any bytes.
    CHECK(parse_bytes(Build{}.str("t").props(hex("09 00 02 c0 00")).packet(0x30), kV5).result.status ==
          ParseStatus::Ok);
}

TEST_CASE("[MQTT-3.8.2.1.2] Subscription Identifier 0 is a Protocol Error") {
    Parsed p = parse_hex("82 09 00 01 02 0b 00 00 01 61 00", kV5);
    CHECK(p.result.status == ParseStatus::ProtocolError);
    CHECK(p.result.reason == Reason::ProtocolError);
    p = parse_hex("30 06 00 01 74 02 0b 00", kV5);
    CHECK(p.result.status == ParseStatus::ProtocolError);
}

TEST_CASE("[MQTT-3.1.2.11.3] Receive Maximum 0 and Maximum Packet Size 0 are Protocol Errors") {
    const auto connect = [](std::string_view props) {
        return parse_bytes(Build{}.str("MQTT").raw("05 02 00 3c").props(hex(props)).str("c").packet(0x10), kV5);
    };
    Parsed p = connect("21 00 00");
    CHECK(p.result.status == ParseStatus::ProtocolError);
    CHECK(std::string_view(p.result.error).find("Receive Maximum") != std::string_view::npos);
    p = connect("27 00 00 00 00");
    CHECK(p.result.status == ParseStatus::ProtocolError);
    CHECK(std::string_view(p.result.error).find("Maximum Packet Size") != std::string_view::npos);
    CHECK(connect("21 00 01 27 00 00 00 01").result.status == ParseStatus::Ok);
}

TEST_CASE("[MQTT-3.3.2-8] Topic Alias 0 is TopicAliasInvalid") {
    Parsed p = parse_hex("30 07 00 01 74 03 23 00 00", kV5);
    CHECK(p.result.status == ParseStatus::ProtocolError);
    CHECK(p.result.reason == Reason::TopicAliasInvalid);
}

TEST_CASE("[MQTT-2.2.2-2] byte properties limited to 0 or 1 reject other values") {
    const std::map<uint8_t, const Context*> where = {
        {0x01, &kContexts[3]}, {0x17, &kContexts[0]}, {0x19, &kContexts[0]}, {0x24, &kContexts[2]},
        {0x25, &kContexts[2]}, {0x28, &kContexts[2]}, {0x29, &kContexts[2]}, {0x2A, &kContexts[2]},
    };
    for (const auto& entry : where) {
        const uint8_t id = entry.first;  // not a structured binding: INFO captures it
        const Context* ctx = entry.second;
        INFO("property ", to_hex(Bytes{id}));
        Parsed p = parse_bytes(ctx->make(Bytes{id, 2}), kV5);
        CHECK(p.result.status == ParseStatus::ProtocolError);
        CHECK(p.result.reason == Reason::ProtocolError);
        CHECK(parse_bytes(ctx->make(Bytes{id, 1}), kV5).result.status == ParseStatus::Ok);
    }
}

TEST_CASE("[MQTT-2.2.2-1] serialize writes properties only for 5.0") {
    Publish p;
    p.topic = "t";
    p.properties.content_type = "x";
    std::string v311, v5;
    serialize(p, Version::v311, v311);
    serialize(p, kV5, v5);
    CHECK(to_hex(v311) == norm("30 03 00 01 74"));
    CHECK(to_hex(v5) == norm("30 08 00 01 74 04 03 00 01 78"));
    CHECK(Properties{}.empty());
    CHECK_FALSE(p.properties.empty());
}
