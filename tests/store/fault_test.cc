// Power loss and failing writes under the log, through FaultInjectingFs.
#include "store/log.h"
#include "tests/store/fault_fs.h"
#include "tests/store/helpers.h"

#include <doctest/doctest.h>

using namespace duplex::store;
using namespace duplex::store::test;

namespace {

std::unique_ptr<LogWriter> reopen(FaultInjectingFs& fs, const std::string& path, std::vector<Rec>& seen) {
    Recovered got = recover_all(fs, path);
    seen = got.records;
    std::string err;
    auto w = LogWriter::open(fs, path, got.rec, err);
    REQUIRE_MESSAGE(w, err);
    return w;
}

}  // namespace

TEST_CASE("SyncMode::Always: power loss after any commit loses nothing committed") {
    FaultInjectingFs fs;
    std::string err;
    REQUIRE(LogWriter::create(fs, "p.log", 1, err));
    auto records = sample_records(120, 5);
    std::vector<Rec> committed, seen;
    auto w = reopen(fs, "p.log", seen);
    size_t next = 0;
    for (int turn = 0; next < records.size(); ++turn) {
        for (int i = 0; i < turn % 4 && next < records.size(); ++i, ++next)
            REQUIRE(w->add(records[next].type, records[next].payload, err));
        REQUIRE(w->commit(SyncMode::Always, err));
        committed.assign(records.begin(), records.begin() + long(next));
        // Records added after the commit, never committed, then the power goes.
        REQUIRE(w->add(1, std::vector<uint8_t>{0xee}, err));
        w.reset();
        fs.drop_unsynced(size_t(turn) % 7);
        w = reopen(fs, "p.log", seen);
        CHECK(seen == committed);
    }
}

TEST_CASE("SyncMode::Never: power loss loses at most the unsynced suffix; recovery always succeeds") {
    auto records = sample_records(30, 9);
    // Turns of 3 records; the first 4 turns are followed by a sync(), the
    // rest are only written.
    auto run = [&](FaultInjectingFs& fs, std::vector<uint64_t>& lengths) {
        std::string err;
        auto w = LogWriter::create(fs, "n.log", 1, err);
        REQUIRE(w);
        for (size_t i = 0; i < records.size(); ++i) {
            REQUIRE(w->add(records[i].type, records[i].payload, err));
            if (i % 3 == 2) {
                REQUIRE(w->commit(SyncMode::Never, err));
                if (i < 12) REQUIRE(w->sync(err));
                lengths.push_back(w->committed_length());
            }
        }
        CHECK(w->unsynced());
    };
    std::vector<uint64_t> lengths;
    FaultInjectingFs probe;
    run(probe, lengths);
    size_t synced_len = probe.synced_contents("n.log").size();
    size_t unsynced = probe.contents("n.log").size() - synced_len;
    CHECK(synced_len == lengths[3]);
    for (size_t keep = 0; keep <= unsynced; ++keep) {
        CAPTURE(keep);
        FaultInjectingFs fs;
        std::vector<uint64_t> ignored;
        run(fs, ignored);
        fs.drop_unsynced(keep);
        Recovered got = recover_all(fs, "n.log");
        CHECK(is_prefix(got.records, records));
        CHECK(got.records.size() >= 12);  // everything synced survives
        CHECK(got.rec.damage != Damage::BadHeader);
        std::string err;
        CHECK(LogWriter::open(fs, "n.log", got.rec, err));  // writable again
    }
}

TEST_CASE("SyncMode::Interval: sync() makes the turns since the last one durable") {
    FaultInjectingFs fs;
    std::string err;
    auto w = LogWriter::create(fs, "i.log", 1, err);
    REQUIRE(w);
    REQUIRE(w->add(1, std::vector<uint8_t>{1}, err));
    REQUIRE(w->commit(SyncMode::Interval, err));
    REQUIRE(w->add(1, std::vector<uint8_t>{2}, err));
    REQUIRE(w->commit(SyncMode::Interval, err));
    CHECK(w->unsynced());
    uint64_t syncs = fs.syncs();
    REQUIRE(w->sync(err));  // the timer
    CHECK(fs.syncs() == syncs + 1);
    REQUIRE(w->sync(err));  // nothing new: no fsync
    CHECK(fs.syncs() == syncs + 1);
    REQUIRE(w->add(1, std::vector<uint8_t>{3}, err));
    REQUIRE(w->commit(SyncMode::Interval, err));
    w.reset();
    fs.drop_unsynced();
    CHECK(recover_all(fs, "i.log").records == std::vector<Rec>{{1, {1}}, {1, {2}}});
}

