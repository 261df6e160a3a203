// One connect attempt's login, asked of Security once and kept across the
// re-parse an asynchronous answer needs. MQTT, STOMP and command connections
// each own one: while the answer is pending they stop reading and leave the
// CONNECT (or first request) where it is; when it arrives, `resume` runs and
// they parse it again, and ask() now returns the kept answer at once.
//
// Lifetime: a member of its connection; an answer arriving after the gate is
// gone (connection closed) is dropped, so `resume` may capture the
// connection. Threading: loop thread only (Security posts asynchronous
// answers back to it). Errors: none; a refusal is a LoginResult with ok false.
#pragma once

#include "broker/security.h"

#include <functional>
#include <memory>
#include <optional>
#include <utility>

namespace duplex {

class LoginGate {
  public:
    // The answer for this attempt: the kept one if it came earlier, else
    // Security's; nullopt while it is pending (then `resume` runs once it
    // has come). Each answer is handed out once: the next ask() is a new
    // attempt.
    std::optional<LoginResult> ask(Security& security, const LoginRequest& request,
                                   std::function<void()> resume) {
        if (answer_) return take();
        if (pending_) return std::nullopt;
        if (!alive_) alive_ = std::make_shared<char>();
        auto now = security.login(
            request, [this, alive = std::weak_ptr<char>(alive_), resume = std::move(resume)](LoginResult r) {
                if (!alive.lock()) return;
                answer_ = std::move(r);
                pending_ = false;
                resume();
            });
        if (!now) pending_ = true;
        return now;
    }
    // The kept answer, if one came (for callers that resume without a
    // re-parse).
    std::optional<LoginResult> take() { return std::exchange(answer_, std::nullopt); }
    bool pending() const { return pending_; }

  private:
    bool pending_ = false;
    std::optional<LoginResult> answer_;
    std::shared_ptr<char> alive_;  // answers arriving after we are gone see it expired
};

}  // namespace duplex
