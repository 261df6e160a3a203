// MQTT 3.1 / 3.1.1 / 5.0 codec. Section numbers and [MQTT-x.y.z-n] tags refer
// to the 5.0 specification unless marked "3.1.1".
#include "protocols/mqtt/codec.h"

#include "protocols/mqtt/wire.h"

#include <algorithm>
#include <array>

namespace duplex::mqtt {
namespace {

using wire::Error;
using wire::Reader;
using wire::Writer;

bool is_v5(Version v) { return v == Version::v5; }

unsigned ctx(PacketType t) { return static_cast<unsigned>(t); }

// ---------------------------------------------------------------------------
// Reason codes each 5.0 packet may carry (sections 3.x.2.1 / 3.x.3).

constexpr uint8_t kConnackCodes[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
                                     0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
constexpr uint8_t kPubackCodes[] = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
constexpr uint8_t kPubrelCodes[] = {0x00, 0x92};
constexpr uint8_t kSubackCodes[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
constexpr uint8_t kSuback311Codes[] = {0x00, 0x01, 0x02, 0x80};
constexpr uint8_t kUnsubackCodes[] = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
constexpr uint8_t kDisconnectCodes[] = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D,
                                        0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
                                        0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
constexpr uint8_t kAuthCodes[] = {0x00, 0x18, 0x19};

bool one_of(std::span<const uint8_t> codes, uint8_t code) {
    return std::find(codes.begin(), codes.end(), code) != codes.end();
}

// A receiver meeting a reason code its packet may not carry treats it as a
// Protocol Error (e.g. [MQTT-3.4.2-1] "MUST use one of the PUBACK Reason Codes").
bool check_reason(Reader& r, std::span<const uint8_t> codes, uint8_t code, const char* what) {
    return one_of(codes, code) ? true : r.err().protocol(what);
}

// ---------------------------------------------------------------------------
// Fixed header (2.1)

// Flags every packet but PUBLISH must carry (table 2.2 / 3.1.1 table 2.2);
// anything else is a Malformed Packet (2.1.3) [MQTT-2.2.2-1/2].
constexpr std::array<const char*, 16> kFlagErrors = {
    nullptr,
    "reserved flags of CONNECT must be 0000 [MQTT-2.2.2-1][MQTT-2.2.2-2]",
    "reserved flags of CONNACK must be 0000 [MQTT-2.2.2-1][MQTT-2.2.2-2]",
    nullptr,
    "reserved flags of PUBACK must be 0000 [MQTT-2.2.2-1][MQTT-2.2.2-2]",
    "reserved flags of PUBREC must be 0000 [MQTT-2.2.2-1][MQTT-2.2.2-2]",
    "reserved flags of PUBREL must be 0010 [MQTT-3.6.1-1]",
    "reserved flags of PUBCOMP must be 0000 [MQTT-2.2.2-1][MQTT-2.2.2-2]",
    "reserved flags of SUBSCRIBE must be 0010 [MQTT-3.8.1-1]",
    "reserved flags of SUBACK must be 0000 [MQTT-2.2.2-1][MQTT-2.2.2-2]",
    "reserved flags of UNSUBSCRIBE must be 0010 [MQTT-3.10.1-1]",
    "reserved flags of UNSUBACK must be 0000 [MQTT-2.2.2-1][MQTT-2.2.2-2]",
    "reserved flags of PINGREQ must be 0000 [MQTT-2.2.2-1][MQTT-2.2.2-2]",
    "reserved flags of PINGRESP must be 0000 [MQTT-2.2.2-1][MQTT-2.2.2-2]",
    "reserved flags of DISCONNECT must be 0000 [MQTT-2.2.2-1][MQTT-2.2.2-2]",
    "reserved flags of AUTH must be 0000 [MQTT-2.2.2-1][MQTT-2.2.2-2]",
};

bool needs_qos1_flags(PacketType t) {
    return t == PacketType::Pubrel || t == PacketType::Subscribe || t == PacketType::Unsubscribe;
}

bool check_flags(PacketType type, uint8_t flags, Version v, Error& err) {
    if (type == PacketType::Publish) return true;  // DUP/QoS/RETAIN, checked by PUBLISH
    uint8_t expected = needs_qos1_flags(type) ? 0x2 : 0x0;
    // MQTT 3.1 sent these with QoS 1 and set DUP when retransmitting them.
    if (v == Version::v31 && needs_qos1_flags(type)) flags &= 0x7;
    if (flags == expected) return true;
    return err.malformed(kFlagErrors[static_cast<unsigned>(type)]);
}

// ---------------------------------------------------------------------------
// Shared pieces of variable headers and payloads

// Non-zero Packet Identifier of PUBLISH (QoS > 0), SUBSCRIBE, UNSUBSCRIBE and
// their acknowledgements [MQTT-2.2.1-3] (3.1.1: [MQTT-2.3.1-1]).
bool read_packet_id(Reader& r, uint16_t& id) {
    if (!r.u16(id)) return false;
    if (id == 0) return r.err().malformed("Packet Identifier must be non-zero [MQTT-2.2.1-3][MQTT-2.3.1-1]");
    return true;
}

bool read_props(Reader& r, Version v, unsigned context, Properties& p) {
    return is_v5(v) ? wire::read_properties(r, context, p) : true;
}

bool has_wildcard(std::string_view s) { return s.find_first_of("+#") != std::string_view::npos; }

// Topic Names (4.7): at least one character [MQTT-4.7.3-1] unless a 5.0
// Topic Alias stands in for it (3.3.2.1), and no wildcards [MQTT-3.3.2-2].
bool check_topic_name(Reader& r, std::string_view topic, bool alias_allowed) {
    if (has_wildcard(topic))
        return r.err().set(ParseStatus::ProtocolError, Reason::TopicNameInvalid,
                           "topic name contains a wildcard + or # [MQTT-3.3.2-2]");
    if (topic.empty() && !alias_allowed)
        return r.err().set(ParseStatus::ProtocolError, Reason::TopicNameInvalid,
                           "topic name is empty and there is no Topic Alias [MQTT-4.7.3-1]");
    return true;
}

// ---------------------------------------------------------------------------
// Packet bodies. Each reader gets exactly the bytes of the remaining length.

bool protocol_version(std::string_view name, uint8_t level, Version& v) {
    if (name == "MQIsdp" && level == 3) v = Version::v31;
    else if (name == "MQTT" && level == 4) v = Version::v311;
    else if (name == "MQTT" && level == 5) v = Version::v5;
    else return false;
    return true;
}

bool parse_connect_flags(Reader& r, Connect& c, bool& has_user, bool& has_password) {
    uint8_t f;
    if (!r.u8(f)) return false;
    if (f & 0x01) return r.err().malformed("CONNECT reserved flag (bit 0) must be 0 [MQTT-3.1.2-3]");
    c.clean_start = f & 0x02;
    c.will = f & 0x04;
    c.will_qos = (f >> 3) & 0x3;
    c.will_retain = f & 0x20;
    has_password = f & 0x40;
    has_user = f & 0x80;
    if (!c.will && c.will_qos != 0)
        return r.err().malformed(
            "Will QoS must be 0 when the Will Flag is 0 [MQTT-3.1.2-11] (3.1.1: [MQTT-3.1.2-13])");
    if (!c.will && c.will_retain)
        return r.err().malformed(
            "Will Retain must be 0 when the Will Flag is 0 [MQTT-3.1.2-13] (3.1.1: [MQTT-3.1.2-15])");
    if (c.will_qos == 3)
        return r.err().malformed("Will QoS must not be 3 [MQTT-3.1.2-12] (3.1.1: [MQTT-3.1.2-14])");
    // 5.0 allows a password without a user name (3.1.2.9); earlier versions do not.
    if (c.version != Version::v5 && has_password && !has_user)
        return r.err().malformed("Password Flag set without User Name Flag (3.1.1: [MQTT-3.1.2-22])");
    return true;
}

bool parse_connect(Reader& r, Connect& c) {
    // Protocol Name and Level decide the version of everything that follows
    // [MQTT-3.1.2-1][MQTT-3.1.2-2].
    std::string_view name;
    uint8_t level;
    if (!r.binary(name) || !r.u8(level)) return false;
    if (!protocol_version(name, level, c.version))
        return r.err().set(ParseStatus::ProtocolError, Reason::UnsupportedProtocolVersion,
                           "unsupported protocol name or level [MQTT-3.1.2-1][MQTT-3.1.2-2]");
    bool has_user = false, has_password = false;
    if (!parse_connect_flags(r, c, has_user, has_password)) return false;
    if (!r.u16(c.keep_alive)) return false;
    if (!read_props(r, c.version, ctx(PacketType::Connect), c.properties)) return false;
    // Payload order is fixed: client id, will, user name, password [MQTT-3.1.3-1].
    if (!r.utf8(c.client_id)) return false;
    if (c.will) {
        if (!read_props(r, c.version, wire::kWillContext, c.will_properties)) return false;
        if (!r.utf8(c.will_topic) || !check_topic_name(r, c.will_topic, false)) return false;
        if (!r.binary(c.will_payload)) return false;
    }
    if (has_user) {
        std::string_view user;
        if (!r.utf8(user)) return false;
        c.username = user;
    }
    if (has_password) {
        std::string_view password;
        if (!r.binary(password)) return false;
        c.password = password;
    }
    return r.expect_end("bytes after the end of the CONNECT payload (3.1.3)");
}

bool parse_connack(Reader& r, Version v, Connack& c) {
    uint8_t flags;
    if (!r.u8(flags) || !r.u8(c.reason_code)) return false;
    if (flags & 0xFE)
        return r.err().malformed("CONNACK acknowledge flags bits 7-1 are reserved [MQTT-3.2.2-1]");
    c.session_present = flags & 0x01;
    if (is_v5(v)) {
        if (!check_reason(r, kConnackCodes, c.reason_code, "CONNACK reason code not allowed [MQTT-3.2.2-8]"))
            return false;
        if (!wire::read_properties(r, ctx(PacketType::Connack), c.properties)) return false;
    } else if (c.reason_code > 5) {
        return r.err().protocol("CONNACK return codes 6-255 are reserved (3.1.1 3.2.2.3)");
    }
    if (c.reason_code != 0 && c.session_present)
        return r.err().protocol(
            "Session Present must be 0 with a failure code [MQTT-3.2.2-6] (3.1.1: [MQTT-3.2.2-4])");
    return r.expect_end("bytes after the end of CONNACK (3.2)");
}

bool parse_publish(Reader& r, uint8_t flags, Version v, Publish& p) {
    p.dup = flags & 0x08;
    p.qos = (flags >> 1) & 0x3;
    p.retain = flags & 0x01;
    if (p.qos == 3) return r.err().malformed("PUBLISH QoS must not be 3 [MQTT-3.3.1-4]");
    if (!r.utf8(p.topic)) return false;
    if (p.qos > 0 && !read_packet_id(r, p.packet_id)) return false;
    if (!read_props(r, v, ctx(PacketType::Publish), p.properties)) return false;
    if (!check_topic_name(r, p.topic, p.properties.topic_alias.has_value())) return false;
    p.payload = r.rest();
    return true;
}

// PUBACK, PUBREC, PUBREL, PUBCOMP. In 5.0 the Reason Code and Property Length
// may be left out (3.4.2.1): Remaining Length 2 means Success and no
// properties, 3 means no properties.
bool parse_ack(Reader& r, PacketType type, Version v, Ack& a) {
    a.type = type;
    if (!read_packet_id(r, a.packet_id)) return false;
    if (!is_v5(v)) return r.expect_end("acknowledgement remaining length must be 2 (3.1.1 3.4.1)");
    if (r.at_end()) return true;
    if (!r.u8(a.reason_code)) return false;
    const bool pubrel_or_pubcomp = type == PacketType::Pubrel || type == PacketType::Pubcomp;
    if (!check_reason(r,
                      pubrel_or_pubcomp ? std::span<const uint8_t>(kPubrelCodes)
                                        : std::span<const uint8_t>(kPubackCodes),
                      a.reason_code, "acknowledgement reason code not allowed [MQTT-3.4.2-1]"))
        return false;
    if (r.at_end()) return true;
    if (!wire::read_properties(r, ctx(type), a.properties)) return false;
    return r.expect_end("bytes after the properties of an acknowledgement (3.4.2)");
}

// Subscription Options (3.8.3.1); before 5.0 only the QoS bits exist.
bool parse_subscription_options(Reader& r, Version v, SubscribeTopic& t) {
    uint8_t o;
    if (!r.u8(o)) return false;
    t.qos = o & 0x3;
    if (!is_v5(v)) {
        if ((o & 0xFC) || t.qos == 3)
            return r.err().malformed("SUBSCRIBE reserved option bits set or QoS 3 (3.1.1: [MQTT-3-8.3-4])");
        return true;
    }
    if (o & 0xC0) return r.err().malformed("SUBSCRIBE option bits 6-7 are reserved [MQTT-3.8.3-5]");
    t.no_local = o & 0x04;
    t.retain_as_published = o & 0x08;
    t.retain_handling = (o >> 4) & 0x3;
    if (t.qos == 3) return r.err().protocol("SUBSCRIBE Maximum QoS must not be 3 (3.8.3.1)");
    if (t.retain_handling == 3) return r.err().protocol("SUBSCRIBE Retain Handling must not be 3 (3.8.3.1)");
    return true;
}

bool parse_subscribe(Reader& r, Version v, Subscribe& s) {
    if (!read_packet_id(r, s.packet_id)) return false;
    if (!read_props(r, v, ctx(PacketType::Subscribe), s.properties)) return false;
    while (!r.at_end()) {
        SubscribeTopic t;
        if (!r.utf8(t.filter) || !parse_subscription_options(r, v, t)) return false;
        s.topics.push_back(t);
    }
    if (s.topics.empty())
        return r.err().protocol(
            "SUBSCRIBE must contain at least one topic filter [MQTT-3.8.3-2] (3.1.1: [MQTT-3.8.3-3])");
    return true;
}

// Reason codes of SUBACK / UNSUBACK: one byte each up to the end, at least one.
bool parse_reason_list(Reader& r, std::span<const uint8_t> allowed, std::vector<uint8_t>& codes,
                       const char* empty_error, const char* code_error) {
    while (!r.at_end()) {
        uint8_t c;
        if (!r.u8(c) || !check_reason(r, allowed, c, code_error)) return false;
        codes.push_back(c);
    }
    return codes.empty() ? r.err().protocol(empty_error) : true;
}

bool parse_suback(Reader& r, Version v, Suback& s) {
    if (!read_packet_id(r, s.packet_id)) return false;
    if (!read_props(r, v, ctx(PacketType::Suback), s.properties)) return false;
    return parse_reason_list(
        r, is_v5(v) ? std::span<const uint8_t>(kSubackCodes) : std::span<const uint8_t>(kSuback311Codes),
        s.reason_codes, "SUBACK must contain at least one reason code (3.9.3)",
        "SUBACK reason code not allowed [MQTT-3.9.3-1] (3.1.1: [MQTT-3.9.3-2])");
}

bool parse_unsubscribe(Reader& r, Version v, Unsubscribe& u) {
    if (!read_packet_id(r, u.packet_id)) return false;
    if (!read_props(r, v, ctx(PacketType::Unsubscribe), u.properties)) return false;
    while (!r.at_end()) {
        std::string_view f;
        if (!r.utf8(f)) return false;
        u.filters.push_back(f);
    }
    if (u.filters.empty())
        return r.err().protocol("UNSUBSCRIBE must contain at least one topic filter [MQTT-3.10.3-2]");
    return true;
}

bool parse_unsuback(Reader& r, Version v, Unsuback& u) {
    if (!read_packet_id(r, u.packet_id)) return false;
    if (!is_v5(v)) return r.expect_end("UNSUBACK remaining length must be 2 (3.1.1 3.11.1)");
    if (!wire::read_properties(r, ctx(PacketType::Unsuback), u.properties)) return false;
    return parse_reason_list(r, kUnsubackCodes, u.reason_codes,
                             "UNSUBACK must contain at least one reason code (3.11.3)",
                             "UNSUBACK reason code not allowed [MQTT-3.11.3-1]");
}

// DISCONNECT and AUTH in 5.0: Remaining Length 0 means Success and no
// properties (3.14.2.1, 3.15.2.1); 1 means no properties.
template <class P>
bool parse_reason_and_props(Reader& r, PacketType type, std::span<const uint8_t> allowed,
                            const char* code_error, P& p) {
    if (r.at_end()) return true;
    if (!r.u8(p.reason_code) || !check_reason(r, allowed, p.reason_code, code_error)) return false;
    if (r.at_end()) return true;
    if (!wire::read_properties(r, ctx(type), p.properties)) return false;
    return r.expect_end("bytes after the properties (3.14.2 / 3.15.2)");
}

bool parse_body(PacketType type, uint8_t flags, Reader& r, Version v, Packet& out) {
    // Reserved packet types first: they have no flags to check.
    if (static_cast<unsigned>(type) == 0) return r.err().malformed("packet type 0 is reserved (2.1.2)");
    if (type == PacketType::Auth && !is_v5(v))
        return r.err().malformed("packet type 15 (AUTH) is reserved before MQTT 5 (3.1.1 2.2.1)");
    if (!check_flags(type, flags, v, r.err())) return false;
    switch (type) {
        case PacketType::Connect:
            return parse_connect(r, out.emplace<Connect>());
        case PacketType::Connack:
            return parse_connack(r, v, out.emplace<Connack>());
        case PacketType::Publish:
            return parse_publish(r, flags, v, out.emplace<Publish>());
        case PacketType::Puback:
        case PacketType::Pubrec:
        case PacketType::Pubrel:
        case PacketType::Pubcomp:
            return parse_ack(r, type, v, out.emplace<Ack>());
        case PacketType::Subscribe:
            return parse_subscribe(r, v, out.emplace<Subscribe>());
        case PacketType::Suback:
            return parse_suback(r, v, out.emplace<Suback>());
        case PacketType::Unsubscribe:
            return parse_unsubscribe(r, v, out.emplace<Unsubscribe>());
        case PacketType::Unsuback:
            return parse_unsuback(r, v, out.emplace<Unsuback>());
        case PacketType::Pingreq:
            out.emplace<Pingreq>();
            return r.expect_end("PINGREQ remaining length must be 0 (3.12)");
        case PacketType::Pingresp:
            out.emplace<Pingresp>();
            return r.expect_end("PINGRESP remaining length must be 0 (3.13)");
        case PacketType::Disconnect:
            if (!is_v5(v)) {
                out.emplace<Disconnect>();
                return r.expect_end("DISCONNECT remaining length must be 0 (3.1.1 3.14)");
            }
            return parse_reason_and_props(r, type, kDisconnectCodes,
                                          "DISCONNECT reason code not allowed [MQTT-3.14.2-1]",
                                          out.emplace<Disconnect>());
        case PacketType::Auth:
            return parse_reason_and_props(r, type, kAuthCodes, "AUTH reason code not allowed [MQTT-3.15.2-1]",
                                          out.emplace<Auth>());
    }
    return false;  // unreachable: type 0 was rejected above
}

// ---------------------------------------------------------------------------
// Serialization. Bodies are appended first; the fixed header is inserted in
// front once the Remaining Length is known (no temporary buffer).

uint8_t first_byte(PacketType t, uint8_t flags = 0) {
    return static_cast<uint8_t>((static_cast<unsigned>(t) << 4) | flags);
}

void write_props(Writer& w, Version v, const Properties& p) {
    if (is_v5(v)) wire::write_properties(w, p, wire::properties_size(p));
}

struct BodyWriter {
    Writer& w;
    Version v;

    uint8_t operator()(const Connect& c) {
        w.binary(v == Version::v31 ? "MQIsdp" : "MQTT");
        w.u8(static_cast<uint8_t>(v));
        uint8_t f = c.clean_start ? 0x02 : 0;
        if (c.will) f |= static_cast<uint8_t>(0x04 | (c.will_qos << 3) | (c.will_retain ? 0x20 : 0));
        if (c.password) f |= 0x40;
        if (c.username) f |= 0x80;
        w.u8(f);
        w.u16(c.keep_alive);
        write_props(w, v, c.properties);
        w.binary(c.client_id);
        if (c.will) {
            write_props(w, v, c.will_properties);
            w.binary(c.will_topic);
            w.binary(c.will_payload);
        }
        if (c.username) w.binary(*c.username);
        if (c.password) w.binary(*c.password);
        return first_byte(PacketType::Connect);
    }
    uint8_t operator()(const Connack& c) {
        w.u8(c.session_present ? 1 : 0);
        w.u8(c.reason_code);
        write_props(w, v, c.properties);
        return first_byte(PacketType::Connack);
    }
    uint8_t operator()(const Publish&) { return 0; }  // handled by serialize_publish_head
    uint8_t operator()(const Ack& a) {
        w.u16(a.packet_id);
        reason_and_props(a);
        return first_byte(a.type, a.type == PacketType::Pubrel ? 0x2 : 0);
    }
    uint8_t operator()(const Subscribe& s) {
        w.u16(s.packet_id);
        write_props(w, v, s.properties);
        for (const auto& t : s.topics) {
            w.binary(t.filter);
            uint8_t o = t.qos;
            if (is_v5(v))
                o |= static_cast<uint8_t>((t.no_local ? 0x04 : 0) | (t.retain_as_published ? 0x08 : 0) |
                                          (t.retain_handling << 4));
            w.u8(o);
        }
        return first_byte(PacketType::Subscribe, 0x2);
    }
    uint8_t operator()(const Suback& s) {
        w.u16(s.packet_id);
        write_props(w, v, s.properties);
        for (uint8_t c : s.reason_codes) w.u8(c);
        return first_byte(PacketType::Suback);
    }
    uint8_t operator()(const Unsubscribe& u) {
        w.u16(u.packet_id);
        write_props(w, v, u.properties);
        for (auto f : u.filters) w.binary(f);
        return first_byte(PacketType::Unsubscribe, 0x2);
    }
    uint8_t operator()(const Unsuback& u) {
        w.u16(u.packet_id);
        if (is_v5(v)) {
            write_props(w, v, u.properties);
            for (uint8_t c : u.reason_codes) w.u8(c);
        }
        return first_byte(PacketType::Unsuback);
    }
    uint8_t operator()(const Pingreq&) { return first_byte(PacketType::Pingreq); }
    uint8_t operator()(const Pingresp&) { return first_byte(PacketType::Pingresp); }
    uint8_t operator()(const Disconnect& d) {
        reason_and_props(d);
        return first_byte(PacketType::Disconnect);
    }
    uint8_t operator()(const Auth& a) {
        // Unlike DISCONNECT, AUTH has no form with a reason code but no
        // Property Length (3.15.2.1), so properties follow any reason code.
        if (is_v5(v) && (a.reason_code != 0 || !a.properties.empty())) {
            w.u8(a.reason_code);
            write_props(w, v, a.properties);
        }
        return first_byte(PacketType::Auth);
    }

    // 5.0 short forms (3.4.2.1, 3.14.2.1): nothing for Success without
    // properties, the bare reason code when there are no properties.
    template <class P>
    void reason_and_props(const P& p) {
        if (!is_v5(v)) return;
        const bool no_props = p.properties.empty();
        if (p.reason_code == 0 && no_props) return;
        w.u8(p.reason_code);
        if (!no_props) write_props(w, v, p.properties);
    }
};

size_t publish_remaining(const Publish& p, Version v, size_t payload_len, size_t& props_size) {
    size_t n = 2 + p.topic.size() + (p.qos > 0 ? 2 : 0) + payload_len;
    props_size = 0;
    if (is_v5(v)) {
        props_size = wire::properties_size(p.properties);
        n += wire::varint_size(props_size) + props_size;
    }
    return n;
}

// Reads the first byte and the Remaining Length (2.1.4: a Variable Byte
// Integer of at most 4 bytes). Touches at most the first 5 bytes.
ParseResult read_fixed_header(std::span<const uint8_t> bytes, size_t max_packet_size, size_t& header_len,
                              size_t& packet_len) {
    size_t remaining = 0;
    for (size_t i = 0; i < 4; ++i) {
        if (bytes.size() < 2 + i) return {ParseStatus::NeedMore};
        const uint8_t b = bytes[1 + i];
        remaining |= size_t{b & 0x7Fu} << (7 * i);
        if (b & 0x80) continue;
        if (i > 0 && b == 0)
            return {ParseStatus::Malformed, 0, Reason::MalformedPacket,
                    "Remaining Length is not minimally encoded [MQTT-1.5.5-1]"};
        header_len = 2 + i;
        packet_len = header_len + remaining;
        // Checked before the body arrives so an oversized packet is never
        // buffered [MQTT-3.1.2-24] / [MQTT-3.2.2-15] (Maximum Packet Size).
        if (packet_len > max_packet_size)
            return {ParseStatus::TooLarge, 0, Reason::PacketTooLarge,
                    "packet exceeds the Maximum Packet Size [MQTT-3.1.2-24][MQTT-3.2.2-15]"};
        return {ParseStatus::Ok};
    }
    return {ParseStatus::Malformed, 0, Reason::MalformedPacket,
            "Remaining Length longer than 4 bytes (2.1.4)"};
}

}  // namespace

ParseResult peek_length(std::span<const uint8_t> bytes, size_t max_packet_size, size_t& packet_len) {
    size_t header_len = 0;
    return read_fixed_header(bytes, max_packet_size, header_len, packet_len);
}

ParseResult parse(std::span<const uint8_t> bytes, Version version, size_t max_packet_size, Packet& out) {
    size_t header_len = 0, len = 0;
    ParseResult head = read_fixed_header(bytes, max_packet_size, header_len, len);
    if (head.status != ParseStatus::Ok) return head;
    if (bytes.size() < len) return {ParseStatus::NeedMore};
    Error err;
    Reader r(bytes.subspan(header_len, len - header_len), err);
    const auto type = static_cast<PacketType>(bytes[0] >> 4);
    if (!parse_body(type, bytes[0] & 0x0F, r, version, out)) return {err.status, 0, err.reason, err.text};
    return {ParseStatus::Ok, len, Reason::Success, nullptr};
}

void serialize_publish_head(const Publish& p, Version v, size_t payload_len, std::string& out) {
    size_t props_size = 0;
    const size_t remaining = publish_remaining(p, v, payload_len, props_size);
    Writer w(out);
    w.u8(first_byte(PacketType::Publish,
                    static_cast<uint8_t>((p.dup ? 0x8 : 0) | (p.qos << 1) | (p.retain ? 0x1 : 0))));
    w.varint(remaining);
    w.binary(p.topic);
    if (p.qos > 0) w.u16(p.packet_id);
    if (is_v5(v)) wire::write_properties(w, p.properties, props_size);
}

size_t publish_size(const Publish& p, Version v, size_t payload_len) {
    size_t props_size = 0;
    const size_t remaining = publish_remaining(p, v, payload_len, props_size);
    return 1 + wire::varint_size(remaining) + remaining;
}

void serialize(const Packet& packet, Version version, std::string& out) {
    if (const auto* p = std::get_if<Publish>(&packet)) {
        serialize_publish_head(*p, version, p->payload.size(), out);
        out.append(p->payload);
        return;
    }
    const size_t start = out.size();
    Writer body(out);
    const uint8_t first = std::visit(BodyWriter{body, version}, packet);
    // Fixed header: first byte + Remaining Length, inserted before the body.
    // Bodies above kMaxVarint cannot be encoded (2.1.4); callers never build
    // them, and the n < 5 bound keeps buf safe regardless.
    char buf[5];
    size_t n = 0, remaining = out.size() - start;
    buf[n++] = static_cast<char>(first);
    do {
        uint8_t b = static_cast<uint8_t>(remaining & 0x7F);
        remaining >>= 7;
        if (remaining) b |= 0x80;
        buf[n++] = static_cast<char>(b);
    } while (remaining && n < 5);
    out.insert(start, buf, n);
}

const char* packet_type_name(PacketType type) {
    switch (type) {
        case PacketType::Connect:
            return "CONNECT";
        case PacketType::Connack:
            return "CONNACK";
        case PacketType::Publish:
            return "PUBLISH";
        case PacketType::Puback:
            return "PUBACK";
        case PacketType::Pubrec:
            return "PUBREC";
        case PacketType::Pubrel:
            return "PUBREL";
        case PacketType::Pubcomp:
            return "PUBCOMP";
        case PacketType::Subscribe:
            return "SUBSCRIBE";
        case PacketType::Suback:
            return "SUBACK";
        case PacketType::Unsubscribe:
            return "UNSUBSCRIBE";
        case PacketType::Unsuback:
            return "UNSUBACK";
        case PacketType::Pingreq:
            return "PINGREQ";
        case PacketType::Pingresp:
            return "PINGRESP";
        case PacketType::Disconnect:
            return "DISCONNECT";
        case PacketType::Auth:
            return "AUTH";
    }
    return "RESERVED";
}

}  // namespace duplex::mqtt
