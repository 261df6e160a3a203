// In-process broker harness: one duplex::Core and any number of protocol
// connections, each on a FakeTransport. A test connects client A and client B,
// feeds A's bytes in and reads B's bytes out, all on one thread: no sockets,
// no loop, no sleeping. Only the public seams are used (the connections'
// constructors and the net::ProtocolHandler methods), so the tests do not
// depend on the state machines' internals.
#pragma once

#include "base/log.h"
#include "broker/core.h"
#include "duplex/commands.h"
#include "duplex/config.h"
#include "protocols/commands/connection.h"
#include "protocols/mqtt/codec.h"
#include "protocols/mqtt/connection.h"
#include "protocols/stomp/codec.h"
#include "protocols/stomp/connection.h"
#include "tests/support/fake_transport.h"

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace duplex::test {

inline std::span<const uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// One connection: its transport and its protocol handler.
struct Peer {
    FakeTransport transport;
    std::unique_ptr<net::ProtocolHandler> handler;

    bool alive() const { return handler != nullptr; }
    void send(std::string_view bytes, bool text = false) {
        if (handler) handler->on_data(as_bytes(bytes), text);
    }
    // Everything the handler has to write now.
    std::string read() { return handler ? transport.drain(*handler) : std::string(); }
    void tick(int64_t now_ms) {
        if (handler) handler->on_tick(now_ms);
    }
    // The peer went away (or the transport finished closing): on_closed(),
    // then the handler is destroyed, as net/ does.
    void drop() {
        if (!handler) return;
        handler->on_closed();
        handler.reset();
    }
};

inline Config test_config() {
    Config c;
    c.ws.enabled = c.mqtt.enabled = c.stomp.enabled = false;
    c.log_level = "error";
    return c;
}

class Harness {
  public:
    explicit Harness(const Config& config = test_config()) : core_(std::make_unique<Core>(config)) {
        log::set_level(log::Level::error);
    }
    ~Harness() {
        // Connections go before the core they point into.
        for (auto& p : peers_) p->drop();
        peers_.clear();
        core_.reset();
    }
    Harness(const Harness&) = delete;
    Harness& operator=(const Harness&) = delete;

    Core& core() { return *core_; }

    Peer& mqtt() {
        Peer& p = add();
        p.handler = std::make_unique<mqtt::Connection>(*core_, p.transport);
        return p;
    }
    Peer& stomp() {
        Peer& p = add();
        p.handler = std::make_unique<stomp::Connection>(*core_, p.transport);
        return p;
    }
    // A plain-WebSocket commands connection (its replies are text messages).
    Peer& commands(Commands& registry) {
        Peer& p = add();
        p.handler = std::make_unique<commands::Connection>(registry, *core_, p.transport);
        return p;
    }

  private:
    Peer& add() {
        peers_.push_back(std::make_unique<Peer>());
        Peer& p = *peers_.back();
        uint64_t id = core_->next_id();
        p.transport.set_id(id);
        p.transport.set_peer("127.0.0.1:" + std::to_string(40000 + id));
        return p;
    }
    std::unique_ptr<Core> core_;
    std::deque<std::unique_ptr<Peer>> peers_;
};

// --- MQTT --------------------------------------------------------------------

namespace mq {

using namespace duplex::mqtt;

inline Connect connect_packet(std::string_view client_id, Version v = Version::v311, bool clean = true,
                              uint16_t keep_alive = 0) {
    Connect c;
    c.version = v;
    c.client_id = client_id;
    c.clean_start = clean;
    c.keep_alive = keep_alive;
    return c;
}

inline Publish publish_packet(std::string_view topic, std::string_view payload, uint8_t qos = 0,
                              uint16_t packet_id = 0, bool retain = false) {
    Publish p;
    p.topic = topic;
    p.payload = payload;
    p.qos = qos;
    p.packet_id = packet_id;
    p.retain = retain;
    return p;
}

inline Subscribe subscribe_packet(std::string_view filter, uint8_t qos = 0, uint16_t packet_id = 1) {
    Subscribe s;
    s.packet_id = packet_id;
    s.topics.push_back(SubscribeTopic{.filter = filter, .qos = qos});
    return s;
}

template <class T>
std::vector<T> only(const std::vector<Packet>& packets) {
    std::vector<T> out;
    for (auto& p : packets)
        if (auto* t = std::get_if<T>(&p)) out.push_back(*t);
    return out;
}

inline std::vector<Ack> acks(const std::vector<Packet>& packets, PacketType type) {
    std::vector<Ack> out;
    for (auto& a : only<Ack>(packets))
        if (a.type == type) out.push_back(a);
    return out;
}

// An MQTT client on a Peer: encodes packets with the codec, decodes what the
// broker writes. Decoded packets point into buffers the client keeps.
class Client {
  public:
    Client(Harness& h, Version v = Version::v311) : peer(h.mqtt()), version(v) {}

    void send(const Packet& p) {
        std::string b;
        serialize(p, version, b);
        peer.send(b);
    }
    void send_raw(std::string_view bytes) { peer.send(bytes); }

    // Drains the connection and decodes its output. `error` is set if the
    // output does not decode as whole packets.
    std::vector<Packet> receive() {
        buffers_.push_back(peer.read());
        const std::string& b = buffers_.back();
        std::vector<Packet> out;
        size_t pos = 0;
        while (pos < b.size()) {
            Packet p;
            auto r = parse(as_bytes(std::string_view(b).substr(pos)), version, 1u << 30, p);
            if (r.status != ParseStatus::Ok) {
                error = r.error ? r.error : "incomplete packet in output";
                break;
            }
            out.push_back(std::move(p));
            pos += r.consumed;
        }
        return out;
    }

    // CONNECT and its CONNACK.
    Connack connect(Connect c) {
        c.version = version;
        send(c);
        last = receive();
        auto acks = only<Connack>(last);
        if (acks.size() != 1) {
            Connack none;
            none.reason_code = 0xFF;  // no (or several) CONNACK
            return none;
        }
        return acks.front();
    }
    Connack connect(std::string_view client_id, bool clean = true, uint16_t keep_alive = 0) {
        return connect(connect_packet(client_id, version, clean, keep_alive));
    }
    // SUBSCRIBE and its SUBACK's reason codes (plus anything sent with it).
    std::vector<uint8_t> subscribe(std::string_view filter, uint8_t qos = 0, uint16_t packet_id = 1) {
        send(subscribe_packet(filter, qos, packet_id));
        last = receive();
        auto s = only<Suback>(last);
        return s.empty() ? std::vector<uint8_t>{} : s.front().reason_codes;
    }

    Peer& peer;
    Version version;
    std::string error;
    // Everything the last connect() / subscribe() received (CONNACK or
    // SUBACK and whatever came with it: redeliveries, retained messages).
    std::vector<Packet> last;

  private:
    std::deque<std::string> buffers_;
};

}  // namespace mq

// --- STOMP -------------------------------------------------------------------

namespace st {

using namespace duplex::stomp;

struct Received {
    std::string command;
    std::vector<Header> headers;
    std::string body;
    const std::string* header(std::string_view name) const {
        for (auto& h : headers)
            if (h.name == name) return &h.value;
        return nullptr;
    }
    std::string get(std::string_view name) const {
        auto* v = header(name);
        return v ? *v : std::string();
    }
};

inline std::string frame(std::string_view command, std::vector<Header> headers, std::string_view body = {},
                         Version v = Version::v12) {
    std::string out;
    serialize(command, headers, body, v, out);
    return out;
}

class Client {
  public:
    Client(Harness& h, Version v = Version::v12) : peer(h.stomp()), version(v) {}

    void send(std::string_view command, std::vector<Header> headers, std::string_view body = {}) {
        peer.send(frame(command, std::move(headers), body, version));
    }
    void send_raw(std::string_view bytes) { peer.send(bytes); }

    std::vector<Received> receive() {
        std::string b = peer.read();
        std::vector<Received> out;
        size_t pos = 0;
        stomp::Limits limits;
        limits.max_body = 1u << 30;
        while (pos < b.size()) {
            Frame f;
            auto r = parse(as_bytes(std::string_view(b).substr(pos)), version, limits, f);
            if (r.status == ParseStatus::Heartbeat) {
                ++heartbeats;
                pos += r.consumed;
                continue;
            }
            if (r.status != ParseStatus::Ok) {
                error = r.error ? r.error : "incomplete frame in output";
                break;
            }
            out.push_back(Received{f.command, f.headers, std::string(f.body)});
            pos += r.consumed;
        }
        return out;
    }
    static std::vector<Received> of(const std::vector<Received>& frames, std::string_view command) {
        std::vector<Received> out;
        for (auto& f : frames)
            if (f.command == command) out.push_back(f);
        return out;
    }

    // CONNECT (accept-version per this client's version; 1.0 sends none) and
    // the reply (CONNECTED or ERROR).
    Received connect(std::vector<Header> extra = {}) {
        std::vector<Header> h;
        if (version == Version::v11) h.push_back({"accept-version", "1.1"});
        if (version == Version::v12) h.push_back({"accept-version", "1.2"});
        if (version != Version::v10) h.push_back({"host", "localhost"});
        for (auto& e : extra) h.push_back(e);
        send("CONNECT", h);
        auto frames = receive();
        return frames.empty() ? Received{} : frames.front();
    }

    Peer& peer;
    Version version;
    int heartbeats = 0;
    std::string error;
};

}  // namespace st

}  // namespace duplex::test
