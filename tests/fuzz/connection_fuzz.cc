// libFuzzer target for the connection state machines (MQTT, STOMP, commands)
// on an in-process Core (tests/support/harness.h): no sockets, one thread.
//
// Input layout (as mosquitto's fuzzing/broker/broker_fuzz_read_handle.cpp,
// the first byte picks what is fuzzed):
//   byte 0, bits 0-1: 0 MQTT 3.1.1, 1 MQTT 5, 2 STOMP 1.2, 3 commands
//           bit 2:    send a valid CONNECT first (the fuzzer gets past the handshake)
//           bits 3-7: seed of the chunk sizes
//   the rest: bytes from the peer, fed in chunks of 1..64 bytes (the
//           makeChunked idea of uWebSockets' fuzzing/helpers.h), so frames are
//           split at every point a socket could split them.
// Next to the fuzzed connection an MQTT 5 subscriber ('#', QoS 2, topic
// aliases, small Receive Maximum, acknowledging everything) and a STOMP 1.2
// subscriber (/topic/#) drain their output after every chunk. At the end:
// on_tick (keep alive / heart-beat paths), on_closed, and the subscribers
// drain once more.
// Checks, besides the sanitizers: everything written to any connection
// decodes as whole packets / frames, and no handler claims endless output.
#include "tests/support/harness.h"

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>

using namespace duplex;
using namespace duplex::test;

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail = {}) {
    std::fprintf(stderr, "connection_fuzz: %s%s%s\n", what, detail.empty() ? "" : ": ", detail.c_str());
    std::abort();
}

// Deterministic chunk sizes from the seed (xorshift32).
struct Chunks {
    uint32_t state;
    explicit Chunks(uint32_t seed) : state(seed * 2654435761u + 1) {}
    uint32_t next() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        return state;
    }
    size_t size() { return 1 + next() % 64; }
};

std::string hex(std::string_view bytes) {
    std::string out;
    char b[4];
    for (unsigned char c : bytes.substr(0, 256)) {
        std::snprintf(b, sizeof b, "%02x", c);
        out += b;
    }
    return out;
}

// Why the last decode_mqtt() stopped early (codec error and the bytes).
std::string mqtt_error;

size_t decode_mqtt(std::string_view bytes, mqtt::Version v, std::vector<mqtt::Packet>* out,
                   std::deque<std::string>* keep) {
    size_t pos = 0;
    if (keep) {
        keep->emplace_back(bytes);
        bytes = keep->back();
    }
    while (pos < bytes.size()) {
        mqtt::Packet p;
        auto r = mqtt::parse(as_bytes(bytes.substr(pos)), v, 1u << 30, p);
        if (r.status != mqtt::ParseStatus::Ok) {
            mqtt_error = std::string(r.error ? r.error : "incomplete packet") + " in " + hex(bytes.substr(pos));
            return pos;
        }
        if (out) out->push_back(std::move(p));
        pos += r.consumed;
    }
    return pos;
}

bool decodes_stomp(std::string_view bytes, stomp::Version v) {
    stomp::Limits limits;
    limits.max_body = 1u << 30;
    limits.max_headers = 1u << 20;
    limits.max_header_line = 1u << 30;
    size_t pos = 0;
    while (pos < bytes.size()) {
        stomp::Frame f;
        auto r = stomp::parse(as_bytes(bytes.substr(pos)), v, limits, f);
        if (r.status != stomp::ParseStatus::Ok && r.status != stomp::ParseStatus::Heartbeat) return false;
        pos += r.consumed;
    }
    return true;
}

// Some STOMP version decodes all of it (the fuzzed client negotiates its own).
bool decodes_stomp_any(std::string_view bytes) {
    for (auto v : {stomp::Version::v12, stomp::Version::v11, stomp::Version::v10})
        if (decodes_stomp(bytes, v)) return true;
    return false;
}

// The MQTT 5 subscriber: decodes everything and acknowledges what needs it.
struct MqttSubscriber {
    mq::Client client;
    explicit MqttSubscriber(Harness& h) : client(h, mqtt::Version::v5) {
        mqtt::Connect c = mq::connect_packet("fuzz-subscriber", mqtt::Version::v5, true, 0);
        c.properties.receive_maximum = 3;
        c.properties.topic_alias_maximum = 2;
        c.properties.maximum_packet_size = 4096;
        if (client.connect(c).reason_code != 0) fail("subscriber CONNECT refused");
        mqtt::Subscribe s = mq::subscribe_packet("#", 2, 1);
        s.topics.push_back(mqtt::SubscribeTopic{.filter = "$share/g/#", .qos = 1});
        client.send(s);
        drain();
    }
    void drain() {
        for (int round = 0; round < 100 && client.peer.alive(); ++round) {
            std::string bytes = client.peer.read();
            if (client.peer.transport.drain_overrun) fail("MQTT subscriber: endless output");
            if (bytes.empty()) return;
            std::vector<mqtt::Packet> packets;
            if (decode_mqtt(bytes, mqtt::Version::v5, &packets, &keep) != bytes.size())
                fail("MQTT subscriber output does not decode", mqtt_error);
            if (client.peer.transport.closed()) return;  // taken over by the fuzzed client
            for (auto& p : packets) {
                if (auto* pub = std::get_if<mqtt::Publish>(&p)) {
                    if (pub->qos == 1) client.send(mqtt::ack(mqtt::PacketType::Puback, pub->packet_id));
                    if (pub->qos == 2) client.send(mqtt::ack(mqtt::PacketType::Pubrec, pub->packet_id));
                } else if (auto* a = std::get_if<mqtt::Ack>(&p); a && a->type == mqtt::PacketType::Pubrel) {
                    client.send(mqtt::ack(mqtt::PacketType::Pubcomp, a->packet_id));
                }
            }
        }
    }
    std::deque<std::string> keep;
};

