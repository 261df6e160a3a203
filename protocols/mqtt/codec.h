// MQTT codec: a pure function over bytes. No I/O, no allocation beyond the
// vectors inside parsed packets.
//
// The connection loop is: parse(buffer) -> Ok: handle the packet, drop
// `consumed` bytes; NeedMore: wait for more bytes; anything else: close the
// connection with `reason` and log `error`.
#pragma once

#include "protocols/mqtt/packet.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace duplex::mqtt {

enum class ParseStatus : uint8_t {
    Ok,             // a packet was parsed; `consumed` bytes belong to it
    NeedMore,       // the buffer holds only part of a packet (or of its fixed header)
    TooLarge,       // the fixed header announces more than max_packet_size bytes
    Malformed,      // violates the packet format (reason MalformedPacket), including
                    // bad fixed-header flags (5.0 section 2.1.3 calls them malformed)
    ProtocolError,  // well-formed but not allowed (reason ProtocolError,
                    // TopicNameInvalid, TopicAliasInvalid or UnsupportedProtocolVersion)
};

struct ParseResult {
    ParseStatus status = ParseStatus::NeedMore;
    size_t consumed = 0;              // whole packet length when status == Ok
    Reason reason = Reason::Success;  // for errors: the MQTT 5 reason code to report
    const char* error = nullptr;      // for errors: static text naming the problem, e.g.
                                      // "PUBLISH topic contains a wildcard [MQTT-3.3.2-2]"
};

// Reads only the fixed header: sets `packet_len` to the full packet length
// (fixed header + remaining length) when it is known. Returns NeedMore if the
// fixed header is incomplete, TooLarge if packet_len > max_packet_size,
// Malformed for a bad remaining-length encoding. Lets a stream check the size
// limit before buffering a packet.
ParseResult peek_length(std::span<const uint8_t> bytes, size_t max_packet_size, size_t& packet_len);

// Parses one packet from the start of `bytes`. `version` is the version
// negotiated by CONNECT (ignored for CONNECT itself, which carries its own:
// read it from Connect::version). String views in `out` point into `bytes`.
// On an error `out` may be partly filled and should not be used, except:
// an unknown protocol name/level in CONNECT gives ProtocolError with reason
// UnsupportedProtocolVersion, and the caller answers with a 3.1.1-format
// CONNACK 0x01 (or 0x84 in 5.0 format) as it sees fit.
ParseResult parse(std::span<const uint8_t> bytes, Version version, size_t max_packet_size, Packet& out);

// Appends the encoding of `packet` for `version` to `out`. Properties are
// written only for 5.0. The caller is responsible for passing a packet that is
// valid for the version (e.g. no reason codes in a 3.1.1 UNSUBACK).
void serialize(const Packet& packet, Version version, std::string& out);

// Hot path for delivering one message to many subscribers: appends everything
// of a PUBLISH except the payload (fixed header, topic, packet id,
// properties), sized for a payload of `payload_len` bytes. The caller then
// appends the payload itself. `publish.payload` is ignored.
void serialize_publish_head(const Publish& publish, Version version, size_t payload_len, std::string& out);

// Size in bytes of the full encoding of `publish` with a payload of
// `payload_len` bytes (for Maximum Packet Size checks without encoding).
size_t publish_size(const Publish& publish, Version version, size_t payload_len);

// UTF-8 validity as MQTT requires it (1.5.4): well-formed, no surrogates,
// no U+0000. Also used by other protocols' code.
bool valid_utf8(std::string_view s);

const char* packet_type_name(PacketType type);

}  // namespace duplex::mqtt
