// Outgoing bytes of one write: whole protocol messages, framed for the
// transport. Over WebSocket each message becomes one unmasked WebSocket frame
// (RFC 6455 5.2), so several MQTT packets or STOMP frames leave in one
// syscall yet still arrive as one WebSocket message each (MQTT 6.0).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace duplex::net {

class OutBuffer {
  public:
    // `headroom` bytes are reserved in front of the data (for a writer that
    // needs them, as lws_write() needed LWS_PRE; TcpStreams sends from
    // data() + headroom() and the loop passes 0).
    OutBuffer(size_t headroom, bool websocket) : headroom_(headroom), websocket_(websocket) {
        bytes_.assign(headroom_, '\0');
    }

    // Appends one message made of `head` followed by `body`.
    void message(std::string_view head, std::string_view body = {}, bool text = false);

    // Appends bytes already framed (a WebSocket control frame).
    void raw(std::string_view bytes) { bytes_.append(bytes); }

    size_t size() const { return bytes_.size() - headroom_; }
    bool empty() const { return size() == 0; }
    // Start of the headroom; data() + headroom() is the first byte to send.
    char* data() { return bytes_.data(); }
    size_t headroom() const { return headroom_; }
    void clear() { bytes_.resize(headroom_); }
    bool websocket() const { return websocket_; }
    void set_websocket(bool ws) { websocket_ = ws; }

  private:
    std::string bytes_;
    size_t headroom_;
    bool websocket_;
};

}  // namespace duplex::net
