#include "auth/login_limiter.h"

#include <doctest/doctest.h>

using duplex::auth::LoginLimiter;
using duplex::auth::LoginLimiterOptions;

namespace {

void fail_n(LoginLimiter& l, std::string_view address, int n, int64_t now) {
    for (int i = 0; i < n; ++i) l.record_failure(address, now);
}

}  // namespace

TEST_CASE("login limiter: N failures within the window lock the address out") {
    LoginLimiter l;  // 5 failures / 60 s, 1 s first lockout
    fail_n(l, "10.0.0.1", 4, 1000);
    CHECK(l.admit("10.0.0.1", 1000).allowed);
    l.record_failure("10.0.0.1", 1500);
    LoginLimiter::Admission a = l.admit("10.0.0.1", 1500);
    CHECK_FALSE(a.allowed);
    CHECK(a.retry_after_ms == 1000);
    CHECK(l.admit("10.0.0.1", 2499).retry_after_ms == 1);
    CHECK(l.admit("10.0.0.1", 2500).allowed);
    // Other addresses are not affected.
    CHECK(l.admit("10.0.0.2", 1500).allowed);
    auto c = l.counters();
    CHECK(c.failures_total == 5);
    CHECK(c.refusals_total == 2);
    CHECK(c.lockouts_total == 1);
    CHECK(c.entries == 1);
}

TEST_CASE("login limiter: failures spread wider than the window do not lock out") {
    LoginLimiter l;
    for (int i = 0; i < 20; ++i) {
        l.record_failure("a", int64_t(i) * 15'000);  // 4 per minute
        CHECK(l.admit("a", int64_t(i) * 15'000).allowed);
    }
}

TEST_CASE("login limiter: each further lockout doubles the delay, up to the cap") {
    LoginLimiterOptions o;
    o.max_delay_ms = 10'000;
    LoginLimiter l(o);
    int64_t now = 0;
    for (int64_t expected : {1000, 2000, 4000, 8000, 10'000, 10'000, 10'000}) {
        fail_n(l, "a", 5, now);
        LoginLimiter::Admission a = l.admit("a", now);
        CHECK_FALSE(a.allowed);
        CHECK(a.retry_after_ms == expected);
        now += a.retry_after_ms;
        CHECK(l.admit("a", now).allowed);
    }
    // Many lockouts later the delay stays at the cap (no overflow).
    for (int i = 0; i < 100; ++i) {
        fail_n(l, "a", 5, now);
        now += l.admit("a", now).retry_after_ms;
    }
    fail_n(l, "a", 5, now);
    CHECK(l.admit("a", now).retry_after_ms == 10'000);
}

TEST_CASE("login limiter: a success resets the address") {
    LoginLimiter l;
    fail_n(l, "a", 5, 0);
    int64_t now = l.admit("a", 0).retry_after_ms;
    fail_n(l, "a", 4, now);
    l.record_success("a");
    CHECK(l.counters().entries == 0);
    // Back to a fresh count and the first delay.
    fail_n(l, "a", 4, now);
    CHECK(l.admit("a", now).allowed);
    l.record_failure("a", now);
    CHECK(l.admit("a", now).retry_after_ms == 1000);
    l.record_success("never seen");  // harmless
}

TEST_CASE("login limiter: an address idle for forget_after_ms starts afresh") {
    LoginLimiter l;
    int64_t now = 0;
    for (int i = 0; i < 3; ++i) {
        fail_n(l, "a", 5, now);
        now += l.admit("a", now).retry_after_ms;
    }
    now += 60 * 60'000;
    fail_n(l, "a", 5, now);
    CHECK(l.admit("a", now).retry_after_ms == 1000);
}

TEST_CASE("login limiter: failures while locked out do not extend the lockout") {
    LoginLimiter l;
    fail_n(l, "a", 5, 0);
    fail_n(l, "a", 50, 10);
    CHECK(l.admit("a", 1000).allowed);
    CHECK(l.counters().failures_total == 55);
    CHECK(l.counters().lockouts_total == 1);
}

TEST_CASE("login limiter: time going backwards counts as no time passing") {
    LoginLimiter l;
    fail_n(l, "a", 4, 100'000);
    l.record_failure("a", 5);  // clock stepped back: still in the window
    CHECK_FALSE(l.admit("a", 100'000).allowed);
}

TEST_CASE("login limiter: the table is bounded; the oldest entry is evicted") {
    LoginLimiterOptions o;
    o.max_entries = 100;
    LoginLimiter l(o);
    fail_n(l, "victim-locked", 5, 0);
    // An attacker rotating through 100,000 addresses.
    for (int i = 0; i < 100'000; ++i) l.record_failure("rot-" + std::to_string(i), 1);
    auto c = l.counters();
    CHECK(c.entries == 100);
    CHECK(c.evictions_total == 100'000 + 1 - 100);
    CHECK(c.failures_total == 100'005);
    // The most recent addresses are kept, the oldest went first.
    fail_n(l, "rot-99999", 4, 2);
    CHECK_FALSE(l.admit("rot-99999", 2).allowed);
    CHECK(l.admit("victim-locked", 2).allowed);
}

TEST_CASE("login limiter: touching an entry keeps it from eviction") {
    LoginLimiterOptions o;
    o.max_entries = 3;
    LoginLimiter l(o);
    fail_n(l, "a", 4, 0);
    l.record_failure("b", 0);
    l.record_failure("c", 0);
    l.admit("a", 0);            // a is now the most recent
    l.record_failure("d", 0);  // evicts b
    l.record_failure("a", 0);  // a's fifth failure: still counted
    CHECK_FALSE(l.admit("a", 0).allowed);
}

TEST_CASE("login limiter: key_for folds IPv6 to its /64 and unmaps IPv4") {
    CHECK(LoginLimiter::key_for("192.0.2.7") == "192.0.2.7");
    CHECK(LoginLimiter::key_for("::ffff:192.0.2.7") == "192.0.2.7");
    CHECK(LoginLimiter::key_for("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64");
    CHECK(LoginLimiter::key_for("2001:db8:1:2::99") == "2001:db8:1:2::/64");
    CHECK(LoginLimiter::key_for("[2001:db8:1:2::99]") == "2001:db8:1:2::/64");
    CHECK(LoginLimiter::key_for("fe80::1%eth0") == "fe80::/64");
    CHECK(LoginLimiter::key_for("unix-socket") == "unix-socket");
    CHECK(LoginLimiter::key_for("") == "");
}
