// The golden logs in tests/store/golden/ (made by store-make-golden, see
// golden_logs.h) pin format version 1: the code must still write exactly
// these bytes, and recovery must keep exactly this of each damaged copy.
// If this fails after a format change, the change needs a new version.
#include "store/log.h"
#include "tests/store/fault_fs.h"
#include "tests/store/golden_logs.h"
#include "tests/store/helpers.h"

#include <doctest/doctest.h>

#include <cstdio>

using namespace duplex::store;
using namespace duplex::store::test;

namespace {

std::vector<uint8_t> golden(const std::string& name) {
    std::vector<uint8_t> bytes;
    std::string err;
    REQUIRE_MESSAGE(read_file(posix_fs(), std::string(DUPLEX_STORE_GOLDEN) + "/" + name, bytes, err), err);
    return bytes;
}

std::string hex(const std::vector<uint8_t>& bytes, size_t from, size_t count) {
    std::string out;
    char buf[4];
    for (size_t i = from; i < from + count && i < bytes.size(); ++i) {
        std::snprintf(buf, sizeof buf, "%02x", bytes[i]);
        out += buf;
    }
    return out;
}

std::vector<Rec> golden_recs(size_t n) {
    std::vector<Rec> out;
    for (auto& r : golden_records()) out.push_back({r.type, r.payload});
    out.resize(n);
    return out;
}

}  // namespace

TEST_CASE("golden: the committed files are what the code writes today") {
    for (auto& [name, bytes] : golden_logs()) {
        CAPTURE(name);
        CHECK(golden(name) == bytes);
    }
}

TEST_CASE("golden: valid.log, byte by byte where it matters") {
    std::vector<uint8_t> v = golden("valid.log");
    REQUIRE(v.size() == 383);
    // "DPLXLOG", version 1, generation 7, header CRC-32: all little-endian.
    CHECK(hex(v, 0, 21) ==
          "44504c584c4f47"
          "0100"
          "0700000000000000"
          "4a1210cb");
    // Record 2 at 52: length 0, CRC-32 of the type byte 0x02, type 2.
    CHECK(hex(v, 52, 9) ==
          "00000000"
          "a18e0c3c"
          "02");
    // Record 4 at 370: length 4, CRC, type 255, payload 00 ff 80 7f.
    CHECK(hex(v, 370, 4) == "04000000");
    CHECK(hex(v, 378, 5) == "ff00ff807f");

    Recovered got = recover_bytes(v);
    CHECK(got.rec.damage == Damage::None);
    CHECK(got.rec.generation == 7);
    CHECK(got.records == golden_recs(4));
}

TEST_CASE("golden: what recovery keeps of each damaged file") {
    struct Case {
        const char* name;
        size_t records;
        Damage damage;
        uint64_t good_length;
        std::string reason;
    };
    for (const Case& c : {
             Case{"torn.log", 3, Damage::Torn, 370, "torn record at offset 370 (11 of 13 bytes)"},
             Case{"flipped.log", 2, Damage::Corrupt, 61, "record at offset 61: checksum mismatch"},
             Case{"zero_tail.log", 4, Damage::Corrupt, 383, "zero-filled from offset 383"},
             Case{"bad_header.log", 0, Damage::BadHeader, 0, "not a duplex log (bad magic)"},
         }) {
        CAPTURE(c.name);
        std::vector<uint8_t> bytes = golden(c.name);
        FaultInjectingFs fs;
        fs.put(c.name, bytes);
        Recovered got = recover_all(fs, c.name, 1718000000);
        CHECK(got.records == golden_recs(c.records));
        CHECK(got.rec.damage == c.damage);
        CHECK(got.rec.good_length == c.good_length);
        CHECK(got.rec.reason == c.reason);
        std::string aside = std::string(c.name) + ".damaged-1718000000";
        CHECK(fs.contents(aside) == bytes);  // kept whole
        if (c.damage == Damage::BadHeader) {
            CHECK_FALSE(fs.exists(c.name));
            CHECK(got.line.find("starting with an empty log") != std::string::npos);
        } else {
            CHECK(fs.contents(c.name).size() == c.good_length);
        }
    }
}
