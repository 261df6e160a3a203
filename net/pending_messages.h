// Whole outgoing messages (acks, receipts, errors...) encoded back to back
// in one buffer, waiting for the socket. Protocol handlers append with
// serialize(..., pending.open()) then seal(); on_writable drains them, each
// still one message (one WebSocket frame) of its own.
//
// Each message is stored behind a 4-byte length, so the whole queue is one
// std::string: 40 bytes per connection and no allocation while the few
// pending bytes fit its inline buffer (an idle connection holds nothing).
// seal() is O(1): it once walked the whole buffer per message, and a client
// that sent PINGREQs without reading our PINGRESPs pinned the loop at 100 %.
//
// The queue grows only while the peer does not read; a connection stops
// reading its peer once size() passes kBacklogBound (a client that never
// reads its acks must not grow them without bound), and reads on once it
// drained.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace duplex::net {

class PendingMessages {
  public:
    // Starts a message; returns the buffer to append its bytes to. Call
    // seal() when the message is complete.
    std::string& open() {
        open_at_ = static_cast<uint32_t>(bytes_.size());
        bytes_.append(sizeof(uint32_t), '\xff');  // "open" marker, see seal()
        return bytes_;
    }
    // Completes the message opened last.
    void seal() {
        uint32_t len = static_cast<uint32_t>(bytes_.size() - open_at_ - sizeof len);
        std::memcpy(bytes_.data() + open_at_, &len, sizeof len);
    }
    bool empty() const { return bytes_.empty(); }
    size_t size() const { return bytes_.size(); }

    // Bytes of control output a connection may owe its peer before it stops
    // reading it: a write budget's worth (far more than any normal burst of
    // acks; a client that never reads reaches it after ~16,000 PUBACKs).
    static constexpr size_t kBacklogBound = 64 * 1024;
    bool over_bound() const { return bytes_.size() > kBacklogBound; }

    // Calls each(message) for every sealed message, in order, and empties.
    template <class Each>
    void drain(Each&& each) {
        size_t pos = 0;
        while (pos < bytes_.size()) {
            uint32_t len = length_at(pos);
            if (len == kOpen) break;  // not sealed: cannot happen between calls
            each(std::string_view(bytes_).substr(pos + sizeof len, len));
            pos += sizeof len + len;
        }
        bytes_.clear();
        if (bytes_.capacity() > 256) bytes_.shrink_to_fit();  // a burst does not stay
    }

  private:
    static constexpr uint32_t kOpen = UINT32_MAX;
    uint32_t length_at(size_t pos) const {
        uint32_t len;
        std::memcpy(&len, bytes_.data() + pos, sizeof len);
        return len;
    }
    std::string bytes_;
    uint32_t open_at_ = 0;  // where the message opened last starts
};

}  // namespace duplex::net
