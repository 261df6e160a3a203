// The queue of encoded control messages (acks, receipts, errors) that MQTT
// and STOMP connections send ahead of their messages; and PacketIdSet.
#include "net/pending_messages.h"
#include "broker/session.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using duplex::net::PendingMessages;

namespace {
std::vector<std::string> drain(PendingMessages& p) {
    std::vector<std::string> out;
    p.drain([&](std::string_view m) { out.emplace_back(m); });
    return out;
}
}  // namespace

TEST_CASE("pending messages come out whole, in order, and the queue empties") {
    PendingMessages p;
    CHECK(p.empty());
    p.open() += "first";
    p.seal();
    CHECK_FALSE(p.empty());
    p.open();  // an empty message is still a message (a STOMP heart-beat is one byte, MQTT acks are short)
    p.seal();
    std::string& b = p.open();
    b.append(std::string(1000, 'x'));
    b.push_back('\0');  // bytes of any value, NUL and 0xff included
    b.push_back('\xff');
    p.seal();
    auto got = drain(p);
    REQUIRE(got.size() == 3);
    CHECK(got[0] == "first");
    CHECK(got[1].empty());
    CHECK(got[2].size() == 1002);
    CHECK(got[2].back() == '\xff');
    CHECK(p.empty());
    CHECK(drain(p).empty());
    // Usable again after draining.
    p.open() += "again";
    p.seal();
    CHECK(drain(p) == std::vector<std::string>{"again"});
}

TEST_CASE("PacketIdSet keeps each id once and erases what it holds") {
    duplex::PacketIdSet s;
    for (uint16_t id : {7, 3, 65535, 3, 1}) s.insert(id);
    CHECK(s.size() == 4);
    CHECK(s.count(3) == 1);
    CHECK(s.count(4) == 0);
    CHECK(s.erase(4) == 0);
    CHECK(s.erase(65535) == 1);
    CHECK(s.count(65535) == 0);
    CHECK(s.size() == 3);
}
