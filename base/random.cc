#include "base/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>

namespace duplex {

std::string random_hex(size_t bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    uint8_t buffer[64];
    std::string out;
    out.reserve(bytes * 2);
    while (bytes > 0) {
        size_t n = bytes < sizeof buffer ? bytes : sizeof buffer;
        ssize_t got = getrandom(buffer, n, 0);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) std::abort();
        for (ssize_t i = 0; i < got; ++i) {
            out.push_back(kDigits[buffer[i] >> 4]);
            out.push_back(kDigits[buffer[i] & 15]);
        }
        bytes -= static_cast<size_t>(got);
    }
    return out;
}

}  // namespace duplex
