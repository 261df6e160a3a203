// MQTT control packets (3.1, 3.1.1 and 5.0) as plain values.
//
// Parsed packets hold std::string_view fields that point into the byte buffer
// given to mqtt::parse(); they are valid only as long as that buffer is alive
// and unchanged. Packets built for serialize() may point anywhere the caller
// keeps alive for the duration of the call.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

namespace duplex::mqtt {

// Protocol level byte of CONNECT: 3 = MQTT 3.1 ("MQIsdp"), 4 = 3.1.1, 5 = 5.0.
enum class Version : uint8_t { v31 = 3, v311 = 4, v5 = 5 };

enum class PacketType : uint8_t {
    Connect = 1,
    Connack = 2,
    Publish = 3,
    Puback = 4,
    Pubrec = 5,
    Pubrel = 6,
    Pubcomp = 7,
    Subscribe = 8,
    Suback = 9,
    Unsubscribe = 10,
    Unsuback = 11,
    Pingreq = 12,
    Pingresp = 13,
    Disconnect = 14,
    Auth = 15,
};

// MQTT 5 reason codes (section 2.4). 3.1.1 CONNACK return codes are the
// values 0..5 of Connack::reason_code and are mapped by the session code.
enum class Reason : uint8_t {
    Success = 0x00,  // also Normal disconnection, Granted QoS 0
    GrantedQos1 = 0x01,
    GrantedQos2 = 0x02,
    DisconnectWithWill = 0x04,
    NoMatchingSubscribers = 0x10,
    NoSubscriptionExisted = 0x11,
    ContinueAuthentication = 0x18,
    ReAuthenticate = 0x19,
    UnspecifiedError = 0x80,
    MalformedPacket = 0x81,
    ProtocolError = 0x82,
    ImplementationSpecificError = 0x83,
    UnsupportedProtocolVersion = 0x84,
    ClientIdentifierNotValid = 0x85,
    BadUserNameOrPassword = 0x86,
    NotAuthorized = 0x87,
    ServerUnavailable = 0x88,
    ServerBusy = 0x89,
    Banned = 0x8A,
    ServerShuttingDown = 0x8B,
    BadAuthenticationMethod = 0x8C,
    KeepAliveTimeout = 0x8D,
    SessionTakenOver = 0x8E,
    TopicFilterInvalid = 0x8F,
    TopicNameInvalid = 0x90,
    PacketIdentifierInUse = 0x91,
    PacketIdentifierNotFound = 0x92,
    ReceiveMaximumExceeded = 0x93,
    TopicAliasInvalid = 0x94,
    PacketTooLarge = 0x95,
    MessageRateTooHigh = 0x96,
    QuotaExceeded = 0x97,
    AdministrativeAction = 0x98,
    PayloadFormatInvalid = 0x99,
    RetainNotSupported = 0x9A,
    QosNotSupported = 0x9B,
    UseAnotherServer = 0x9C,
    ServerMoved = 0x9D,
    SharedSubscriptionsNotSupported = 0x9E,
    ConnectionRateExceeded = 0x9F,
    MaximumConnectTime = 0xA0,
    SubscriptionIdentifiersNotSupported = 0xA1,
    WildcardSubscriptionsNotSupported = 0xA2,
};

struct UserProperty {
    std::string_view key;
    std::string_view value;
    bool operator==(const UserProperty&) const = default;
};

// MQTT 5 properties (section 2.2.2.2). Absent properties are nullopt / empty.
// Which properties a packet may carry is checked by the codec.
// Every struct here compares with == (field by field, views by content).
struct Properties {
    std::optional<uint8_t> payload_format_indicator;   // 0x01
    std::optional<uint32_t> message_expiry_interval;   // 0x02
    std::optional<std::string_view> content_type;      // 0x03
    std::optional<std::string_view> response_topic;    // 0x08
    std::optional<std::string_view> correlation_data;  // 0x09 (binary)
    std::vector<uint32_t> subscription_identifiers;    // 0x0B (varint; several only in PUBLISH to a client)
    std::optional<uint32_t> session_expiry_interval;   // 0x11
    std::optional<std::string_view> assigned_client_identifier;  // 0x12
    std::optional<uint16_t> server_keep_alive;                   // 0x13
    std::optional<std::string_view> authentication_method;       // 0x15
    std::optional<std::string_view> authentication_data;         // 0x16 (binary)
    std::optional<uint8_t> request_problem_information;          // 0x17
    std::optional<uint32_t> will_delay_interval;                 // 0x18
    std::optional<uint8_t> request_response_information;         // 0x19
    std::optional<std::string_view> response_information;        // 0x1A
    std::optional<std::string_view> server_reference;            // 0x1C
    std::optional<std::string_view> reason_string;               // 0x1F
    std::optional<uint16_t> receive_maximum;                     // 0x21
    std::optional<uint16_t> topic_alias_maximum;                 // 0x22
    std::optional<uint16_t> topic_alias;                         // 0x23
    std::optional<uint8_t> maximum_qos;                          // 0x24
    std::optional<uint8_t> retain_available;                     // 0x25
    std::vector<UserProperty> user_properties;                   // 0x26, order kept, repeats allowed
    std::optional<uint32_t> maximum_packet_size;                 // 0x27
    std::optional<uint8_t> wildcard_subscription_available;      // 0x28
    std::optional<uint8_t> subscription_identifier_available;    // 0x29
    std::optional<uint8_t> shared_subscription_available;        // 0x2A

