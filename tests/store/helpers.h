// Shared by the store tests: sample records, a log made of them, and
// recovery of bytes into a list of records.
#pragma once

#include "store/log.h"
#include "tests/store/fault_fs.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace duplex::store::test {

struct Rec {
    uint8_t type;
    std::vector<uint8_t> payload;
    bool operator==(const Rec&) const = default;
};

// Records of assorted sizes (0, 1, a few, a few hundred) and types.
inline std::vector<Rec> sample_records(size_t count, uint32_t seed = 1) {
    std::vector<Rec> out;
    uint32_t x = seed;
    for (size_t i = 0; i < count; ++i) {
        x = x * 1103515245u + 12345u;
        size_t size = (i % 5 == 0) ? 0 : (x >> 16) % (i % 3 == 0 ? 300 : 12);
        Rec r{uint8_t(1 + i % 255), std::vector<uint8_t>(size)};
        for (size_t j = 0; j < size; ++j) r.payload[j] = uint8_t(x >> (j % 24)) ^ uint8_t(j);
        out.push_back(std::move(r));
    }
    return out;
}

// A log of `records` as bytes, and where each record ends.
struct Built {
    std::vector<uint8_t> bytes;
    std::vector<uint64_t> ends;
};
inline Built build_log(const std::vector<Rec>& records, uint64_t generation = 1) {
    Built b{encode_header(generation), {}};
    for (auto& r : records) {
        encode_record(r.type, r.payload, b.bytes);
        b.ends.push_back(b.bytes.size());
    }
    return b;
}

struct Recovered {
    Recovery rec;
    std::vector<Rec> records;
    std::string line;
};
// recover() of `path` in `fs`; the test fails on an I/O error.
inline Recovered recover_all(Fs& fs, const std::string& path, int64_t now = 1700000000) {
    Recovered out;
    std::string err;
    bool ok = recover(
        fs, path,
        [&](const Record& r) {
            out.records.push_back({r.type, {r.payload.begin(), r.payload.end()}});
        },
        out.rec, out.line, err, now);
    REQUIRE_MESSAGE(ok, err);
    return out;
}
inline Recovered recover_bytes(std::vector<uint8_t> bytes) {
    FaultInjectingFs fs;
    fs.put("x.log", std::move(bytes));
    return recover_all(fs, "x.log");
}

inline bool is_prefix(const std::vector<Rec>& got, const std::vector<Rec>& written) {
    return got.size() <= written.size() && std::equal(got.begin(), got.end(), written.begin());
}

}  // namespace duplex::store::test
