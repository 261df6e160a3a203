// Config from text: one table of option names shared by the JSON config
// file and the daemon's command line, so both accept the same names.
#include "duplex/config.h"

#include "base/json.h"

#include <fmt/core.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <charconv>
#include <functional>
#include <limits>

namespace duplex {

namespace {

template <class T>
std::string parse_number(std::string_view text, T& out, T min, T max) {
    unsigned long long v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty())
        return fmt::format("'{}' is not a non-negative integer", text);
    if (v < static_cast<unsigned long long>(min) || v > static_cast<unsigned long long>(max))
        return fmt::format("{} is out of range {}..{}", v, min, max);
    out = static_cast<T>(v);
    return {};
}

std::string set_string(std::string_view text, std::string& out) {
    out = std::string(text);
    return {};
}

// "a,b,,c" -> {"a", "b", "c"} (spaces around items dropped).
std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> items;
    while (!text.empty()) {
        auto comma = text.find(',');
        std::string_view item = text.substr(0, comma);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (!item.empty()) items.emplace_back(item);
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    }
    return items;
}

std::string parse_bool(std::string_view text, bool& out) {
    if (text == "true" || text == "1") out = true;
    else if (text == "false" || text == "0") out = false;
    else return fmt::format("'{}' is not true or false", text);
    return {};
}

struct Option {
    const char* name;
    std::function<std::string(std::string_view, Config&)> set;
};

