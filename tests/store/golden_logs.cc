// The golden logs (golden_logs.h): what they hold and how each is damaged.
#include "tests/store/golden_logs.h"

#include "store/log.h"
#include "tests/store/fault_fs.h"

#include <stdexcept>

namespace duplex::store::test {

namespace {

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

}  // namespace

std::vector<GoldenRecord> golden_records() {
    std::vector<uint8_t> pattern(300);
    for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = uint8_t(i * 7);
    return {
        {1, bytes("retained led/status on")},
        {2, {}},
        {3, pattern},
        {255, {0x00, 0xff, 0x80, 0x7f}},
    };
}

std::map<std::string, std::vector<uint8_t>> golden_logs() {
    FaultInjectingFs fs;
    std::string err;
    auto writer = LogWriter::create(fs, "valid.log", 7, err);
    if (!writer) throw std::runtime_error(err);
    auto records = golden_records();
    for (size_t i = 0; i < records.size(); ++i) {
        if (!writer->add(records[i].type, records[i].payload, err)) throw std::runtime_error(err);
        if (i == 1 && !writer->commit(SyncMode::Always, err)) throw std::runtime_error(err);
    }
    if (!writer->commit(SyncMode::Always, err)) throw std::runtime_error(err);
    std::vector<uint8_t> valid = fs.contents("valid.log");

    // Offsets: header 21; record 1 at 21 (9 + 22 = 31 bytes); record 2 at 52
    // (9); record 3 at 61 (309); record 4 at 370 (13); end 383.
    std::map<std::string, std::vector<uint8_t>> out;
    out["valid.log"] = valid;
    out["torn.log"] =
        std::vector<uint8_t>(valid.begin(), valid.end() - 2);  // record 4 cut inside its payload
    out["flipped.log"] = valid;
    out["flipped.log"][61 + 9 + 100] ^= 0xff;  // a payload byte of record 3
    out["zero_tail.log"] = valid;
    out["zero_tail.log"].resize(valid.size() + 4096, 0);  // a block allocated, never written
    out["bad_header.log"] = valid;
    out["bad_header.log"][0] = 'd';
    return out;
}

}  // namespace duplex::store::test
