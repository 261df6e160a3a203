// MQTT 5 properties (section 2.2.2): parsing with the per-packet rules of
// table 2.2.2.2 and the value rules of each property's own section, and
// encoding.
#include "protocols/mqtt/wire.h"

#include <array>
#include <utility>

namespace duplex::mqtt {

bool Properties::empty() const { return *this == Properties{}; }

namespace wire {
namespace {

// Wire type of a property value. Flag is a Byte whose only legal values are
// 0 and 1.
enum class Kind : uint8_t { None, Byte, Flag, U16, U32, Varint, Utf8, Binary, Pair };

constexpr uint32_t in(PacketType t) { return 1u << static_cast<unsigned>(t); }
constexpr uint32_t kWill = 1u << kWillContext;

constexpr uint32_t kAcks =
    in(PacketType::Puback) | in(PacketType::Pubrec) | in(PacketType::Pubrel) | in(PacketType::Pubcomp);

struct PropertySpec {
    Kind kind = Kind::None;
    uint32_t allowed = 0;  // bit per packet type (+ kWill) that may carry it
};

// Table 2.2.2.2 (Properties), indexed by identifier.
constexpr auto kSpecs = [] {
    using P = PacketType;
    std::array<PropertySpec, 0x2B> t{};
    // clang-format off: the spec's table 2.2.2.2, one aligned row per property
    t[0x01] = {Kind::Flag, in(P::Publish) | kWill};                              // Payload Format Indicator
    t[0x02] = {Kind::U32, in(P::Publish) | kWill};                               // Message Expiry Interval
    t[0x03] = {Kind::Utf8, in(P::Publish) | kWill};                              // Content Type
    t[0x08] = {Kind::Utf8, in(P::Publish) | kWill};                              // Response Topic
    t[0x09] = {Kind::Binary, in(P::Publish) | kWill};                            // Correlation Data
    t[0x0B] = {Kind::Varint, in(P::Publish) | in(P::Subscribe)};                 // Subscription Identifier
    t[0x11] = {Kind::U32, in(P::Connect) | in(P::Connack) | in(P::Disconnect)};  // Session Expiry
    t[0x12] = {Kind::Utf8, in(P::Connack)};                                      // Assigned Client Identifier
    t[0x13] = {Kind::U16, in(P::Connack)};                                       // Server Keep Alive
    t[0x15] = {Kind::Utf8, in(P::Connect) | in(P::Connack) | in(P::Auth)};       // Authentication Method
    t[0x16] = {Kind::Binary, in(P::Connect) | in(P::Connack) | in(P::Auth)};     // Authentication Data
    t[0x17] = {Kind::Flag, in(P::Connect)};                      // Request Problem Information
    t[0x18] = {Kind::U32, kWill};                                // Will Delay Interval
    t[0x19] = {Kind::Flag, in(P::Connect)};                      // Request Response Information
    t[0x1A] = {Kind::Utf8, in(P::Connack)};                      // Response Information
    t[0x1C] = {Kind::Utf8, in(P::Connack) | in(P::Disconnect)};  // Server Reference
    t[0x1F] = {Kind::Utf8, in(P::Connack) | kAcks | in(P::Suback) | in(P::Unsuback) | in(P::Disconnect) |
                               in(P::Auth)};                 // Reason String
    t[0x21] = {Kind::U16, in(P::Connect) | in(P::Connack)};  // Receive Maximum
    t[0x22] = {Kind::U16, in(P::Connect) | in(P::Connack)};  // Topic Alias Maximum
    t[0x23] = {Kind::U16, in(P::Publish)};                   // Topic Alias
    t[0x24] = {Kind::Flag, in(P::Connack)};                  // Maximum QoS
    t[0x25] = {Kind::Flag, in(P::Connack)};                  // Retain Available
    t[0x26] = {Kind::Pair, in(P::Connect) | in(P::Connack) | in(P::Publish) | kWill | kAcks |
                               in(P::Subscribe) | in(P::Suback) | in(P::Unsubscribe) | in(P::Unsuback) |
                               in(P::Disconnect) | in(P::Auth)};  // User Property
    t[0x27] = {Kind::U32, in(P::Connect) | in(P::Connack)};       // Maximum Packet Size
    t[0x28] = {Kind::Flag, in(P::Connack)};                       // Wildcard Subscription Available
    t[0x29] = {Kind::Flag, in(P::Connack)};                       // Subscription Identifier Available
    t[0x2A] = {Kind::Flag, in(P::Connack)};                       // Shared Subscription Available
    // clang-format on
    return t;
}();

// Calls f with the Properties member for identifier `id` (P is Properties or
// const Properties). One switch serves parsing, sizing and encoding.
template <class P, class F>
void with_field(P& p, unsigned id, F&& f) {
    switch (id) {
        case 0x01:
            f(p.payload_format_indicator);
            break;
        case 0x02:
            f(p.message_expiry_interval);
            break;
        case 0x03:
            f(p.content_type);
            break;
        case 0x08:
            f(p.response_topic);
            break;
        case 0x09:
            f(p.correlation_data);
            break;
        case 0x0B:
            f(p.subscription_identifiers);
            break;
        case 0x11:
            f(p.session_expiry_interval);
            break;
        case 0x12:
            f(p.assigned_client_identifier);
            break;
        case 0x13:
            f(p.server_keep_alive);
            break;
        case 0x15:
            f(p.authentication_method);
            break;
        case 0x16:
            f(p.authentication_data);
            break;
        case 0x17:
            f(p.request_problem_information);
            break;
        case 0x18:
            f(p.will_delay_interval);
            break;
        case 0x19:
            f(p.request_response_information);
            break;
        case 0x1A:
            f(p.response_information);
            break;
        case 0x1C:
            f(p.server_reference);
            break;
        case 0x1F:
            f(p.reason_string);
            break;
        case 0x21:
            f(p.receive_maximum);
            break;
        case 0x22:
            f(p.topic_alias_maximum);
            break;
        case 0x23:
            f(p.topic_alias);
            break;
        case 0x24:
            f(p.maximum_qos);
            break;
        case 0x25:
            f(p.retain_available);
            break;
        case 0x26:
            f(p.user_properties);
            break;
        case 0x27:
            f(p.maximum_packet_size);
            break;
        case 0x28:
            f(p.wildcard_subscription_available);
            break;
        case 0x29:
            f(p.subscription_identifier_available);
            break;
        case 0x2A:
            f(p.shared_subscription_available);
            break;
        default:
            break;
    }
}

// Reads one value of `kind` into the matching member.
struct ValueReader {
    Reader& r;
    Kind kind;
    bool ok = false;

