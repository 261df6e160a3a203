// Damaged logs: truncation at every offset, every single bit flipped, random
// damage. What recovery keeps is always exactly a prefix of what was written.
#include "store/log.h"
#include "tests/store/fault_fs.h"
#include "tests/store/helpers.h"

#include <doctest/doctest.h>

#include <random>

using namespace duplex::store;
using namespace duplex::store::test;

namespace {

// How many records end at or before `offset`.
size_t complete_before(const Built& b, uint64_t offset) {
    size_t n = 0;
    while (n < b.ends.size() && b.ends[n] <= offset) ++n;
    return n;
}

}  // namespace

TEST_CASE("truncated at every byte offset, recovery keeps exactly the records written before it") {
    auto records = sample_records(12);
    Built b = build_log(records);
    for (uint64_t cut = 0; cut <= b.bytes.size(); ++cut) {
        CAPTURE(cut);
        FaultInjectingFs fs;
        fs.put("x.log", std::vector<uint8_t>(b.bytes.begin(), b.bytes.begin() + long(cut)));
        Recovered got = recover_all(fs, "x.log");
        size_t expect = cut < kHeaderBytes ? 0 : complete_before(b, cut);
        CHECK(got.records.size() == expect);
        CHECK(is_prefix(got.records, records));
        bool boundary = cut == kHeaderBytes || (expect > 0 && b.ends[expect - 1] == cut);
        if (cut < kHeaderBytes) {
            CHECK(got.rec.damage == Damage::BadHeader);
            CHECK_FALSE(fs.exists("x.log"));  // set aside whole
            CHECK(fs.contents("x.log.damaged-1700000000").size() == cut);
            continue;
        }
        CHECK(got.rec.damage == (boundary ? Damage::None : Damage::Torn));
        uint64_t good = expect ? b.ends[expect - 1] : kHeaderBytes;
        CHECK(got.rec.good_length == good);
        CHECK(got.rec.dropped_bytes() == cut - good);
        // After recovery the log is cut to its good part and takes appends.
        CHECK(fs.contents("x.log").size() == good);
        CHECK(fs.exists("x.log.damaged-1700000000") == !boundary);
        std::string err;
        auto w = LogWriter::open(fs, "x.log", got.rec, err);
        REQUIRE_MESSAGE(w, err);
        REQUIRE(w->add(200, std::vector<uint8_t>{1, 2}, err));
        REQUIRE(w->commit(SyncMode::Always, err));
        Recovered again = recover_all(fs, "x.log");
        CHECK(again.rec.damage == Damage::None);
        REQUIRE(again.records.size() == expect + 1);
        CHECK(again.records.back() == Rec{200, {1, 2}});
    }
}

TEST_CASE("a single bit flipped anywhere never yields a record that was not written") {
    auto records = sample_records(10, 3);
    Built b = build_log(records);
    for (size_t bit = 0; bit < b.bytes.size() * 8; ++bit) {
        CAPTURE(bit);
        std::vector<uint8_t> bytes = b.bytes;
        bytes[bit / 8] ^= uint8_t(1u << (bit % 8));
        Recovered got = recover_bytes(bytes);
        CHECK(is_prefix(got.records, records));
        // CRC-32 catches every single-bit error: exactly the records before
        // the damaged one survive (or none, if the header was hit).
        uint64_t at = bit / 8;
        size_t expect = at < kHeaderBytes ? 0 : complete_before(b, at);
        CHECK(got.records.size() == expect);
        CHECK(got.rec.damage != Damage::None);
        if (at < kHeaderBytes) CHECK(got.rec.damage == Damage::BadHeader);
    }
}

