// Request parsing and response formatting of the text WebSocket protocol and
// the topic bridge (broker/commands/request.h): the negative cases give an
// error a person can act on.
#include "broker/commands/request.h"

#include <doctest/doctest.h>

using namespace duplex;
using namespace duplex::commands;

TEST_CASE("JSON request: id, command and args") {
    auto r = parse_json_request(R"({"id": 7, "command": "on", "args": {"ms": 5}})");
    CHECK(r.error.empty());
    CHECK(r.id == "7");
    CHECK(r.command == "on");
    CHECK(r.args == R"({"ms":5})");
    auto s = parse_json_request(R"({"id": "a\"b", "command": "x"})");
    CHECK(s.id == R"("a\"b")");
    CHECK(s.args == "null");
    auto n = parse_json_request(R"({"command": "x"})");
    CHECK(n.id == "null");
}

TEST_CASE("JSON request: bad JSON names the offset and the problem") {
    auto r = parse_json_request(R"({"id": 1, "command": )");
    CHECK(r.error.rfind("bad JSON at offset 21: ", 0) == 0);
    CHECK(r.id == "null");
    CHECK(parse_json_request(R"({"command":"on"} trailing)").error.rfind("bad JSON", 0) == 0);
}

TEST_CASE("JSON request: wrong shapes") {
    CHECK(parse_json_request("[1,2]").error.rfind("a request must be a JSON object", 0) == 0);
    CHECK(parse_json_request(R"({"id": 2})").error == R"(missing "command" (a string))");
    auto r = parse_json_request(R"({"id": 2})");
    CHECK(r.id == "2");  // so the error reply still correlates
    CHECK(parse_json_request(R"({"command": 5})").error == R"("command" must be a non-empty string)");
    CHECK(parse_json_request(R"({"command": ""})").error == R"("command" must be a non-empty string)");
    CHECK(parse_json_request(R"({"id": {}, "command": "x"})").error == R"("id" must be a number or a string)");
    CHECK(parse_json_request(R"({"command": "x", "reply_to": 3})").error ==
          R"("reply_to" must be a string (a topic name))");
    CHECK(parse_json_request(R"({"args": 1})", false).error.empty());
}

TEST_CASE("text request: name and optional args") {
    auto r = parse_text_request("  on \r\n");
    CHECK(r.command == "on");
    CHECK(r.args == "null");
    CHECK(parse_text_request("sleep 250").args == "250");
    CHECK(parse_text_request(R"(set {"a": 1})").args == R"({"a": 1})");
    CHECK(parse_text_request("say hello world").args == R"("hello world")");
    CHECK(parse_text_request("   ").error == "empty command (try 'help')");
    CHECK(looks_like_json(" \n{\"command\":1}"));
    CHECK_FALSE(looks_like_json("on"));
}

TEST_CASE("bridge payload: empty, envelope, bare args, bad JSON") {
    CHECK(parse_bridge_payload("").args == "null");
    auto e = parse_bridge_payload(R"({"reply_to": "me/r", "id": 9, "args": [1]})");
    CHECK(e.reply_to == "me/r");
    CHECK(e.id == "9");
    CHECK(e.args == "[1]");
    CHECK(parse_bridge_payload(R"({"ms": 5})").args == R"({"ms": 5})");  // not an envelope: the args
    CHECK(parse_bridge_payload("42").args == "42");
    CHECK(parse_bridge_payload("hello there").args == R"("hello there")");
    CHECK(parse_bridge_payload("{oops").error.rfind("bad JSON at offset 1", 0) == 0);
}

TEST_CASE("responses") {
    CommandResult ok{.ok = true, .result = R"("on")", .error = {}};
    CommandResult err{.ok = false, .result = "null", .error = "no \"chip\""};
    CHECK(json_response("7", ok) == R"({"id":7,"ok":true,"result":"on"})");
    CHECK(json_response("", err) == R"({"id":null,"ok":false,"error":"no \"chip\""})");
    CHECK(text_response(ok) == "on");
    CHECK(text_response(err) == "error: no \"chip\"");
    CHECK(text_response({.ok = true, .result = "null", .error = {}}) == "ok");
    CHECK(text_response({.ok = true, .result = "[1,2]", .error = {}}) == "[1,2]");
    CHECK(text_response({.ok = true, .result = R"({"help":"list","on":"turn on"})", .error = {}}) ==
          "help: list\non: turn on");
    CHECK(text_response({.ok = true, .result = R"({"n":1})", .error = {}}) == R"({"n":1})");
}

TEST_CASE("json helpers") {
    CHECK(json_quote("a\"b\n") == R"("a\"b\n")");
    CHECK(is_json("null"));
    CHECK(is_json(" {\"a\": 1} "));
    CHECK_FALSE(is_json("on"));
    CHECK_FALSE(is_json("1 2"));
    CHECK_FALSE(is_json(""));
}

TEST_CASE("JSON nested deeper than the bound is refused with an error, never a stack overflow") {
    // ~120 KB of '[' crashed the recursive parser (SIGSEGV), as a plain-WebSocket
    // command, a bridge payload and inside "args".
    std::string deep(120000, '[');
    CHECK(parse_json_request(deep).error == "JSON nested deeper than 64 levels");
    // Not an envelope ('{'): as any non-JSON payload, it becomes a JSON string argument.
    CHECK(parse_bridge_payload(deep).args.size() == deep.size() + 2);
    std::string in_args = R"({"id": 1, "command": "on", "args": )" + deep + "}";
    CHECK(parse_json_request(in_args).error == "JSON nested deeper than 64 levels");
    std::string deep_object;
    for (int i = 0; i < 100000; ++i) deep_object += "{\"a\":";
    CHECK(parse_bridge_payload(deep_object).error == "JSON nested deeper than 64 levels");
    // At the bound it parses.
    std::string args = std::string(63, '[') + std::string(63, ']');
    auto ok = parse_json_request(R"({"command": "on", "args": )" + args + "}");
    CHECK(ok.error.empty());
    CHECK(ok.args == args);
}
