// Reassembles a byte stream into protocol units. Transports hand over bytes
// as they come (a TCP read, a WebSocket fragment); WebSocket message
// boundaries carry no meaning for MQTT (6.0) or STOMP. Used the same way by
// every transport, so framing exists once per protocol.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace duplex::net {

class StreamBuffer {
  public:
    // Feeds `bytes` and calls parse(std::span<const uint8_t>) -> long repeatedly
    // with the unparsed bytes. parse returns the number of bytes it consumed
    // (> 0), 0 when it needs more bytes, or < 0 to stop (error/close): then
    // feed returns false and drops everything. Bytes not consumed are kept
    // (copied) for the next feed; when nothing is pending the input is parsed
    // in place without a copy.
    template <class Parse>
    bool feed(std::span<const uint8_t> bytes, Parse&& parse) {
        if (pending_.empty()) {
            while (!bytes.empty()) {
                long n = parse(bytes);
                if (n < 0) return false;
                if (n == 0) break;
                bytes = bytes.subspan(static_cast<size_t>(n));
            }
            pending_.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
            return true;
        }
        pending_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        size_t offset = 0;
        while (offset < pending_.size()) {
            std::span<const uint8_t> rest(reinterpret_cast<const uint8_t*>(pending_.data()) + offset,
                                          pending_.size() - offset);
            long n = parse(rest);
            if (n < 0) {
                pending_.clear();
                return false;
            }
            if (n == 0) break;
            offset += static_cast<size_t>(n);
        }
        pending_.erase(0, offset);
        if (pending_.empty()) pending_.shrink_to_fit();  // idle connections hold no buffer
        return true;
    }

    size_t pending() const { return pending_.size(); }

  private:
    std::string pending_;
};

}  // namespace duplex::net
