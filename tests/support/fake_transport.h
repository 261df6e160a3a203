// A net::Transport for in-process tests: no socket, no loop. Records what the
// handler asks of the transport and drives its output through on_writable()
// into plain bytes, so a test can feed bytes in and read bytes out on one
// thread, deterministically.
#pragma once

#include "net/out_buffer.h"
#include "net/transport.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace duplex::test {

class FakeTransport final : public net::Transport {
  public:
    explicit FakeTransport(uint64_t id = 1, std::string peer = "127.0.0.1:50000", bool websocket = false)
        : id_(id), peer_(std::move(peer)), websocket_(websocket) {}

    void request_write() override { ++write_requests; }
    void close() override { ++close_calls; }
    void pause_reading(bool pause) override {
        pause_calls.push_back(pause);
        paused = pause;
    }
    bool websocket() const override { return websocket_; }
    void ping() override { ++pings; }
    const std::string& peer() const override { return peer_; }
    uint64_t id() const override { return id_; }

    void set_id(uint64_t id) { id_ = id; }
    void set_peer(std::string peer) { peer_ = std::move(peer); }
    void set_websocket(bool websocket) { websocket_ = websocket; }
    bool closed() const { return close_calls > 0; }

    // Calls handler.on_writable() (headroom 0, this transport's websocket
    // flag) until it returns false and returns everything it wrote. Bounded
    // so a handler that always claims more output fails the test instead of
    // hanging it.
    std::string drain(net::ProtocolHandler& handler, size_t budget = 64 * 1024, int max_calls = 10000) {
        std::string bytes;
        for (int i = 0; i < max_calls; ++i) {
            net::OutBuffer out(0, websocket_);
            bool more = handler.on_writable(out, budget);
            bytes.append(out.data() + out.headroom(), out.size());
            ++writable_calls;
            if (!more) return bytes;
        }
        drain_overrun = true;
        return bytes;
    }

    int write_requests = 0;
    int close_calls = 0;
    int pings = 0;
    int writable_calls = 0;
    bool paused = false;
    bool drain_overrun = false;  // drain() hit max_calls with output still pending
    std::vector<bool> pause_calls;

  private:
    uint64_t id_;
    std::string peer_;
    bool websocket_;
};

}  // namespace duplex::test