    bool empty() const;
    bool operator==(const Properties&) const = default;
};

struct Connect {
    Version version = Version::v311;
    bool clean_start = true;  // "clean session" before 5.0
    uint16_t keep_alive = 0;  // seconds, 0 = off
    std::string_view client_id;
    Properties properties;
    bool will = false;
    uint8_t will_qos = 0;
    bool will_retain = false;
    std::string_view will_topic;
    std::string_view will_payload;
    Properties will_properties;
    std::optional<std::string_view> username;
    std::optional<std::string_view> password;
    bool operator==(const Connect&) const = default;
};

struct Connack {
    bool session_present = false;
    uint8_t reason_code = 0;  // 3.1.1 return code or 5.0 Reason
    Properties properties;
    bool operator==(const Connack&) const = default;
};

struct Publish {
    uint8_t qos = 0;
    bool retain = false;
    bool dup = false;
    std::string_view topic;  // may be empty in 5.0 when a Topic Alias is used
    uint16_t packet_id = 0;  // only for qos > 0
    Properties properties;
    std::string_view payload;
    bool operator==(const Publish&) const = default;
};

// PUBACK, PUBREC, PUBREL, PUBCOMP: same shape.
struct Ack {
    PacketType type = PacketType::Puback;
    uint16_t packet_id = 0;
    uint8_t reason_code = 0;
    Properties properties;
    bool operator==(const Ack&) const = default;
};

// Subscription options byte (3.8.3.1): bits 0-1 QoS, bit 2 No Local,
// bit 3 Retain As Published, bits 4-5 Retain Handling. Before 5.0 only QoS.
struct SubscribeTopic {
    std::string_view filter;
    uint8_t qos = 0;
    bool no_local = false;
    bool retain_as_published = false;
    uint8_t retain_handling = 0;
    bool operator==(const SubscribeTopic&) const = default;
};

struct Subscribe {
    uint16_t packet_id = 0;
    Properties properties;
    std::vector<SubscribeTopic> topics;
    bool operator==(const Subscribe&) const = default;
};

struct Suback {
    uint16_t packet_id = 0;
    Properties properties;
    std::vector<uint8_t> reason_codes;  // 3.1.1: 0,1,2 or 0x80
    bool operator==(const Suback&) const = default;
};

struct Unsubscribe {
    uint16_t packet_id = 0;
    Properties properties;
    std::vector<std::string_view> filters;
    bool operator==(const Unsubscribe&) const = default;
};

struct Unsuback {
    uint16_t packet_id = 0;
    Properties properties;
    std::vector<uint8_t> reason_codes;  // 5.0 only; 3.1.1 UNSUBACK has none
    bool operator==(const Unsuback&) const = default;
};

struct Pingreq {
    bool operator==(const Pingreq&) const = default;
};
struct Pingresp {
    bool operator==(const Pingresp&) const = default;
};

struct Disconnect {
    uint8_t reason_code = 0;
    Properties properties;
    bool operator==(const Disconnect&) const = default;
};

struct Auth {
    uint8_t reason_code = 0;
    Properties properties;
    bool operator==(const Auth&) const = default;
};

using Packet = std::variant<Connect, Connack, Publish, Ack, Subscribe, Suback, Unsubscribe, Unsuback, Pingreq,
                            Pingresp, Disconnect, Auth>;

}  // namespace duplex::mqtt