TEST_CASE("a short write (disk full) is cut back; the batch stays pending and the next commit is fine") {
    auto records = sample_records(8, 2);
    Built whole = build_log(records);
    size_t batch = whole.bytes.size() - kHeaderBytes;
    for (size_t budget = 0; budget < batch; ++budget) {
        CAPTURE(budget);
        FaultInjectingFs fs;
        std::string err;
        auto w = LogWriter::create(fs, "s.log", 1, err);
        REQUIRE(w);
        for (auto& r : records) REQUIRE(w->add(r.type, r.payload, err));
        fs.fail_after_bytes(budget);
        CHECK_FALSE(w->commit(SyncMode::Always, err));
        CHECK(err.find("No space left on device") != std::string::npos);
        CHECK(err.find("nothing of this batch was committed") != std::string::npos);
        CHECK(fs.contents("s.log").size() == kHeaderBytes);  // cut back
        CHECK(w->committed_length() == kHeaderBytes);
        CHECK(w->pending_records() == records.size());
        CHECK(w->broken().empty());
        fs.no_write_faults();
        REQUIRE_MESSAGE(w->commit(SyncMode::Always, err), err);
        CHECK(fs.contents("s.log") == whole.bytes);
        CHECK(recover_all(fs, "s.log").records == records);
    }
}

TEST_CASE("discard_pending drops a failed batch; later records follow the last committed one") {
    FaultInjectingFs fs;
    std::string err;
    auto w = LogWriter::create(fs, "d.log", 1, err);
    REQUIRE(w);
    REQUIRE(w->add(1, std::vector<uint8_t>{1}, err));
    REQUIRE(w->commit(SyncMode::Always, err));
    REQUIRE(w->add(2, std::vector<uint8_t>(100, 2), err));
    fs.fail_after_bytes(50);
    CHECK_FALSE(w->commit(SyncMode::Always, err));
    w->discard_pending();
    fs.no_write_faults();
    REQUIRE(w->add(3, std::vector<uint8_t>{3}, err));
    REQUIRE(w->commit(SyncMode::Always, err));
    CHECK(recover_all(fs, "d.log").records == std::vector<Rec>{{1, {1}}, {3, {3}}});
}

TEST_CASE("a short write that cannot be cut back breaks the writer; recovery drops the torn tail") {
    FaultInjectingFs fs;
    std::string err;
    auto w = LogWriter::create(fs, "b.log", 1, err);
    REQUIRE(w);
    REQUIRE(w->add(1, std::vector<uint8_t>{1}, err));
    REQUIRE(w->commit(SyncMode::Always, err));
    REQUIRE(w->add(2, std::vector<uint8_t>(100, 2), err));
    fs.fail_after_bytes(50);
    fs.fail_truncates(true);
    CHECK_FALSE(w->commit(SyncMode::Always, err));
    CHECK_FALSE(w->broken().empty());
    CHECK(err.find("cutting back") != std::string::npos);
    fs.no_write_faults();
    fs.fail_truncates(false);
    CHECK_FALSE(w->commit(SyncMode::Always, err));  // stays broken
    CHECK_FALSE(w->sync(err));
    w.reset();
    Recovered got = recover_all(fs, "b.log");
    CHECK(got.rec.damage == Damage::Torn);
    CHECK(got.records == std::vector<Rec>{{1, {1}}});
}

TEST_CASE("a failed fsync breaks the writer (its data may be gone: no retry)") {
    FaultInjectingFs fs;
    std::string err;
    auto w = LogWriter::create(fs, "f.log", 1, err);
    REQUIRE(w);
    REQUIRE(w->add(1, std::vector<uint8_t>{1}, err));
    fs.fail_syncs(true);
    CHECK_FALSE(w->commit(SyncMode::Always, err));
    CHECK(err.find("Input/output error") != std::string::npos);
    fs.fail_syncs(false);
    CHECK_FALSE(w->commit(SyncMode::Always, err));
    CHECK(err.find("must be recovered") != std::string::npos);
}
