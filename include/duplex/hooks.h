// Hooks an embedding program can set to decide who may connect, publish and
// subscribe, and to learn when clients come and go. All are called on the
// loop thread and must not block. An unset hook allows everything.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace duplex {

struct ClientInfo {
    std::string_view protocol;   // "mqtt" or "stomp"
    std::string_view client_id;  // MQTT client id; STOMP: a broker-assigned session id
    std::string_view username;   // MQTT username / STOMP login; empty if none
    std::string_view peer;       // "ip:port"
};

enum class Access { Publish, Subscribe };

struct Hooks {
    // Password is MQTT password / STOMP passcode. Return false to refuse
    // (MQTT CONNACK "not authorized" / STOMP ERROR).
    std::function<bool(const ClientInfo&, std::string_view password)> authenticate;
    // Topic is the MQTT topic name or filter (STOMP /topic/x -> x, /queue/x -> queue name).
    std::function<bool(const ClientInfo&, std::string_view topic, Access)> authorize;
    std::function<void(const ClientInfo&)> connected;
    std::function<void(const ClientInfo&)> disconnected;
};

}  // namespace duplex
