// In-process tests of the commands connection (protocols/commands/
// connection.h): one WebSocket text message in (on_data + on_message_end),
// one text message out, through net::ProtocolHandler on a FakeTransport. The
// transport is a byte stream (websocket false) except where the framing
// itself is checked, so each reply is read as plain text right after it is
// produced.
#include "base/clock.h"
#include "tests/support/harness.h"

#include <doctest/doctest.h>

#include <optional>

using namespace duplex;
using namespace duplex::test;

namespace {

void request(Peer& p, std::string_view message, bool text = true) {
    p.send(message, text);
    p.handler->on_message_end();
}

// A registry with "echo" (returns its args), "ping" (null) and "later"
// (completes when the test says so).
struct Registry {
    Commands commands;
    std::vector<Reply> held;
    int runs = 0;
    Registry() {
        commands.add("echo", "returns its arguments", [this](const CommandRequest& r, Reply reply) {
            ++runs;
            reply.ok(r.args);
        });
        commands.add("ping", "null", [this](const CommandRequest&, Reply reply) {
            ++runs;
            reply.ok();
        });
        commands.add("later", "completes later", [this](const CommandRequest&, Reply reply) {
            ++runs;
            held.push_back(reply);
        });
    }
};

}  // namespace

TEST_SUITE("commands connection") {

// Regression: idle command connections had no bound at all (on_tick did nothing).
TEST_CASE("an idle connection is pinged after max_keep_alive of silence and closed at 1.5 x if it does not answer") {
    Registry r;
    Config cfg = test_config();
    cfg.limits.max_keep_alive = 10;
    Harness h(cfg);
    Peer& p = h.commands(r.commands);
    const int64_t t0 = now_ms();
    p.tick(t0 + 9000);
    CHECK(p.transport.pings == 0);
    p.tick(t0 + 10500);
    CHECK(p.transport.pings == 1);
    p.tick(t0 + 12000);
    CHECK(p.transport.pings == 1);  // one ping per silence
    CHECK_FALSE(p.transport.closed());
    p.tick(t0 + 15500);
    CHECK(p.transport.closed());
}

TEST_CASE("a pong (or ping, or any request) from the peer restarts the idle clock") {
    Registry r;
    Config cfg = test_config();
    cfg.limits.max_keep_alive = 10;
    Harness h(cfg);
    Peer& p = h.commands(r.commands);
    p.tick(now_ms() + 10500);
    CHECK(p.transport.pings == 1);
    p.handler->on_peer_alive();  // the pong
    const int64_t t1 = now_ms();
    p.tick(t1 + 14000);
    CHECK_FALSE(p.transport.closed());
    CHECK(p.transport.pings == 2);  // silent again for a period
    request(p, "ping");
    CHECK(p.read() == "ok");
    const int64_t t2 = now_ms();
    p.tick(t2 + 9000);
    p.tick(t2 + 14000);
    CHECK_FALSE(p.transport.closed());
    CHECK(p.transport.pings == 3);
}

TEST_CASE("max_keep_alive 0: no idle bound, as for MQTT") {
    Registry r;
    Config cfg = test_config();
    cfg.limits.max_keep_alive = 0;
    Harness h(cfg);
    Peer& p = h.commands(r.commands);
    p.tick(now_ms() + 100LL * 24 * 3600 * 1000);
    CHECK(p.transport.pings == 0);
    CHECK_FALSE(p.transport.closed());
}


TEST_CASE("a text command line is answered by one text message (broker/commands/request.h text format)") {
    Registry r;
    Harness h;
    Peer& p = h.commands(r.commands);
    request(p, "echo hello world");
    CHECK(p.read() == "hello world");  // a string result, unquoted
    request(p, "ping");
    CHECK(p.read() == "ok");           // null
    request(p, "echo {\"n\": 1}");
    CHECK(p.read() == "{\"n\": 1}");    // JSON args stay JSON
    CHECK(r.runs == 3);
    CHECK_FALSE(p.transport.closed());
}

TEST_CASE("a JSON request with an id is answered with the same id") {
    Registry r;
    Harness h;
    Peer& p = h.commands(r.commands);
    request(p, R"({"id": 7, "command": "echo", "args": {"a": [1, 2]}})");  // args re-serialized compactly
    CHECK(p.read() == R"({"id":7,"ok":true,"result":{"a":[1,2]}})");
    request(p, R"({"id": "abc", "command": "ping"})");
    CHECK(p.read() == R"({"id":"abc","ok":true,"result":null})");
}

TEST_CASE("replies to JSON requests come back as they complete, correlated by id") {
    Registry r;
    Harness h;
    Peer& p = h.commands(r.commands);
    request(p, R"({"id": 1, "command": "later"})");
    request(p, R"({"id": 2, "command": "later"})");
    CHECK(p.read().empty());
    REQUIRE(r.held.size() == 2);
    r.held[1].ok_text("second");
    CHECK(p.read() == R"({"id":2,"ok":true,"result":"second"})");
    r.held[0].error("failed");
    CHECK(p.read() == R"({"id":1,"ok":false,"error":"failed"})");
}

TEST_CASE("an unknown command is answered with an error naming it") {
    Registry r;
    Harness h;
    Peer& p = h.commands(r.commands);
    request(p, "nope");
    CHECK(p.read() == "error: " + Commands::unknown_command_error("nope"));
    request(p, R"({"id": 3, "command": "nope"})");
    CHECK(p.read() == R"j({"id":3,"ok":false,"error":"unknown command 'nope' (try 'help')"})j");
    CHECK_FALSE(p.transport.closed());
}

TEST_CASE("a malformed request is answered with an error, the connection stays") {
    Registry r;
    Harness h;
    Peer& p = h.commands(r.commands);
    request(p, R"({"id": 4, "command": )");
    std::string reply = p.read();
    CHECK(reply.rfind("{\"id\":null,\"ok\":false,\"error\":", 0) == 0);
    request(p, "   ");
    CHECK(p.read().rfind("error: ", 0) == 0);
    CHECK(r.runs == 0);
    request(p, "ping");
    CHECK(p.read() == "ok");
}

TEST_CASE("a binary message is refused without running anything") {
    Registry r;
    Harness h;
    Peer& p = h.commands(r.commands);
    request(p, "ping", false);
    CHECK(p.read() == "error: binary messages are not accepted: send commands as text");
    CHECK(r.runs == 0);
    CHECK_FALSE(p.transport.closed());
    request(p, "ping");  // the next text message is served
    CHECK(p.read() == "ok");
}

TEST_CASE("a message split over several data callbacks is one request") {
    Registry r;
    Harness h;
    Peer& p = h.commands(r.commands);
    p.send("ec", true);
    p.send("ho sp", true);
    p.send("lit", true);
    p.handler->on_message_end();
    CHECK(p.read() == "split");
    CHECK(r.runs == 1);
}

TEST_CASE("a message larger than max_packet_size is refused, not buffered") {
    Config cfg = test_config();
    cfg.limits.max_packet_size = 64;
    Registry r;
    Harness h(cfg);
    Peer& p = h.commands(r.commands);
    request(p, "echo " + std::string(100, 'x'));
    CHECK(p.read().find("larger than max_packet_size") != std::string::npos);
    CHECK(r.runs == 0);
    request(p, "ping");
    CHECK(p.read() == "ok");
}

TEST_CASE("at most kMaxPending requests wait for their handler at once") {
    Registry r;
    Harness h;
    Peer& p = h.commands(r.commands);
    for (size_t i = 0; i < commands::Connection::kMaxPending; ++i) request(p, "later");
    CHECK(p.read().empty());
    request(p, "later");
    CHECK(p.read().find("too many requests in progress") != std::string::npos);
    CHECK(r.held.size() == commands::Connection::kMaxPending);
    r.held[0].ok();
    CHECK(p.read() == "ok");
    request(p, "ping");  // room again
    CHECK(p.read() == "ok");
}

TEST_CASE("a reply completing after the connection closed goes nowhere") {
    Registry r;
    Harness h;
    Peer& p = h.commands(r.commands);
    request(p, "later");
    REQUIRE(r.held.size() == 1);
    p.drop();
    CHECK(r.held[0].ok_text("too late"));  // completes; nobody to tell
}

TEST_CASE("over WebSocket each reply is one unmasked text frame (RFC 6455 5.2)") {
    Registry r;
    Harness h;
    Peer& p = h.commands(r.commands);
    p.transport.set_websocket(true);
    request(p, "echo hi");
    std::string frame = p.read();
    REQUIRE(frame.size() == 4);
    CHECK(uint8_t(frame[0]) == 0x81);  // FIN + text
    CHECK(uint8_t(frame[1]) == 2);     // no mask, length 2
    CHECK(frame.substr(2) == "hi");
}

}  // TEST_SUITE
