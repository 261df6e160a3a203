// Hooks an embedding program can set to decide who may connect, publish and
// subscribe, and to learn when clients come and go. All are called on the
// loop thread and must not block (authenticate_async may answer later, from
// any thread).
//
// They come after the broker's own checks (Config::security: password file,
// tokens, ACL, the anonymous policy, topics the broker owns): a hook can
// refuse what those allow, and the authenticate hooks decide alone whether a
// client the built-in checks would refuse as anonymous may connect (an
// embedder that sets one has said who may connect). An unset hook allows
// everything the built-in checks allow.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace duplex {

struct ClientInfo {
    std::string_view protocol;   // "mqtt", "stomp" or "commands" (plain WebSocket)
    std::string_view client_id;  // MQTT client id; STOMP and commands: a broker-assigned session id
    // The identity: verified (password file, token claim, certificate CN or
    // an authenticate hook) when `authenticated`; before that, and for
    // anonymous clients, what the client claimed (MQTT username / STOMP
    // login), possibly empty.
    std::string_view username;
    std::string_view peer;  // "ip:port"
    bool authenticated = false;
};

enum class Access { Publish, Subscribe };

// What a decision is about. Topic: an MQTT topic (or filter) or STOMP
// /topic/x -> x. Queue: a STOMP /queue/x -> x. Command: a command name,
// whatever path it came by (topic, plain WebSocket, in-process requests are
// not checked). Session: taking over the MQTT session of `name` (a client
// id) owned by another identity (Access::Publish).
enum class Resource { Topic, Queue, Command, Session };

struct Hooks {
    // Password is the MQTT password / STOMP passcode / the credential of a
    // command connection. Return false to refuse (MQTT CONNACK "not
    // authorized" / STOMP ERROR / command connection closed).
    std::function<bool(const ClientInfo&, std::string_view password)> authenticate;
    // The same question, answered later: call `done` once, from any thread
    // (it is posted to the loop). The connection reads nothing more until
    // then; a client gone meanwhile is forgotten and `done` does nothing.
    // When set, it is used instead of `authenticate`.
    using AuthenticateDone = std::function<void(bool allowed)>;
    std::function<void(const ClientInfo&, std::string_view password, AuthenticateDone done)>
        authenticate_async;
    // `name` is what `resource` says (a topic name or filter, a queue name, a
    // command name, a client id).
    std::function<bool(const ClientInfo&, Resource, std::string_view name, Access)> authorize;
    std::function<void(const ClientInfo&)> connected;
    std::function<void(const ClientInfo&)> disconnected;
};

}  // namespace duplex