    void operator()(std::optional<uint8_t>& v) {
        uint8_t b;
        if (!(ok = r.u8(b))) return;
        if (kind == Kind::Flag && b > 1) {
            // e.g. [MQTT-3.1.2.11.6] Request Problem Information, 3.2.2.3.4
            // Maximum QoS: "It is a Protocol Error ... value other than 0 or 1".
            ok = r.err().protocol("property value must be 0 or 1 [MQTT-2.2.2.2]");
            return;
        }
        v = b;
    }
    void operator()(std::optional<uint16_t>& v) {
        uint16_t x;
        if ((ok = r.u16(x))) v = x;
    }
    void operator()(std::optional<uint32_t>& v) {
        uint32_t x;
        if ((ok = r.u32(x))) v = x;
    }
    void operator()(std::optional<std::string_view>& v) {
        std::string_view s;
        if ((ok = kind == Kind::Utf8 ? r.utf8(s) : r.binary(s))) v = s;
    }
    void operator()(std::vector<uint32_t>& v) {
        uint32_t x;
        if (!(ok = r.varint(x))) return;
        if (x == 0) {
            ok = r.err().protocol("Subscription Identifier of 0 [MQTT-3.8.2.1.2]");
            return;
        }
        v.push_back(x);
    }
    void operator()(std::vector<UserProperty>& v) {
        UserProperty u;
        if ((ok = r.utf8(u.key) && r.utf8(u.value))) v.push_back(u);
    }
};

// Value rules that are not about the wire type.
bool check_value(Reader& r, unsigned id, const Properties& p) {
    if (id == 0x21 && p.receive_maximum == 0)
        return r.err().protocol("Receive Maximum of 0 [MQTT-3.1.2.11.3]");
    if (id == 0x27 && p.maximum_packet_size == 0)
        return r.err().protocol("Maximum Packet Size of 0 [MQTT-3.1.2.11.4]");
    if (id == 0x23 && p.topic_alias == 0)
        return r.err().set(ParseStatus::ProtocolError, Reason::TopicAliasInvalid,
                           "Topic Alias of 0 [MQTT-3.3.2-8]");
    return true;
}

bool may_repeat(unsigned id, unsigned context) {
    // User Property may appear many times [MQTT-2.2.2.2]; several Subscription
    // Identifiers only in a PUBLISH (3.3.2.3.8), once in SUBSCRIBE (3.8.2.1.2).
    return id == 0x26 || (id == 0x0B && context == static_cast<unsigned>(PacketType::Publish));
}

bool read_property(Reader& r, unsigned context, uint64_t& seen, Properties& out) {
    // The identifier is a Variable Byte Integer, though all 5.0 ones are one byte.
    uint32_t id;
    if (!r.varint(id)) return false;
    if (id >= kSpecs.size() || kSpecs[id].kind == Kind::None)
        return r.err().malformed("unknown property identifier [MQTT-2.2.2.2]");
    const PropertySpec& spec = kSpecs[id];
    if (!(spec.allowed & (1u << context)))
        return r.err().malformed("property not allowed in this packet (table 2.2.2.2) [MQTT-2.2.2.2]");
    const uint64_t bit = uint64_t{1} << id;
    if ((seen & bit) && !may_repeat(id, context))
        return r.err().protocol("property included more than once [MQTT-2.2.2.2]");
    seen |= bit;
    ValueReader vr{r, spec.kind};
    with_field(out, id, vr);
    return vr.ok && check_value(r, id, out);
}

// Size of one value of each member type (excluding the identifier byte).
struct ValueSize {
    size_t n = 0;
    void operator()(const std::optional<uint8_t>& v) { n += v ? 2 : 0; }
    void operator()(const std::optional<uint16_t>& v) { n += v ? 3 : 0; }
    void operator()(const std::optional<uint32_t>& v) { n += v ? 5 : 0; }
    void operator()(const std::optional<std::string_view>& v) { n += v ? 3 + v->size() : 0; }
    void operator()(const std::vector<uint32_t>& v) {
        for (uint32_t x : v) n += 1 + varint_size(x);
    }
    void operator()(const std::vector<UserProperty>& v) {
        for (const auto& u : v) n += 5 + u.key.size() + u.value.size();
    }
};

struct ValueWriter {
    Writer& w;
    uint8_t id;
    void operator()(const std::optional<uint8_t>& v) {
        if (v) w.u8(id), w.u8(*v);
    }
    void operator()(const std::optional<uint16_t>& v) {
        if (v) w.u8(id), w.u16(*v);
    }
    void operator()(const std::optional<uint32_t>& v) {
        if (v) w.u8(id), w.u32(*v);
    }
    void operator()(const std::optional<std::string_view>& v) {
        if (v) w.u8(id), w.binary(*v);
    }
    void operator()(const std::vector<uint32_t>& v) {
        for (uint32_t x : v) w.u8(id), w.varint(x);
    }
    void operator()(const std::vector<UserProperty>& v) {
        for (const auto& u : v) w.u8(id), w.binary(u.key), w.binary(u.value);
    }
};

}  // namespace

bool read_properties(Reader& r, unsigned context, Properties& out) {
    uint32_t len;
    if (!r.varint(len)) return false;
    Reader block({}, r.err());
    if (!r.take(len, block)) return false;
    uint64_t seen = 0;
    while (!block.at_end())
        if (!read_property(block, context, seen, out)) return false;
    return true;
}

size_t properties_size(const Properties& p) {
    ValueSize size;
    for (unsigned id = 1; id < kSpecs.size(); ++id) with_field(p, id, size);
    return size.n;
}

void write_properties(Writer& w, const Properties& p, size_t size) {
    w.varint(size);
    for (unsigned id = 1; id < kSpecs.size(); ++id)
        with_field(p, id, ValueWriter{w, static_cast<uint8_t>(id)});
}

}  // namespace wire
}  // namespace duplex::mqtt
