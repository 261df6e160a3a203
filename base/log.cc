#include "base/log.h"

#include "base/clock.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace duplex::log {

namespace {
std::atomic<Level> current{Level::info};
const char* const names[] = {"error", "warn", "info", "debug"};
}  // namespace

void set_level(Level l) { current = l; }

int64_t Throttled::clock_ms() { return now_ms(); }
Level level() { return current.load(std::memory_order_relaxed); }

bool parse_level(std::string_view text, Level& out) {
    for (int i = 0; i < 4; ++i)
        if (text == names[i]) {
            out = static_cast<Level>(i);
            return true;
        }
    return false;
}

namespace {
Writer writer = nullptr;
}

Writer set_writer(Writer w) {
    Writer old = writer;
    writer = w;
    return old;
}

void write(Level l, std::string_view text) {
    if (writer) return writer(l, text);
    using namespace std::chrono;
    auto now = system_clock::now();
    auto secs = system_clock::to_time_t(now);
    auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    // One fprintf per line so lines from several threads do not interleave.
    static std::mutex m;
    std::lock_guard lock(m);
    std::fprintf(stderr, "%s.%03dZ %s %.*s\n", stamp, static_cast<int>(ms), names[static_cast<int>(l)],
                 static_cast<int>(text.size()), text.data());
    std::fflush(stderr);
}

}  // namespace duplex::log