TEST_CASE("random damage (bytes overwritten, zeroed blocks, cuts) only ever loses a suffix") {
    auto records = sample_records(40, 11);
    Built b = build_log(records);
    std::mt19937 rng(20240613);
    for (int round = 0; round < 2000; ++round) {
        std::vector<uint8_t> bytes = b.bytes;
        size_t pos = rng() % bytes.size();
        size_t len = 1 + rng() % 64;
        switch (rng() % 3) {
            case 0:
                for (size_t i = pos; i < std::min(bytes.size(), pos + len); ++i) bytes[i] = uint8_t(rng());
                break;
            case 1:
                for (size_t i = pos; i < std::min(bytes.size(), pos + len); ++i) bytes[i] = 0;
                break;
            case 2:
                bytes.resize(pos);
                break;
        }
        Recovered got = recover_bytes(bytes);
        CAPTURE(round);
        CHECK(is_prefix(got.records, records));
        CHECK(got.records.size() >= (pos < kHeaderBytes ? 0 : complete_before(b, pos)));
    }
}

TEST_CASE("recovery names the damage and keeps the damaged file beside the log") {
    auto records = sample_records(5);
    Built b = build_log(records);
    FaultInjectingFs fs;
    std::vector<uint8_t> bytes = b.bytes;
    bytes[b.ends[2] + 9] ^= 0x10;  // first payload byte of record 4 (which has one)
    REQUIRE(records[3].payload.size() > 0);
    fs.put("d/x.log", bytes);
    fs.put("d/x.log.damaged-1700000000", {1});  // an earlier recovery in the same second
    Recovered got = recover_all(fs, "d/x.log");
    CHECK(got.records.size() == 3);
    CHECK(got.rec.damage == Damage::Corrupt);
    CHECK(got.rec.reason == "record at offset " + std::to_string(b.ends[2]) + ": checksum mismatch");
    CHECK(got.line == "store: d/x.log: " + got.rec.reason + "; kept 3 records (" + std::to_string(b.ends[2]) +
                          " bytes), dropped " + std::to_string(bytes.size() - b.ends[2]) +
                          " bytes; the damaged file is kept as d/x.log.damaged-1700000000-2");
    CHECK(fs.contents("d/x.log.damaged-1700000000-2") == bytes);
    CHECK(fs.synced_contents("d/x.log.damaged-1700000000-2") == bytes);
    CHECK(fs.synced_contents("d/x.log").size() == b.ends[2]);  // the cut is synced
    std::vector<std::string> names;
    std::string err;
    REQUIRE(fs.list("d", names, err));
    CHECK(names.size() == 3);
}

TEST_CASE("reasons: zero-filled tail, over-long length, type 0, other version, bad magic, empty file") {
    Built b = build_log(sample_records(2));
    auto reason = [](std::vector<uint8_t> bytes) { return recover_bytes(std::move(bytes)).rec.reason; };
    std::vector<uint8_t> zeros = b.bytes;
    zeros.resize(zeros.size() + 512);
    CHECK(reason(zeros) == "zero-filled from offset " + std::to_string(b.bytes.size()));

    std::vector<uint8_t> longer = b.bytes;
    encode_record(1, std::vector<uint8_t>{1}, longer);
    longer[b.bytes.size() + 3] = 0x40;  // length 0x40000001
    CHECK(reason(longer) == "record at offset " + std::to_string(b.bytes.size()) +
                                ": length 1073741825 over the limit of 67108864");

    std::vector<uint8_t> type0 = b.bytes;
    encode_record(1, std::vector<uint8_t>{1}, type0);
    type0[b.bytes.size() + 8] = 0;
    CHECK(reason(type0) == "record at offset " + std::to_string(b.bytes.size()) + ": type 0 (never written)");

    std::vector<uint8_t> v2 = b.bytes;
    v2[7] = 2;
    CHECK(reason(v2) == "format version 2 (this build reads version 1)");
    std::vector<uint8_t> gen = b.bytes;
    gen[9] ^= 1;
    CHECK(reason(gen) == "header checksum mismatch");
    CHECK(reason({'S', 'Q', 'L', 'i', 't', 'e', ' ', 'f', 'o', 'r', 'm', 'a', 't'}) ==
          "not a duplex log (bad magic)");
    CHECK(reason({}) == "empty file");
    CHECK(reason({'D', 'P', 'L', 'X', 'L', 'O', 'G', 1, 0}) == "torn header (9 of 21 bytes)");
}
