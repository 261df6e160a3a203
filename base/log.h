// Logging: one line per event on stderr, "<time> <level> <text>", formatted
// with fmt. The level is process-wide and set once at startup.
#pragma once

#include <fmt/core.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace duplex::log {

enum class Level { error = 0, warn = 1, info = 2, debug = 3 };

void set_level(Level level);
Level level();
bool parse_level(std::string_view text, Level& out);
void write(Level level, std::string_view text);
// Where lines go instead of stderr (tests); null restores stderr. Returns
// the previous writer. Set it before any other thread logs.
using Writer = void (*)(Level, std::string_view);
Writer set_writer(Writer writer);

template <class... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
    write(Level::error, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
    if (level() >= Level::warn) write(Level::warn, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
    if (level() >= Level::info) write(Level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
    if (level() >= Level::debug) write(Level::debug, fmt::format(f, std::forward<Args>(args)...));
}

// A warning that can repeat once per message (a drop, a refusal): at most
// one line per second per call site, carrying how many were folded into it
// ("... (2,000 like this in the last 1.0 s)") rather than 2,000 lines. The
// first occurrence is written at once. Use one static instance per call
// site; loop thread only.
class Throttled {
  public:
    template <class... Args>
    void warn(fmt::format_string<Args...> f, Args&&... args) {
        ++pending_;
        int64_t now = clock_ms();
        if (last_ms_ && now - last_ms_ < 1000) return;
        std::string text = fmt::format(f, std::forward<Args>(args)...);
        if (pending_ > 1)
            text +=
                fmt::format(" ({} like this in the last {:.1f} s)", pending_, double(now - last_ms_) / 1000);
        pending_ = 0;
        last_ms_ = now;
        if (level() >= Level::warn) write(Level::warn, text);
    }

  private:
    static int64_t clock_ms();
    uint64_t pending_ = 0;
    int64_t last_ms_ = 0;
};

}  // namespace duplex::log
