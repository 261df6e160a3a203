// Whole outgoing messages (acks, receipts, errors...) encoded back to back
// in one buffer, waiting for the socket. Protocol handlers append with
// serialize(..., pending.open()) then seal(); on_writable drains them, each
// still one message (one WebSocket frame) of its own.
//
// Each message is stored behind a 4-byte length, so the whole queue is one
// std::string: 32 bytes per connection and no allocation while the few
// pending bytes fit its inline buffer (an idle connection holds nothing).
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
        bytes_.append(sizeof(uint32_t), '\xff');  // "open" marker, see seal()
        return bytes_;
    }
    // Completes the message opened last.
    void seal() {
        size_t pos = 0;
        for (;;) {
            uint32_t len = length_at(pos);
            if (len == kOpen) {
                len = static_cast<uint32_t>(bytes_.size() - pos - sizeof len);
                std::memcpy(bytes_.data() + pos, &len, sizeof len);
                return;
            }
            pos += sizeof len + len;
        }
    }
    bool empty() const { return bytes_.empty(); }

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
};

}  // namespace duplex::net
