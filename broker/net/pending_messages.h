// Whole outgoing messages (acks, receipts, errors...) encoded back to back
// in one buffer, waiting for the socket. Protocol handlers append with
// serialize(..., pending.buffer()) then seal(); on_writable drains them,
// each still one message (one WebSocket frame) of its own.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace duplex::net {

class PendingMessages {
  public:
    // The buffer to append one encoded message to; call seal() after.
    std::string& buffer() { return bytes_; }
    // Marks the end of the message just appended.
    void seal() { ends_.push_back(static_cast<uint32_t>(bytes_.size())); }
    bool empty() const { return ends_.empty(); }

    // Calls each(std::string_view) per message in order, then forgets them.
    template <class Each>
    void drain(Each&& each) {
        size_t start = 0;
        for (uint32_t end : ends_) {
            each(std::string_view(bytes_).substr(start, end - start));
            start = end;
        }
        bytes_.clear();
        ends_.clear();
    }

  private:
    std::string bytes_;
    std::vector<uint32_t> ends_;
};

}  // namespace duplex::net
