// Counting logic of duplex-bench, kept apart from the I/O so unit tests
// (tests/bench/) can check it: the payload stamp each message carries, the
// per-subscriber sequence tracker (delivered / duplicates / lost / reordered)
// and latency percentiles.
//
// No allocation after construction: the tracker's bitmap and the latency
// sample array are sized up front from the scenario's bounds.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace duplex::bench {

// ---------------------------------------------------------------------------
// Payload stamp. Printable (hex) so it survives STOMP text bodies and
// WebSocket text frames: "<pid:8 hex><seq:16 hex><ts_ns:16 hex>" followed by
// '.' padding up to the payload size. kStampSize is the minimum payload.
constexpr size_t kStampSize = 40;

struct Stamp {
    uint32_t publisher = 0;
    uint64_t seq = 0;
    uint64_t ts_ns = 0;  // CLOCK_MONOTONIC at publish time
};

inline void put_hex(uint8_t* out, uint64_t v, int digits) {
    static const char hex[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; --i) {
        out[i] = static_cast<uint8_t>(hex[v & 0xf]);
        v >>= 4;
    }
}

inline bool get_hex(const uint8_t* in, int digits, uint64_t& v) {
    v = 0;
    for (int i = 0; i < digits; ++i) {
        uint8_t c = in[i];
        uint64_t d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else return false;
        v = (v << 4) | d;
    }
    return true;
}

// Writes the stamp into the first kStampSize bytes of `out` (size >= kStampSize).
inline void write_stamp(uint8_t* out, const Stamp& s) {
    put_hex(out, s.publisher, 8);
    put_hex(out + 8, s.seq, 16);
    put_hex(out + 24, s.ts_ns, 16);
}

// Fills `out[0, size)` with a stamp and padding.
inline void fill_payload(uint8_t* out, size_t size, const Stamp& s) {
    write_stamp(out, s);
    for (size_t i = kStampSize; i < size; ++i) out[i] = '.';
}

inline bool read_stamp(const uint8_t* in, size_t len, Stamp& s) {
    if (len < kStampSize) return false;
    uint64_t p, q, t;
    if (!get_hex(in, 8, p) || !get_hex(in + 8, 16, q) || !get_hex(in + 24, 16, t)) return false;
    s.publisher = static_cast<uint32_t>(p);
    s.seq = q;
    s.ts_ns = t;
    return true;
}

// ---------------------------------------------------------------------------
// One subscriber's view of the messages of `publishers` publishers, each
// sending sequence numbers 0 .. per_publisher-1.
class SeqTracker {
public:
    enum class Result : uint8_t { New, Duplicate, Invalid };

    SeqTracker() = default;
    SeqTracker(uint32_t publishers, uint64_t per_publisher) { reset(publishers, per_publisher); }

    void reset(uint32_t publishers, uint64_t per_publisher) {
        publishers_ = publishers;
        per_ = per_publisher;
        words_per_ = (per_publisher + 63) / 64;
        bits_.assign(static_cast<size_t>(publishers) * words_per_, 0);
        next_.assign(publishers, 0);
        delivered_ = duplicates_ = invalid_ = reordered_ = 0;
    }

    Result on_message(uint32_t publisher, uint64_t seq) {
        if (publisher >= publishers_ || seq >= per_) {
            ++invalid_;
            return Result::Invalid;
        }
        uint64_t& w = bits_[publisher * words_per_ + seq / 64];
        uint64_t bit = uint64_t{1} << (seq % 64);
        if (w & bit) {
            ++duplicates_;
            return Result::Duplicate;
        }
        w |= bit;
        ++delivered_;
        // Order: a message older than the newest seen from its publisher.
        if (seq < next_[publisher]) ++reordered_;
        else next_[publisher] = seq + 1;
        return Result::New;
    }

    uint64_t expected() const { return static_cast<uint64_t>(publishers_) * per_; }
    // Distinct messages received (duplicates not counted).
    uint64_t delivered() const { return delivered_; }
    uint64_t duplicates() const { return duplicates_; }
    uint64_t invalid() const { return invalid_; }
    uint64_t reordered() const { return reordered_; }
    // Messages never received, out of those that were published. `published`
    // is how many each publisher actually sent (a run stopped by its time
    // limit publishes fewer than per_publisher); defaults to all.
    uint64_t lost() const { return expected() - delivered_; }
    uint64_t lost_of(const std::vector<uint64_t>& published) const {
        uint64_t lost = 0;
        for (uint32_t p = 0; p < publishers_ && p < published.size(); ++p) {
            uint64_t n = std::min<uint64_t>(published[p], per_);
            for (uint64_t s = 0; s < n; ++s)
                if (!(bits_[p * words_per_ + s / 64] & (uint64_t{1} << (s % 64)))) ++lost;
        }
        return lost;
    }
    bool complete() const { return delivered_ == expected(); }

private:
    uint32_t publishers_ = 0;
    uint64_t per_ = 0;
    uint64_t words_per_ = 0;
    std::vector<uint64_t> bits_;
    std::vector<uint64_t> next_;
    uint64_t delivered_ = 0, duplicates_ = 0, invalid_ = 0, reordered_ = 0;
};

// ---------------------------------------------------------------------------
// Latency samples (nanoseconds), bounded: samples past capacity are counted
// but not kept (the max is still exact).
class LatencyRecorder {
public:
    explicit LatencyRecorder(size_t capacity = 0) { samples_.reserve(capacity); }
    void reserve(size_t capacity) { samples_.reserve(capacity); }

    void add(uint64_t ns) {
        if (samples_.size() < samples_.capacity()) samples_.push_back(ns);
        else ++dropped_;
        max_ = std::max(max_, ns);
        ++count_;
    }
    void merge(const LatencyRecorder& o) {
        for (uint64_t v : o.samples_) samples_.push_back(v);
        max_ = std::max(max_, o.max_);
        count_ += o.count_;
        dropped_ += o.dropped_;
    }
    // Nearest-rank percentile, p in [0, 100]. Sorts the samples.
    uint64_t percentile(double p) {
        if (samples_.empty()) return 0;
        if (!sorted_) {
            std::sort(samples_.begin(), samples_.end());
            sorted_ = true;
        }
        size_t n = samples_.size();
        size_t rank = static_cast<size_t>(p / 100.0 * static_cast<double>(n) + 0.999999);
        if (rank < 1) rank = 1;
        if (rank > n) rank = n;
        return samples_[rank - 1];
    }
    uint64_t max() const { return max_; }
    uint64_t count() const { return count_; }

private:
    std::vector<uint64_t> samples_;
    uint64_t max_ = 0, count_ = 0, dropped_ = 0;
    bool sorted_ = false;
};

}  // namespace duplex::bench
