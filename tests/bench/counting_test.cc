// Unit tests of duplex-bench's counting logic (tools/bench/counting.h): a lost,
// duplicated or reordered message must be reported, and the payload stamp
// must round-trip.
#include "tools/bench/counting.h"

#include <doctest/doctest.h>

#include <cstring>
#include <vector>

using namespace duplex::bench;

TEST_CASE("stamp round-trips and pads the payload") {
    std::vector<uint8_t> buf(64, 0);
    Stamp in{7, 123456789012ull, 0xfedcba9876543210ull};
    fill_payload(buf.data(), buf.size(), in);
    Stamp out;
    REQUIRE(read_stamp(buf.data(), buf.size(), out));
    CHECK(out.publisher == 7);
    CHECK(out.seq == 123456789012ull);
    CHECK(out.ts_ns == 0xfedcba9876543210ull);
    for (size_t i = kStampSize; i < buf.size(); ++i) CHECK(buf[i] == '.');
    // printable: survives STOMP text bodies and WebSocket text frames
    for (uint8_t c : buf) CHECK((c >= 0x20 && c < 0x7f));
}

TEST_CASE("a short or corrupt payload is rejected") {
    std::vector<uint8_t> buf(kStampSize, 0);
    fill_payload(buf.data(), buf.size(), Stamp{1, 2, 3});
    Stamp s;
    CHECK_FALSE(read_stamp(buf.data(), kStampSize - 1, s));
    buf[3] = 'X';
    CHECK_FALSE(read_stamp(buf.data(), buf.size(), s));
}

TEST_CASE("all messages delivered once: nothing lost, no duplicates") {
    SeqTracker t(2, 100);
    for (uint64_t s = 0; s < 100; ++s) {
        CHECK(t.on_message(0, s) == SeqTracker::Result::New);
        CHECK(t.on_message(1, s) == SeqTracker::Result::New);
    }
    CHECK(t.expected() == 200);
    CHECK(t.delivered() == 200);
    CHECK(t.lost() == 0);
    CHECK(t.duplicates() == 0);
    CHECK(t.reordered() == 0);
    CHECK(t.complete());
}

TEST_CASE("a lost message is reported") {
    SeqTracker t(1, 10);
    for (uint64_t s = 0; s < 10; ++s)
        if (s != 4) t.on_message(0, s);
    CHECK(t.delivered() == 9);
    CHECK(t.lost() == 1);
    CHECK_FALSE(t.complete());
    CHECK(t.lost_of({10}) == 1);
    // Only 4 published (run stopped early): seq 4 was never sent, nothing lost.
    CHECK(t.lost_of({4}) == 0);
    CHECK(t.lost_of({5}) == 1);
}

TEST_CASE("a duplicated message is reported and not counted as delivered") {
    SeqTracker t(1, 5);
    for (uint64_t s = 0; s < 5; ++s) t.on_message(0, s);
    CHECK(t.on_message(0, 3) == SeqTracker::Result::Duplicate);
    CHECK(t.on_message(0, 3) == SeqTracker::Result::Duplicate);
    CHECK(t.delivered() == 5);
    CHECK(t.duplicates() == 2);
    CHECK(t.lost() == 0);
}

TEST_CASE("loss and duplicates per publisher are kept apart") {
    SeqTracker t(3, 64 * 3 + 5);  // spans several bitmap words
    const uint64_t n = 64 * 3 + 5;
    for (uint32_t p = 0; p < 3; ++p)
        for (uint64_t s = 0; s < n; ++s)
            if (!(p == 1 && (s == 63 || s == 64 || s == n - 1))) t.on_message(p, s);
    t.on_message(2, 0);
    CHECK(t.lost() == 3);
    CHECK(t.duplicates() == 1);
    CHECK(t.lost_of({n, n, n}) == 3);
}

TEST_CASE("reordering is counted, and an out-of-range message is invalid") {
    SeqTracker t(1, 10);
    t.on_message(0, 0);
    t.on_message(0, 2);
    t.on_message(0, 1);  // older than the newest seen
    CHECK(t.reordered() == 1);
    CHECK(t.on_message(0, 10) == SeqTracker::Result::Invalid);
    CHECK(t.on_message(5, 0) == SeqTracker::Result::Invalid);
    CHECK(t.invalid() == 2);
    CHECK(t.delivered() == 3);
}

TEST_CASE("latency percentiles (nearest rank)") {
    LatencyRecorder r(1000);
    for (uint64_t v = 1; v <= 1000; ++v) r.add(v);
    CHECK(r.percentile(50) == 500);
    CHECK(r.percentile(99) == 990);
    CHECK(r.percentile(99.9) == 999);
    CHECK(r.percentile(100) == 1000);
    CHECK(r.max() == 1000);
    CHECK(r.count() == 1000);
}

TEST_CASE("latency recorder keeps the exact max past its capacity") {
    LatencyRecorder r(2);
    r.add(5);
    r.add(1);
    r.add(100);  // not kept, still the max
    CHECK(r.count() == 3);
    CHECK(r.max() == 100);
    CHECK(r.percentile(100) == 5);
    LatencyRecorder merged(10);
    merged.merge(r);
    CHECK(merged.max() == 100);
    CHECK(merged.count() == 3);
}