const Option options[] = {
    {"ws", [](std::string_view v, Config& c) { return parse_listener(v, c.ws); }},
    {"mqtt", [](std::string_view v, Config& c) { return parse_listener(v, c.mqtt); }},
    {"stomp", [](std::string_view v, Config& c) { return parse_listener(v, c.stomp); }},
    {"web_root",
     [](std::string_view v, Config& c) {
         c.web_root = std::string(v);
         return std::string();
     }},
    {"log_level",
     [](std::string_view v, Config& c) {
         if (v != "error" && v != "warn" && v != "info" && v != "debug")
             return fmt::format("log level '{}' is not one of error, warn, info, debug", v);
         c.log_level = std::string(v);
         return std::string();
     }},
    {"max_packet_size",
     [](std::string_view v, Config& c) {
         // MQTT's remaining length cannot exceed 268,435,455 bytes.
         return parse_number<size_t>(v, c.limits.max_packet_size, 16, 268435460);
     }},
    {"max_inflight", [](std::string_view v,
                        Config& c) { return parse_number<uint16_t>(v, c.limits.max_inflight, 1, 65535); }},
    {"max_queued_messages",
     [](std::string_view v, Config& c) {
         return parse_number<size_t>(v, c.limits.max_queued_messages, 1,
                                     std::numeric_limits<uint32_t>::max());
     }},
    {"max_queued_bytes",
     [](std::string_view v, Config& c) {
         return parse_number<size_t>(v, c.limits.max_queued_bytes, 1024, std::numeric_limits<size_t>::max());
     }},
    {"max_connections",
     [](std::string_view v, Config& c) {
         return parse_number<size_t>(v, c.limits.max_connections, 1, 10000000);
     }},
    {"topic_alias_maximum",
     [](std::string_view v, Config& c) {
         return parse_number<uint16_t>(v, c.limits.topic_alias_maximum, 0, 65535);
     }},
    {"receive_maximum",
     [](std::string_view v, Config& c) {
         return parse_number<uint16_t>(v, c.limits.receive_maximum, 1, 65535);
     }},
    {"max_keep_alive",
     [](std::string_view v, Config& c) {
         return parse_number<uint16_t>(v, c.limits.max_keep_alive, 0, 65535);
     }},
    {"max_topic_levels",
     [](std::string_view v, Config& c) {
         return parse_number<size_t>(v, c.limits.max_topic_levels, 1, 65535);
     }},
    {"slow_consumer_timeout",
     [](std::string_view v, Config& c) {
         return parse_number<int>(v, c.limits.slow_consumer_timeout, 0, 86400);
     }},
    {"max_retained_messages",
     [](std::string_view v, Config& c) {
         return parse_number<size_t>(v, c.limits.max_retained_messages, 0, 100000000);
     }},
    {"max_retained_bytes",
     [](std::string_view v, Config& c) {
         return parse_number<size_t>(v, c.limits.max_retained_bytes, 0, std::numeric_limits<size_t>::max());
     }},
    {"max_subscriptions",
     [](std::string_view v, Config& c) {
         return parse_number<size_t>(v, c.limits.max_subscriptions, 1, 10000000);
     }},
    {"max_persistent_sessions",
     [](std::string_view v, Config& c) {
         return parse_number<size_t>(v, c.limits.max_persistent_sessions, 0, 100000000);
     }},
    {"max_session_expiry",
     [](std::string_view v, Config& c) {
         return parse_number<uint32_t>(v, c.limits.max_session_expiry, 1, 4294967295u);
     }},
    {"max_queues", [](std::string_view v,
                      Config& c) { return parse_number<size_t>(v, c.limits.max_queues, 1, 100000000); }},
    {"partial_packet_timeout",
     [](std::string_view v, Config& c) {
         return parse_number<int>(v, c.limits.partial_packet_timeout, 1, 86400);
     }},
    {"max_connections_per_address",
     [](std::string_view v, Config& c) {
         return parse_number<size_t>(v, c.limits.max_connections_per_address, 0, 10000000);
     }},
    {"connect_timeout",
     [](std::string_view v, Config& c) { return parse_number<int>(v, c.limits.connect_timeout, 1, 3600); }},
    {"stomp_hosts",
     [](std::string_view v, Config& c) {
         c.stomp_hosts = split_list(v);
         return std::string();
     }},
    {"command_prefix",
     [](std::string_view v, Config& c) {
         if (v.find_first_of("+#") != std::string_view::npos || v.ends_with("/"))
             return fmt::format("'{}' is not a topic prefix (no wildcards, no trailing '/')", v);
         c.commands.command_prefix = std::string(v);
         return std::string();
     }},
    {"reply_prefix",
     [](std::string_view v, Config& c) {
         if (v.empty() || v.find_first_of("+#") != std::string_view::npos || v.ends_with("/"))
             return fmt::format("'{}' is not a topic prefix (no wildcards, no trailing '/')", v);
         c.commands.reply_prefix = std::string(v);
         return std::string();
     }},
    {"events_topic",
     [](std::string_view v, Config& c) {
         if (v.find_first_of("+#") != std::string_view::npos)
             return fmt::format("'{}' is not a topic name (no wildcards)", v);
         c.commands.events_topic = std::string(v);
         return std::string();
     }},
    {"command_timeout_ms",
     [](std::string_view v, Config& c) {
         return parse_number<int>(v, c.commands.command_timeout_ms, 1, 3600000);
     }},
    {"led",
     [](std::string_view v, Config& c) {
         if (v != "auto" && v != "gpio" && v != "simulated" && v != "off")
             return fmt::format("'{}' is not one of auto, gpio, simulated, off", v);
         c.led = std::string(v);
         return std::string();
     }},
    {"led_chip",
     [](std::string_view v, Config& c) {
         if (v.empty()) return std::string("empty chip name");
         c.led_chip = std::string(v);
         return std::string();
     }},
    {"led_line",
     [](std::string_view v, Config& c) { return parse_number<unsigned>(v, c.led_line, 0, 1023); }},
    {"allow_anonymous",
     [](std::string_view v, Config& c) {
         using A = SecurityOptions::Anonymous;
         if (v == "local") c.security.allow_anonymous = A::Local;
         else if (v == "true") c.security.allow_anonymous = A::Yes;
         else if (v == "false") c.security.allow_anonymous = A::No;
         else return fmt::format("'{}' is not one of local, true, false", v);
         return std::string();
     }},
    {"password_file", [](std::string_view v, Config& c) { return set_string(v, c.security.password_file); }},
    {"acl_file", [](std::string_view v, Config& c) { return set_string(v, c.security.acl_file); }},
    {"jwt_secret_file", [](std::string_view v, Config& c) { return set_string(v, c.security.jwt_secret_file); }},
    {"jwt_public_key_file",
     [](std::string_view v, Config& c) { return set_string(v, c.security.jwt_public_key_file); }},
    {"jwt_audience", [](std::string_view v, Config& c) { return set_string(v, c.security.jwt_audience); }},
    {"jwt_username_claim",
     [](std::string_view v, Config& c) {
         if (v.empty()) return std::string("empty claim name");
         return set_string(v, c.security.jwt_username_claim);
     }},
    {"jwt_leeway",
     [](std::string_view v, Config& c) { return parse_number<int>(v, c.security.jwt_leeway, 0, 3600); }},
    {"allowed_origins",
     [](std::string_view v, Config& c) {
         c.security.allowed_origins = split_list(v);
         return std::string();
     }},
    {"stomp_heartbeat_ms",
     [](std::string_view v, Config& c) { return parse_number<int>(v, c.stomp_heartbeat_ms, 1000, 3600000); }},
    // TLS: listeners and the one server context they share.
    {"mqtts", [](std::string_view v, Config& c) { return parse_listener(v, c.mqtts); }},
    {"stomps", [](std::string_view v, Config& c) { return parse_listener(v, c.stomps); }},
    {"wss", [](std::string_view v, Config& c) { return parse_listener(v, c.wss); }},
    {"tls_cert_file",
     [](std::string_view v, Config& c) {
         c.tls.cert_file = std::string(v);
         return std::string();
     }},
    {"tls_key_file",
     [](std::string_view v, Config& c) {
         c.tls.key_file = std::string(v);
         return std::string();
     }},
    {"tls_ca_file",
     [](std::string_view v, Config& c) {
         c.tls.ca_file = std::string(v);
         return std::string();
     }},
    {"tls_require_certificate",
     [](std::string_view v, Config& c) { return parse_bool(v, c.tls.require_certificate); }},
    {"tls_use_identity_as_username",
     [](std::string_view v, Config& c) { return parse_bool(v, c.tls.use_identity_as_username); }},
    {"tls_ciphers",
     [](std::string_view v, Config& c) {
         c.tls.ciphers = std::string(v);
         return std::string();
     }},
    {"tls_min_version",
     [](std::string_view v, Config& c) {
         if (v != "1.2" && v != "1.3") return fmt::format("'{}' is not 1.2 or 1.3", v);
         c.tls.min_version = std::string(v);
         return std::string();
     }},
};

