#include "broker/backpressure.h"

#include <algorithm>

namespace duplex {

void Backpressure::wait(Outbox* outbox, HeldPublisher* publisher) { waiters_[outbox].push_back(publisher); }

void Backpressure::release(Outbox* outbox) {
    auto it = waiters_.find(outbox);
    if (it == waiters_.end()) return;
    std::vector<HeldPublisher*> waiting = std::move(it->second);
    waiters_.erase(it);
    for (HeldPublisher* p : waiting) p->released();
}

void Backpressure::forget(HeldPublisher* publisher) {
    for (auto it = waiters_.begin(); it != waiters_.end();) {
        std::erase(it->second, publisher);
        it = it->second.empty() ? waiters_.erase(it) : std::next(it);
    }
}

HeldPublisher::~HeldPublisher() {
    if (waiting_) backpressure_.forget(this);
}

void HeldPublisher::hold(std::span<Outbox* const> congested) {
    if (congested.empty()) return;
    bool was_held = waiting_ > 0;
    for (Outbox* o : congested) backpressure_.wait(o, this);
    waiting_ += congested.size();
    if (!was_held) pause_input(true);
}

void HeldPublisher::released() {
    if (waiting_ && --waiting_ == 0) {
        resume_pending_ = true;
        wake();
    }
}

}  // namespace duplex
