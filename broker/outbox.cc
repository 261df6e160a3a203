#include "broker/outbox.h"

#include "base/clock.h"
#include "broker/backpressure.h"
#include "duplex/config.h"

#include <iterator>

namespace duplex {

Outbox::Lane::Lane(Outbox& owner) : owner_(owner) {
    Lane** tail = &owner_.lanes_;
    while (*tail) tail = &(*tail)->next_;
    *tail = this;
}

Outbox::Lane::~Lane() {
    for (const Outgoing& o : items_) owner_.account(-1, o.bytes());
    for (Lane** p = &owner_.lanes_; *p; p = &(*p)->next_)
        if (*p == this) {
            *p = next_;
            break;
        }
    owner_.maybe_release();
}

Outgoing Outbox::Lane::pop_front() {
    Outgoing o = std::move(items_.front());
    items_.pop_front();
    owner_.account(-1, o.bytes());
    owner_.maybe_release();
    return o;
}

void Outbox::Lane::push_front(Outgoing entry) {
    owner_.account(+1, entry.bytes());
    items_.push_front(std::move(entry));
}

std::vector<Outgoing> Outbox::Lane::take_all() {
    std::vector<Outgoing> all;
    all.reserve(items_.size());
    for (Outgoing& o : items_) {
        owner_.account(-1, o.bytes());
        all.push_back(std::move(o));
    }
    items_.erase_if([](const Outgoing&) { return true; });
    owner_.maybe_release();
    return all;
}

Outbox::Outbox(const Limits& limits, Backpressure* backpressure)
    : limits_(limits), backpressure_(backpressure) {}

Outbox::~Outbox() { release(); }

void Outbox::account(int sign, size_t bytes) {
    if (sign > 0) {
        ++messages_;
        bytes_ += bytes;
    } else {
        --messages_;
        bytes_ -= bytes;
    }
}

bool Outbox::fits(size_t messages, size_t bytes, size_t incoming) const {
    return messages < limits_.max_queued_messages && bytes + incoming <= limits_.max_queued_bytes;
}

bool Outbox::has_room(size_t bytes) const { return fits(messages_, bytes_, bytes); }

bool Outbox::has_room_for_backlog(size_t bytes) const {
    if (messages_ == 0) return fits(0, 0, bytes);
    return messages_ < limits_.max_queued_messages / 2 && bytes_ + bytes <= limits_.max_queued_bytes / 2;
}

bool Outbox::make_room(size_t incoming) {
    if (fits(messages_, bytes_, incoming)) return true;
    // Rule 2: QoS 0 goes first, but only if that makes room at all.
    size_t qos0_messages = 0, qos0_bytes = 0;
    for (Lane* l = lanes_; l; l = l->next_)
        for (const Outgoing& o : l->items_)
            if (o.qos == 0) {
                ++qos0_messages;
                qos0_bytes += o.bytes();
            }
    if (!fits(messages_ - qos0_messages, bytes_ - qos0_bytes, incoming)) return false;
    for (Lane* l = lanes_; l && !fits(messages_, bytes_, incoming); l = l->next_) {
        for (auto it = l->items_.begin(); it != l->items_.end() && !fits(messages_, bytes_, incoming);) {
            if (it->qos == 0) {
                account(-1, it->bytes());
                it = l->items_.erase(it);
                ++dropped_;
            } else {
                ++it;
            }
        }
    }
    return true;
}

Outbox::Admit Outbox::offer(Lane& lane, Outgoing entry) {
    size_t n = entry.bytes();
    Admit admit = Admit::Queued;
    if (!make_room(n)) {
        // Rule 3: a live client that is merely slow keeps reliable messages
        // beyond the limit (up to twice it) and holds the publishers back.
        bool hard_full =
            messages_ >= 2 * limits_.max_queued_messages || bytes_ + n > 2 * limits_.max_queued_bytes;
        if (entry.qos == 0 || !live_ || !backpressure_ || hard_full) {
            ++dropped_;
            return Admit::Dropped;
        }
        if (!congested_) congested_since_ms_ = now_ms();
        congested_ = true;
        admit = Admit::Held;
    }
    account(+1, n);
    lane.items_.push_back(std::move(entry));
    return admit;
}

void Outbox::set_live(bool live) {
    live_ = live;
    if (!live) release();
}

void Outbox::drop_qos0() {
    for (Lane* l = lanes_; l; l = l->next_) {
        dropped_ += l->items_.erase_if([&](const Outgoing& o) {
            if (o.qos != 0) return false;
            account(-1, o.bytes());
            return true;
        });
    }
    maybe_release();
}

size_t Outbox::trim_to_limits() {
    size_t n = 0;
    // Newest first: what was admitted over the limits goes; the order of
    // what stays is kept.
    while (messages_ > limits_.max_queued_messages || bytes_ > limits_.max_queued_bytes) {
        Lane* last = nullptr;
        for (Lane* l = lanes_; l; l = l->next_)
            if (!l->items_.empty()) last = l;
        if (!last) break;
        auto it = std::prev(last->items_.end());
        account(-1, it->bytes());
        last->items_.erase(it);
        ++dropped_;
        ++n;
    }
    maybe_release();
    return n;
}

void Outbox::maybe_release() {
    if (!congested_) return;
    if (messages_ > limits_.max_queued_messages / 2 || bytes_ > limits_.max_queued_bytes / 2) return;
    release();
}

void Outbox::release() {
    if (!congested_) return;
    congested_ = false;
    if (backpressure_) backpressure_->release(this);
}

}  // namespace duplex