// Options a JSON true/false sets (elsewhere a boolean is a type error).
bool is_bool_option(std::string_view name) {
    return name == "allow_anonymous" || name == "tls_require_certificate" ||
           name == "tls_use_identity_as_username";
}

bool is_listener(std::string_view name) {
    for (std::string_view l : {"ws", "mqtt", "stomp", "mqtts", "stomps", "wss"})
        if (name == l) return true;
    return false;
}

}  // namespace

std::string parse_listener(std::string_view text, Listener& out) {
    if (text == "off") {
        out.enabled = false;
        return {};
    }
    std::string_view host, port = text;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find("]:");
        if (close == std::string_view::npos) return fmt::format("'{}' is not [address]:port", text);
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else if (auto colon = text.rfind(':'); colon != std::string_view::npos) {
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    int p = 0;
    if (auto err = parse_number<int>(port, p, 0, 65535); !err.empty())
        return fmt::format("bad port in '{}': {}", text, err);
    if (text.front() != '[' && host.find(':') != std::string_view::npos)
        return fmt::format("'{}': write IPv6 addresses as [address]:port", text);
    out.enabled = true;
    out.host = std::string(host);
    out.port = p;
    return {};
}

std::string set_option(std::string_view name, std::string_view value, Config& config) {
    for (const Option& o : options)
        if (name == o.name) {
            auto err = o.set(value, config);
            return err.empty() ? err : fmt::format("{}: {}", name, err);
        }
    return fmt::format("unknown option '{}'", name);
}

std::string apply_json_config(std::string_view json, Config& config) {
    rapidjson::Document doc;
    if (std::string error = parse_json(json, doc); !error.empty()) return error;
    if (!doc.IsObject()) return "the config must be a JSON object";
    for (auto& m : doc.GetObject()) {
        std::string name(m.name.GetString(), m.name.GetStringLength());
        std::string value;
        if (m.value.IsString()) value.assign(m.value.GetString(), m.value.GetStringLength());
        else if (m.value.IsUint64()) value = std::to_string(m.value.GetUint64());
        else if (m.value.IsBool() && !m.value.GetBool() && is_listener(name)) value = "off";
        else if (m.value.IsBool() && is_bool_option(name)) value = m.value.GetBool() ? "true" : "false";
        else return fmt::format("{}: expected a string or a non-negative number", name);
        if (auto err = set_option(name, value, config); !err.empty()) return err;
    }
    return {};
}

}  // namespace duplex
