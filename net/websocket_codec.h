// WebSocket (RFC 6455) server side, as pure functions over bytes: the opening
// handshake (an HTTP/1.1 GET with Upgrade) and the client-to-server frame
// decoder. No I/O: WebSocketSession (websocket_session.h) feeds them what
// TcpStreams reads.
//
// Why our own and not libwebsockets' for MQTT and STOMP: an lws WebSocket
// connection carries ~1.35 KiB of lws state (connection struct, WebSocket
// state, receive buffer) before any of ours, most of it for features a
// broker connection never uses; this decoder keeps about 48 bytes per connection.
// Plain HTTP requests (the demo page) still go to libwebsockets.
#pragma once

#include "base/utf8.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace duplex::net::ws {

// ---- Opening handshake (RFC 6455 4.2) -------------------------------------

struct Handshake {
    enum class Status {
        NeedMore,      // no complete request head ("\r\n\r\n") yet
        NotWebSocket,  // a complete HTTP request that is not a WebSocket upgrade
        Bad,           // an upgrade request we must refuse (`error`, `http_status`)
        Upgrade,       // a valid upgrade: answer with response_101()
    };
    Status status = Status::NeedMore;
    size_t head_size = 0;                   // bytes of the request head, "\r\n\r\n" included
    std::string path;                       // request target
    std::string key;                        // Sec-WebSocket-Key, as sent
    std::vector<std::string> subprotocols;  // Sec-WebSocket-Protocol, in the client's order
    std::string origin;                     // Origin (browsers send it), empty if none
    std::string host;                       // Host
    int http_status = 0;                    // for Bad: 400, 426 (version) or 431 (too large)
    std::string error;                      // for Bad: why, for the log
};

// Parses the start of a connection's bytes. A head longer than
// `max_head_bytes` without its end is Bad (431).
Handshake parse_handshake(std::string_view bytes, size_t max_head_bytes = 8192);

// The Sec-WebSocket-Accept value for a key: base64(SHA-1(key + GUID)).
std::string accept_key(std::string_view key);

// "HTTP/1.1 101 Switching Protocols" with the accept key and, unless empty,
// the chosen subprotocol.
std::string response_101(std::string_view key, std::string_view subprotocol);

// An error response that ends the connection (Connection: close).
std::string response_error(int http_status, std::string_view reason);

// ---- Frames, client to server (RFC 6455 5) ----------------------------------

// Close status codes we send (RFC 6455 7.4.1).
enum CloseCode : uint16_t {
    kCloseNormal = 1000,
    kCloseGoingAway = 1001,
    kCloseProtocolError = 1002,
    kCloseUnsupportedData = 1003,
    kCloseInvalidData = 1007,  // e.g. a text message that is not UTF-8
    kCloseTooBig = 1009,
};

// What the decoder reports. Data arrives unmasked, in pieces as they come
// (a message may span many reads and frames); message_end() follows the last
// piece of each data message.
class FrameSink {
  public:
    virtual ~FrameSink() = default;
    virtual void on_data(std::span<const uint8_t> bytes, bool text) = 0;
    virtual void on_message_end() = 0;
    virtual void on_ping(std::span<const uint8_t> payload) = 0;
    // The answer to a ping of ours (or an unsolicited one, RFC 6455 5.5.3).
    virtual void on_pong() {}
    // The peer's close frame: code 1005 when it carried none.
    virtual void on_close(uint16_t code, std::string_view reason) = 0;
};

class FrameDecoder {
  public:
    // Decodes `bytes` (unmasked in place: they must be writable), calling the
    // sink. Returns 0 while the stream is valid, else the close code to send
    // (protocol error: unmasked frame, reserved bits, unknown opcode, bad
    // continuation, fragmented or oversized control frame, bad close payload),
    // with `error` saying why. After an error or a close frame, nothing more
    // is decoded.
    uint16_t feed(std::span<uint8_t> bytes, FrameSink& sink, std::string& error);

  private:
    uint16_t fail(std::string& error, const char* why, uint16_t code = 1002);
    void unmask(uint8_t* p, size_t n);
    uint16_t end_control(FrameSink& sink, std::string& error);

    // Header being read (2 to 14 bytes), then the payload left of this frame.
    uint64_t remaining_ = 0;
    uint8_t header_[14];
    uint8_t header_len_ = 0;
    uint8_t mask_[4] = {};
    uint8_t mask_pos_ = 0;
    uint8_t opcode_ = 0;         // of the current frame
    bool fin_ = false;           // of the current frame
    bool in_payload_ = false;    // header complete, payload pending
    bool in_message_ = false;    // a fragmented data message is open
    bool message_text_ = false;  // its first frame was text
    bool done_ = false;          // closed or failed
    // A control frame's payload (at most 125 bytes) split over reads; rare,
    // so allocated only then.
    std::unique_ptr<std::string> control_;
    // Text messages must be valid UTF-8 (RFC 6455 8.1), checked as they
    // arrive, also across frames and reads: close 1007 otherwise.
    Utf8Stream utf8_;
};

// A server frame (never masked): FIN set, the given opcode and payload.
void append_frame(std::string& out, uint8_t opcode, std::string_view payload);
// A close frame with a status code and a reason (truncated to fit 125 bytes).
void append_close(std::string& out, uint16_t code, std::string_view reason = {});

constexpr uint8_t kOpContinuation = 0x0, kOpText = 0x1, kOpBinary = 0x2, kOpClose = 0x8, kOpPing = 0x9,
                  kOpPong = 0xA;

}  // namespace duplex::net::ws
