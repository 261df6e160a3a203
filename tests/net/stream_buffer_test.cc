// net::StreamBuffer: reassembly of a byte stream into protocol units. The
// units here are a toy framing: one length byte, then that many bytes.
#include "net/stream_buffer.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

using duplex::net::StreamBuffer;

namespace {

std::span<const uint8_t> bytes_of(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Length-prefixed units; records every unit parsed and where its bytes were.
struct Framer {
    std::vector<std::string> units;
    std::vector<const uint8_t*> starts;  // first byte of each span parse saw
    int calls = 0;

    long operator()(std::span<const uint8_t> b) {
        ++calls;
        starts.push_back(b.data());
        if (b.empty()) return 0;
        size_t len = b[0];
        if (b.size() < 1 + len) return 0;
        units.emplace_back(reinterpret_cast<const char*>(b.data()) + 1, len);
        return static_cast<long>(1 + len);
    }
};

std::string unit(const std::string& body) { return std::string(1, char(body.size())) + body; }

}  // namespace

TEST_SUITE("net") {

TEST_CASE("StreamBuffer: with nothing pending, units are parsed in place from the caller's bytes") {
    StreamBuffer buf;
    Framer f;
    std::string in = unit("abc") + unit("de");
    REQUIRE(buf.feed(bytes_of(in), std::ref(f)));
    CHECK(f.units == std::vector<std::string>{"abc", "de"});
    // parse saw the caller's own memory, not a copy: first unit at in[0],
    // second right after it.
    REQUIRE(f.starts.size() >= 2);
    CHECK(f.starts[0] == reinterpret_cast<const uint8_t*>(in.data()));
    CHECK(f.starts[1] == reinterpret_cast<const uint8_t*>(in.data()) + 4);
    CHECK(buf.pending() == 0);
}

TEST_CASE("StreamBuffer: a partial unit is kept across feeds and completed by the next") {
    StreamBuffer buf;
    Framer f;
    std::string in = unit("hello") + unit("wor");
    // All of the first unit and two bytes of the second.
    REQUIRE(buf.feed(bytes_of(in.substr(0, 8)), std::ref(f)));
    CHECK(f.units == std::vector<std::string>{"hello"});
    CHECK(buf.pending() == 2);
    std::string rest = in.substr(8);
    REQUIRE(buf.feed(bytes_of(rest), std::ref(f)));
    CHECK(f.units == std::vector<std::string>{"hello", "wor"});
    CHECK(buf.pending() == 0);
    // The kept bytes were a copy: the completed unit was parsed from the
    // buffer's storage, not from the caller's second chunk.
    CHECK(f.starts.back() != reinterpret_cast<const uint8_t*>(rest.data()));
}

TEST_CASE("StreamBuffer: parse returning < 0 makes feed fail and drops everything pending") {
    SUBCASE("with nothing pending before the feed") {
        StreamBuffer buf;
        std::string in = unit("ab") + unit("cd");
        int calls = 0;
        CHECK_FALSE(buf.feed(bytes_of(in), [&](std::span<const uint8_t>) { return ++calls == 1 ? 3L : -1L; }));
        CHECK(calls == 2);
        CHECK(buf.pending() == 0);
    }
    SUBCASE("with a partial unit pending") {
        StreamBuffer buf;
        Framer f;
        std::string in = unit("abcdef");
        REQUIRE(buf.feed(bytes_of(in.substr(0, 3)), std::ref(f)));
        REQUIRE(buf.pending() == 3);
        CHECK_FALSE(buf.feed(bytes_of(in.substr(3)), [](std::span<const uint8_t>) { return -1L; }));
        CHECK(buf.pending() == 0);
        // Nothing of the dropped bytes resurfaces: a fresh unit parses alone.
        std::string next = unit("z");
        REQUIRE(buf.feed(bytes_of(next), std::ref(f)));
        CHECK(f.units == std::vector<std::string>{"z"});
    }
}

TEST_CASE("StreamBuffer: many small feeds deliver every unit once, in order") {
    StreamBuffer buf;
    Framer f;
    std::string stream;
    std::vector<std::string> want;
    for (int i = 0; i < 200; ++i) {
        std::string body(static_cast<size_t>(i % 17), char('a' + i % 26));
        want.push_back(body);
        stream += unit(body);
    }
    for (size_t off = 0; off < stream.size(); off += 3) {
        std::string chunk = stream.substr(off, 3);
        REQUIRE(buf.feed(bytes_of(chunk), std::ref(f)));
    }
    CHECK(f.units == want);
    CHECK(buf.pending() == 0);
}

TEST_CASE("StreamBuffer: a unit split at every byte boundary is parsed exactly once") {
    const std::string in = unit("split-me") + unit("");
    for (size_t cut = 0; cut <= in.size(); ++cut) {
        CAPTURE(cut);
        StreamBuffer buf;
        Framer f;
        std::string a = in.substr(0, cut), b = in.substr(cut);
        REQUIRE(buf.feed(bytes_of(a), std::ref(f)));
        REQUIRE(buf.feed(bytes_of(b), std::ref(f)));
        CHECK(f.units == std::vector<std::string>{"split-me", ""});
        CHECK(buf.pending() == 0);
    }
}

TEST_CASE("StreamBuffer: parse returning 0 stops the loop and keeps the bytes for later") {
    StreamBuffer buf;
    int calls = 0;
    std::string in = "xyz";
    REQUIRE(buf.feed(bytes_of(in), [&](std::span<const uint8_t>) { ++calls; return 0L; }));
    CHECK(calls == 1);
    CHECK(buf.pending() == 3);
    // An empty feed re-offers the pending bytes (what a resumed reader does).
    Framer f;
    REQUIRE(buf.feed({}, [&](std::span<const uint8_t> b) {
        CHECK(std::string(reinterpret_cast<const char*>(b.data()), b.size()) == "xyz");
        return 3L;
    }));
    CHECK(buf.pending() == 0);
}

}  // TEST_SUITE
