// Holding publishers back while a subscriber is congested, in one place.
//
// When a publish pushes an outbox over its limits (Outbox::Admit::Held),
// Core::publish returns that outbox among PublishResult::congested; the
// publisher's connection then hold()s itself: it stops reading its client
// until every outbox it waits for has drained to half its limits (or stopped
// being live, or gone away), when the outbox calls Backpressure::release().
// A held connection's bytes stay unread in the kernel and in its own stream
// buffer, so nothing it sent is lost or acknowledged early.
//
// Threading: loop thread only. release() runs from inside another client's
// callbacks (the one that drained): a HeldPublisher only flags and asks for
// its own writable callback there, and resumes reading from that.
#pragma once

#include <cstddef>
#include <span>
#include <unordered_map>
#include <vector>

namespace duplex {

class Outbox;
class HeldPublisher;

class Backpressure {
  public:
    // `publisher` waits until `outbox` drains (once per call).
    void wait(Outbox* outbox, HeldPublisher* publisher);
    // `outbox` drained or went away: wakes every publisher waiting on it.
    void release(Outbox* outbox);
    // `publisher` goes away: it waits for nothing any more.
    void forget(HeldPublisher* publisher);
    size_t waiting_outboxes() const { return waiters_.size(); }

  private:
    std::unordered_map<Outbox*, std::vector<HeldPublisher*>> waiters_;
};

// The publisher side, embedded in every protocol connection that publishes.
class HeldPublisher {
  public:
    explicit HeldPublisher(Backpressure& backpressure) : backpressure_(backpressure) {}
    virtual ~HeldPublisher();
    HeldPublisher(const HeldPublisher&) = delete;
    HeldPublisher& operator=(const HeldPublisher&) = delete;

    // Waits for each congested outbox of a publish. The first wait calls
    // pause_input(true).
    void hold(std::span<Outbox* const> congested);
    bool held() const { return waiting_ > 0; }
    // True once after the last outbox released this publisher: the caller
    // (in its own writable callback) calls pause_input(false) and parses
    // what it kept.
    bool take_resume() {
        bool r = resume_pending_;
        resume_pending_ = false;
        return r;
    }

  protected:
    virtual void pause_input(bool pause) = 0;
    // Ask for our own writable callback, where take_resume() is checked.
    virtual void wake() = 0;

  private:
    friend class Backpressure;
    void released();

    Backpressure& backpressure_;
    size_t waiting_ = 0;
    bool resume_pending_ = false;
};

}  // namespace duplex
