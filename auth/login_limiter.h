// Failed logins rate-limited per client address, against online password
// guessing (a password file at mosquitto's cheap hash rounds is otherwise
// checked as fast as a client can reconnect).
//
// Policy (each figure in LoginLimiterOptions, with its reason):
//   - An address that fails `max_failures` logins within `window_ms` is
//     refused for a delay: `first_delay_ms`, doubled on each further lockout
//     of that address, capped at `max_delay_ms`. While refused, attempts are
//     not checked at all (no hash is computed: a refusal costs nothing).
//   - A successful login from an address forgets it (counts and lockouts).
//     Behind one NAT, a device that logs in clears the count of a broken
//     neighbour retrying a wrong password — and of an attacker there; that is
//     the price of not locking a whole site out for one bad client.
//   - An address idle (no failure, no lockout running) for `forget_after_ms`
//     starts afresh: lockouts do not grow forever.
//   - The table holds at most `max_entries` addresses; when full, the one
//     touched longest ago is evicted (an attacker rotating addresses cannot
//     grow memory without bound; the worst it gets is a fresh count for
//     addresses it evicted). IPv6 clients can hold a /64 each: pass
//     key_for(address) rather than the raw address, so one such network is
//     one entry.
//
// Pure: no clock and no I/O; every call takes `now_ms` (a monotonic clock in
// milliseconds; time going backwards is treated as no time passing).
// Threading: not thread-safe; use it from one thread (the loop's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace duplex::auth {

struct LoginLimiterOptions {
    // A person mistyping a password fails two or three times; five within a
    // minute is a script or a device with a stale password.
    int max_failures = 5;
    int64_t window_ms = 60'000;
    // First lockout 1 s (a person hardly notices), then 2, 4, 8 ... s.
    int64_t first_delay_ms = 1'000;
    // 15 min: a guesser gets at most max_failures tries per 15 min per
    // address (480 a day), a person who got locked out waits no longer.
    int64_t max_delay_ms = 15 * 60'000;
    // An hour without failing: forget the address's lockouts.
    int64_t forget_after_ms = 60 * 60'000;
    // About 150 bytes an entry: 10,000 addresses ~ 1.5 MB, a Pi's worth.
    size_t max_entries = 10'000;
};

class LoginLimiter {
  public:
    explicit LoginLimiter(LoginLimiterOptions options = {});

    struct Admission {
        bool allowed = true;
        int64_t retry_after_ms = 0;  // when refused: how long the lockout still runs
    };
    // Before checking a password from `address`: refused while the address
    // is locked out (counted in refusals_total).
    Admission admit(std::string_view address, int64_t now_ms);
    // After a wrong password (or unknown user, or bad token) from `address`.
    void record_failure(std::string_view address, int64_t now_ms);
    // After a successful login from `address`: forgets it.
    void record_success(std::string_view address);

    struct Counters {
        uint64_t failures_total = 0;   // record_failure calls
        uint64_t refusals_total = 0;   // admit() calls refused
        uint64_t lockouts_total = 0;   // times an address was locked out
        uint64_t evictions_total = 0;  // entries dropped because the table was full
        size_t entries = 0;            // addresses held now
    };
    Counters counters() const;

    // The table key for a client address: an IPv4 address as it is (also
    // from an IPv4-mapped IPv6 "::ffff:a.b.c.d"), an IPv6 address as its /64
    // ("2001:db8:1:2::/64"), anything else (not an IP address) unchanged.
    static std::string key_for(std::string_view address);

  private:
    struct Entry {
        std::string address;
        int failures = 0;  // in the window starting at window_start_ms
        int64_t window_start_ms = 0;
        int lockouts = 0;  // how many times locked out (the delay's exponent)
        int64_t locked_until_ms = 0;
        int64_t last_ms = 0;  // last failure or lockout end, for forget_after_ms
    };
    using List = std::list<Entry>;  // most recently touched first
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };

    // The address's entry, moved to the front; null if absent (or forgotten
    // because stale).
    Entry* find(std::string_view address, int64_t now_ms);

    LoginLimiterOptions options_;
    List lru_;
    std::unordered_map<std::string_view, List::iterator, Hash> index_;  // views into lru_'s strings
    Counters counters_;
};

}  // namespace duplex::auth