struct StompSubscriber {
    st::Client client;
    explicit StompSubscriber(Harness& h) : client(h, stomp::Version::v12) {
        if (client.connect().command != "CONNECTED") fail("STOMP subscriber CONNECT refused");
        client.send("SUBSCRIBE", {{"id", "all"}, {"destination", "/topic/#"}});
        client.send("SUBSCRIBE", {{"id", "q"}, {"destination", "/queue/fuzz"}, {"ack", "client-individual"}});
        drain();
    }
    void drain() {
        std::string bytes = client.peer.read();
        if (client.peer.transport.drain_overrun) fail("STOMP subscriber: endless output");
        if (!decodes_stomp(bytes, stomp::Version::v12)) fail("STOMP subscriber output does not decode", bytes);
    }
};

std::string prelude(int protocol) {
    std::string out;
    if (protocol == 0) {
        mqtt::Connect c = mq::connect_packet("fuzz", mqtt::Version::v311, true, 30);
        c.will = true;
        c.will_topic = "will/fuzz";
        c.will_payload = "gone";
        c.will_qos = 1;
        mqtt::serialize(c, mqtt::Version::v311, out);
    } else if (protocol == 1) {
        mqtt::Connect c = mq::connect_packet("fuzz", mqtt::Version::v5, false, 30);
        c.properties.session_expiry_interval = 60;
        c.properties.topic_alias_maximum = 4;
        c.properties.receive_maximum = 5;
        c.will = true;
        c.will_topic = "will/fuzz";
        c.will_payload = "gone";
        c.will_properties.will_delay_interval = 1;
        mqtt::serialize(c, mqtt::Version::v5, out);
    } else if (protocol == 2) {
        out = st::frame("CONNECT", {{"accept-version", "1.2"}, {"host", "localhost"}, {"heart-beat", "1000,1000"}});
    }
    return out;
}

// The MQTT version the fuzzed connection writes in: that of its first
// packet if it is a CONNECT the codec accepts, else 3.1.1 (the refusal
// format of an unknown version).
mqtt::Version mqtt_version(std::string_view input) {
    mqtt::Packet p;
    auto r = mqtt::parse(as_bytes(input), mqtt::Version::v311, 1u << 30, p);
    if (r.status == mqtt::ParseStatus::Ok)
        if (auto* c = std::get_if<mqtt::Connect>(&p)) return c->version;
    return mqtt::Version::v311;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const int protocol = data[0] & 3;
    const bool with_prelude = data[0] & 4;
    Chunks chunks(data[0] >> 3);
    std::string input = with_prelude ? prelude(protocol) : std::string();
    input.append(reinterpret_cast<const char*>(data + 1), size - 1);

    Config cfg = test_config();
    cfg.limits.max_packet_size = 16 * 1024;
    cfg.limits.max_queued_messages = 50;
    cfg.limits.max_inflight = 4;
    cfg.limits.receive_maximum = 8;
    cfg.limits.topic_alias_maximum = 4;
    Commands commands;  // outlives the harness and its connections
    commands.add("echo", "echo", [](const CommandRequest& r, Reply reply) { reply.ok(r.args); });
    std::vector<Reply> held;
    commands.add("later", "held", [&held](const CommandRequest&, Reply reply) { held.push_back(reply); });
    {
        Harness h(cfg);
        MqttSubscriber msub(h);
        StompSubscriber ssub(h);
        Peer& fuzzed = protocol <= 1 ? h.mqtt() : protocol == 2 ? h.stomp() : h.commands(commands);
        std::string out;

        auto drain_all = [&] {
            out += fuzzed.read();
            if (fuzzed.transport.drain_overrun) fail("fuzzed connection: endless output");
            msub.drain();
            ssub.drain();
        };
        size_t pos = 0;
        while (pos < input.size() && fuzzed.alive()) {
            size_t n = std::min(chunks.size(), input.size() - pos);
            const uint32_t r = chunks.next();
            fuzzed.send(std::string_view(input).substr(pos, n), protocol == 3 ? (r & 1) == 0 : false);
            if (protocol == 3 && (r & 6) == 0) fuzzed.handler->on_message_end();
            pos += n;
            drain_all();
            if (fuzzed.transport.closed()) fuzzed.drop();  // the transport finishes closing
            if (protocol == 3 && (r & 0x18) == 0 && !held.empty()) {
                held.front().ok_text("late");
                held.erase(held.begin());
            }
        }
        if (fuzzed.alive() && protocol == 3) fuzzed.handler->on_message_end();
        drain_all();
        const int64_t now = now_ms();
        for (int64_t later : {int64_t(2000), int64_t(5000), int64_t(100000)}) {
            fuzzed.tick(now + later);
            msub.client.peer.tick(now + later);
            drain_all();
        }
        fuzzed.drop();
        drain_all();

        if (protocol <= 1) {
            mqtt::Version v = mqtt_version(input);
            if (decode_mqtt(out, v, nullptr, nullptr) != out.size())
                fail("MQTT output of the fuzzed connection does not decode", mqtt_error);
        } else if (protocol == 2) {
            if (!decodes_stomp_any(out)) fail("STOMP output of the fuzzed connection does not decode");
        }
    }
    for (auto& r : held) r.ok();  // completions after the connection is gone
    return 0;
}
