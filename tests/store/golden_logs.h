// The golden logs of tests/store/golden/: a valid version-1 log written by
// LogWriter and damaged copies of it. make_golden writes them; golden_test
// checks the committed files still equal what the code writes and what
// recovery makes of each, so a change of the format cannot pass unnoticed.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace duplex::store::test {

struct GoldenRecord {
    uint8_t type;
    std::vector<uint8_t> payload;
};

// The records of valid.log, in order (committed in two turns).
std::vector<GoldenRecord> golden_records();
// File name -> contents: valid.log, torn.log, flipped.log, zero_tail.log,
// bad_header.log.
std::map<std::string, std::vector<uint8_t>> golden_logs();

}  // namespace duplex::store::test
