#include "auth/login_limiter.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace duplex::auth {

LoginLimiter::LoginLimiter(LoginLimiterOptions options) : options_(options) {
    options_.max_failures = std::max(options_.max_failures, 1);
    options_.window_ms = std::max<int64_t>(options_.window_ms, 1);
    options_.first_delay_ms = std::max<int64_t>(options_.first_delay_ms, 1);
    options_.max_delay_ms = std::max(options_.max_delay_ms, options_.first_delay_ms);
    options_.max_entries = std::max<size_t>(options_.max_entries, 1);
}

LoginLimiter::Entry* LoginLimiter::find(std::string_view address, int64_t now_ms) {
    auto it = index_.find(address);
    if (it == index_.end()) return nullptr;
    Entry& e = *it->second;
    bool locked = now_ms < e.locked_until_ms;
    if (!locked && now_ms - e.last_ms >= options_.forget_after_ms) {
        lru_.erase(it->second);
        index_.erase(it);
        return nullptr;
    }
    lru_.splice(lru_.begin(), lru_, it->second);
    return &lru_.front();
}

LoginLimiter::Admission LoginLimiter::admit(std::string_view address, int64_t now_ms) {
    Entry* e = find(address, now_ms);
    if (!e || now_ms >= e->locked_until_ms) return {};
    ++counters_.refusals_total;
    return {false, e->locked_until_ms - now_ms};
}

void LoginLimiter::record_failure(std::string_view address, int64_t now_ms) {
    ++counters_.failures_total;
    Entry* e = find(address, now_ms);
    if (!e) {
        if (lru_.size() >= options_.max_entries) {
            index_.erase(lru_.back().address);
            lru_.pop_back();
            ++counters_.evictions_total;
        }
        lru_.push_front(Entry{});
        e = &lru_.front();
        e->address.assign(address);
        e->window_start_ms = now_ms;
        index_.emplace(e->address, lru_.begin());
    }
    e->last_ms = std::max(e->last_ms, now_ms);
    if (now_ms < e->locked_until_ms) return;  // already locked out: the caller did not ask admit()
    // Time going backwards counts as none passing (after a lockout the
    // window starts where the lockout ended, never later than now here).
    if (now_ms < e->window_start_ms) now_ms = e->window_start_ms;
    if (now_ms - e->window_start_ms >= options_.window_ms) {
        e->failures = 0;
        e->window_start_ms = now_ms;
    }
    if (++e->failures < options_.max_failures) return;
    // Lock out: first_delay_ms << lockouts, capped (no shift past the cap).
    int64_t delay = options_.first_delay_ms;
    for (int i = 0; i < e->lockouts && delay < options_.max_delay_ms; ++i) delay *= 2;
    delay = std::min(delay, options_.max_delay_ms);
    e->lockouts = std::min(e->lockouts + 1, 62);
    e->locked_until_ms = now_ms + delay;
    e->last_ms = e->locked_until_ms;
    e->failures = 0;
    e->window_start_ms = e->locked_until_ms;
    ++counters_.lockouts_total;
}

void LoginLimiter::record_success(std::string_view address) {
    auto it = index_.find(address);
    if (it == index_.end()) return;
    List::iterator entry = it->second;
    index_.erase(it);
    lru_.erase(entry);
}

LoginLimiter::Counters LoginLimiter::counters() const {
    Counters c = counters_;
    c.entries = lru_.size();
    return c;
}

std::string LoginLimiter::key_for(std::string_view address) {
    std::string text(address);
    // "[2001:db8::1]" and a zone ("fe80::1%eth0") as sockets print them.
    if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
    if (size_t pct = text.find('%'); pct != std::string::npos) text.resize(pct);
    unsigned char a[16];
    if (inet_pton(AF_INET, text.c_str(), a) == 1) return text;
    if (inet_pton(AF_INET6, text.c_str(), a) != 1) return std::string(address);
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    char out[INET6_ADDRSTRLEN];
    if (std::memcmp(a, mapped, sizeof mapped) == 0) {
        inet_ntop(AF_INET, a + 12, out, sizeof out);
        return out;
    }
    std::memset(a + 8, 0, 8);
    inet_ntop(AF_INET6, a, out, sizeof out);
    return std::string(out) + "/64";
}

}  // namespace duplex::auth
