// Commands as bytes: parsing requests and formatting responses for the text
// WebSocket protocol and the topic bridge. Pure functions (no I/O), so unit
// tests drive them with strings alone.
//
// JSON request:   {"id": 7, "command": "on", "args": {...}}
//                 "id" (number or string) is echoed as is; "args" is any JSON
//                 value (null when absent). The topic bridge takes the command
//                 from the topic and also reads "reply_to" (MQTT 3.1.1).
// JSON response:  {"id": 7, "ok": true, "result": <JSON>}
//                 {"id": 7, "ok": false, "error": "<text>"}   (id null if unknown)
// Text request:   "<name>[ <args>]"  args: JSON if it parses, else a JSON string.
// Text response:  the result (a string result unquoted, null as "ok", other
//                 JSON as JSON; an object of strings as "key: value" lines),
//                 or "error: <text>".
#pragma once

#include "duplex/commands.h"

#include <string>
#include <string_view>

namespace duplex::commands {

struct ParsedRequest {
    std::string id = "null";  // JSON text of "id"
    std::string command;
    std::string args = "null";  // JSON text
    std::string reply_to;       // bridge only
    std::string error;          // non-empty: malformed request, answer with this
};

// True if the first non-blank character is '{': the request is JSON.
bool looks_like_json(std::string_view text);

// `need_command`: false for the topic bridge (the command is the topic's last level).
ParsedRequest parse_json_request(std::string_view text, bool need_command = true);
ParsedRequest parse_text_request(std::string_view text);
// A topic-bridge payload: empty (no args), an envelope object with "args",
// "id" or "reply_to", or else the args themselves (JSON, or text as a string).
ParsedRequest parse_bridge_payload(std::string_view payload);

std::string json_response(std::string_view id_json, const CommandResult& result);
std::string text_response(const CommandResult& result);

}  // namespace duplex::commands
