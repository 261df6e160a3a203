// The record log: round trips, group commit, limits, chunked recovery.
#include "store/log.h"
#include "tests/store/fault_fs.h"
#include "tests/store/helpers.h"

#include <doctest/doctest.h>

using namespace duplex::store;
using namespace duplex::store::test;

TEST_CASE("a log round-trips its records in order, with their types and the generation") {
    FaultInjectingFs fs;
    std::string err;
    auto w = LogWriter::create(fs, "a.log", 42, err);
    REQUIRE_MESSAGE(w, err);
    auto records = sample_records(20);
    for (auto& r : records) REQUIRE(w->add(r.type, r.payload, err));
    CHECK(w->pending_records() == 20);
    REQUIRE(w->commit(SyncMode::Always, err));
    CHECK(w->pending_records() == 0);
    CHECK_FALSE(w->unsynced());
    CHECK(w->committed_length() == fs.contents("a.log").size());
    w.reset();

    Recovered got = recover_all(fs, "a.log");
    CHECK(got.rec.found);
    CHECK(got.rec.damage == Damage::None);
    CHECK(got.rec.generation == 42);
    CHECK(got.rec.records == 20);
    CHECK(got.rec.dropped_bytes() == 0);
    CHECK(got.records == records);
    CHECK(got.line ==
          "store: a.log: 20 records (" + std::to_string(got.rec.good_length) + " bytes), generation 42");

    // Reopened after recovery, it appends after what is there.
    auto w2 = LogWriter::open(fs, "a.log", got.rec, err);
    REQUIRE_MESSAGE(w2, err);
    CHECK(w2->generation() == 42);
    REQUIRE(w2->add(9, std::vector<uint8_t>{1, 2, 3}, err));
    REQUIRE(w2->commit(SyncMode::Always, err));
    records.push_back({9, {1, 2, 3}});
    CHECK(recover_all(fs, "a.log").records == records);
}

TEST_CASE("group commit: each turn's batch is one append; empty turns write nothing") {
    FaultInjectingFs fs;
    std::string err;
    auto w = LogWriter::create(fs, "t.log", 1, err);
    REQUIRE(w);
    auto records = sample_records(600, 7);
    size_t next = 0;
    for (int turn = 0; turn < 200; ++turn) {
        size_t n = size_t(turn % 6);  // 0..5 records a turn
        uint64_t appends = fs.appends(), syncs = fs.syncs();
        for (size_t i = 0; i < n && next < records.size(); ++i, ++next)
            REQUIRE(w->add(records[next].type, records[next].payload, err));
        REQUIRE(w->commit(turn % 2 ? SyncMode::Always : SyncMode::Never, err));
        CHECK(fs.appends() - appends == (n ? 1u : 0u));
        CHECK(fs.syncs() - syncs == (turn % 2 ? 1u : 0u));  // Always syncs an earlier Never commit too
    }
    records.resize(next);
    CHECK(recover_all(fs, "t.log").records == records);
}

TEST_CASE("the writer refuses type 0 and records over kMaxRecordBytes; the batch is unchanged") {
    FaultInjectingFs fs;
    std::string err;
    auto w = LogWriter::create(fs, "l.log", 1, err);
    REQUIRE(w);
    CHECK_FALSE(w->add(0, std::vector<uint8_t>{1}, err));
    CHECK(err == "record type 0 is reserved");
    std::vector<uint8_t> big(kMaxRecordBytes + 1);
    CHECK_FALSE(w->add(1, big, err));
    CHECK(err.find("over the limit") != std::string::npos);
    CHECK(w->pending_records() == 0);
    big.pop_back();  // exactly the limit is fine
    CHECK(w->add(1, big, err));
    REQUIRE(w->commit(SyncMode::Never, err));
    Recovered got = recover_all(fs, "l.log");
    REQUIRE(got.records.size() == 1);
    CHECK(got.records[0].payload.size() == kMaxRecordBytes);
}

TEST_CASE("recovery reads in chunks, reports progress, and handles records larger than a chunk") {
    FaultInjectingFs fs;
    std::string err;
    auto w = LogWriter::create(fs, "big.log", 1, err);
    REQUIRE(w);
    std::vector<Rec> records;
    for (int i = 0; i < 5; ++i) {
        std::vector<uint8_t> payload(kReadChunk + 12345 * size_t(i), uint8_t(i));
        payload[payload.size() / 2] = 0xaa;
        records.push_back({uint8_t(1 + i), payload});
        REQUIRE(w->add(uint8_t(1 + i), payload, err));
        for (int j = 0; j < 50; ++j) {
            records.push_back({7, {uint8_t(j)}});
            REQUIRE(w->add(7, std::vector<uint8_t>{uint8_t(j)}, err));
        }
    }
    REQUIRE(w->commit(SyncMode::Always, err));
    uint64_t total = fs.contents("big.log").size();

    std::vector<Rec> got;
    std::vector<std::pair<uint64_t, uint64_t>> progress;
    Recovery rec;
    REQUIRE(scan(
        fs, "big.log",
        [&](const Record& r) {
            got.push_back({r.type, {r.payload.begin(), r.payload.end()}});
        },
        rec, err, [&](uint64_t done, uint64_t of) { progress.emplace_back(done, of); }));
    CHECK(got == records);
    CHECK(rec.good_length == total);
    CHECK(progress.size() >= 5);
    CHECK(progress.back() == std::make_pair(total, total));
    for (size_t i = 1; i < progress.size(); ++i) CHECK(progress[i].first > progress[i - 1].first);
}

TEST_CASE("record offsets are the file offsets of their first byte") {
    auto records = sample_records(6);
    Built b = build_log(records);
    FaultInjectingFs fs;
    fs.put("o.log", b.bytes);
    std::vector<uint64_t> offsets;
    Recovery rec;
    std::string err;
    REQUIRE(scan(
        fs, "o.log", [&](const Record& r) { offsets.push_back(r.offset); }, rec, err));
    REQUIRE(offsets.size() == 6);
    CHECK(offsets[0] == kHeaderBytes);
    for (size_t i = 1; i < 6; ++i) CHECK(offsets[i] == b.ends[i - 1]);
}

TEST_CASE("a missing log is not an error; LogWriter::open refuses what recovery did not leave") {
    FaultInjectingFs fs;
    Recovered none = recover_all(fs, "none.log");
    CHECK_FALSE(none.rec.found);
    CHECK(none.line == "store: none.log: no log yet");
    std::string err;
    CHECK_FALSE(LogWriter::open(fs, "none.log", none.rec, err));

    fs.put("x.log", build_log(sample_records(3)).bytes);
    Recovered got = recover_all(fs, "x.log");
    fs.put("x.log", build_log(sample_records(4)).bytes);  // changed behind recovery's back
    CHECK_FALSE(LogWriter::open(fs, "x.log", got.rec, err));
    CHECK(err.find("recover it again") != std::string::npos);

    CHECK_FALSE(LogWriter::create(fs, "x.log", 1, err));  // exists
}
