#include "broker/commands/request.h"

#include <fmt/core.h>
#include "base/json.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace duplex::commands {

namespace {

std::string to_json(const rapidjson::Value& v) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    v.Accept(w);
    return std::string(sb.GetString(), sb.GetSize());
}

std::string_view trim(std::string_view s) {
    auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && blank(s.back())) s.remove_suffix(1);
    return s;
}

// Reads the envelope members shared by the WebSocket and bridge forms.
void read_envelope(const rapidjson::Value& obj, ParsedRequest& out) {
    if (auto it = obj.FindMember("id"); it != obj.MemberEnd()) {
        if (!it->value.IsNumber() && !it->value.IsString() && !it->value.IsNull()) {
            out.error = "\"id\" must be a number or a string";
            return;
        }
        out.id = to_json(it->value);
    }
    if (auto it = obj.FindMember("args"); it != obj.MemberEnd()) out.args = to_json(it->value);
    if (auto it = obj.FindMember("reply_to"); it != obj.MemberEnd()) {
        if (!it->value.IsString()) {
            out.error = "\"reply_to\" must be a string (a topic name)";
            return;
        }
        out.reply_to.assign(it->value.GetString(), it->value.GetStringLength());
    }
}

}  // namespace

bool looks_like_json(std::string_view text) {
    text = trim(text);
    return !text.empty() && text.front() == '{';
}

ParsedRequest parse_json_request(std::string_view text, bool need_command) {
    ParsedRequest out;
    rapidjson::Document d;
    if (std::string error = parse_json(text, d); !error.empty()) {
        out.error = std::move(error);
        return out;
    }
    if (!d.IsObject()) {
        out.error = "a request must be a JSON object: {\"id\": 1, \"command\": \"status\"}";
        return out;
    }
    read_envelope(d, out);
    if (!out.error.empty()) return out;
    auto it = d.FindMember("command");
    if (it != d.MemberEnd()) {
        if (!it->value.IsString() || it->value.GetStringLength() == 0) {
            out.error = "\"command\" must be a non-empty string";
            return out;
        }
        out.command.assign(it->value.GetString(), it->value.GetStringLength());
    } else if (need_command) {
        out.error = "missing \"command\" (a string)";
    }
    return out;
}

ParsedRequest parse_text_request(std::string_view text) {
    ParsedRequest out;
    text = trim(text);
    if (text.empty()) {
        out.error = "empty command (try 'help')";
        return out;
    }
    size_t space = text.find_first_of(" \t");
    out.command = std::string(text.substr(0, space));
    if (space != std::string_view::npos) {
        std::string_view rest = trim(text.substr(space));
        out.args = is_json(rest) ? std::string(rest) : json_quote(rest);
    }
    return out;
}

ParsedRequest parse_bridge_payload(std::string_view payload) {
    ParsedRequest out;
    std::string_view t = trim(payload);
    if (t.empty()) return out;
    rapidjson::Document d;
    if (std::string error = parse_json(t, d); !error.empty()) {
        if (looks_like_json(t)) out.error = std::move(error);
        else out.args = json_quote(t);
        return out;
    }
    if (d.IsObject() && (d.HasMember("args") || d.HasMember("id") || d.HasMember("reply_to"))) {
        read_envelope(d, out);
        return out;
    }
    out.args = std::string(t);
    return out;
}

std::string json_response(std::string_view id_json, const CommandResult& r) {
    std::string id = id_json.empty() ? std::string("null") : std::string(id_json);
    if (r.ok)
        return fmt::format("{{\"id\":{},\"ok\":true,\"result\":{}}}", id,
                           r.result.empty() ? "null" : r.result);
    return fmt::format("{{\"id\":{},\"ok\":false,\"error\":{}}}", id, json_quote(r.error));
}

std::string text_response(const CommandResult& r) {
    if (!r.ok) return "error: " + r.error;
    rapidjson::Document d;
    if (!parse_json(r.result, d).empty()) return r.result;
    if (d.IsNull()) return "ok";
    if (d.IsString()) return std::string(d.GetString(), d.GetStringLength());
    if (d.IsObject() && d.MemberCount() > 0) {
        std::string lines;
        for (auto& m : d.GetObject()) {
            if (!m.value.IsString()) return r.result;
            if (!lines.empty()) lines += '\n';
            lines += fmt::format("{}: {}", std::string_view(m.name.GetString(), m.name.GetStringLength()),
                                 std::string_view(m.value.GetString(), m.value.GetStringLength()));
        }
        return lines;
    }
    return r.result;
}

}  // namespace duplex::commands
