// The one monotonic clock: milliseconds of std::chrono::steady_clock. Every
// timeout, keep alive, expiry and tick in duplex reads this; a vDSO call, so
// cheap enough to read per use rather than caching it per loop turn.
#pragma once

#include <chrono>
#include <cstdint>

namespace duplex {

inline int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace duplex
