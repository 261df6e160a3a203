// duplex: an embeddable MQTT + STOMP broker over WebSocket and TCP.
//
//   duplex::Broker broker(duplex::Config{.ws = {.port = 8080}});
//   broker.run();            // serves on this thread until stop()
//
// Threading: run() owns the loop thread. stop() may be called from any
// thread (and from a signal-handling thread); everything else from the loop
// thread.
#pragma once

#include "duplex/config.h"

#include <memory>
#include <string_view>

namespace duplex {

class Broker {
  public:
    // Binds every enabled listener. Throws std::runtime_error (naming the
    // listener) if one cannot be bound.
    explicit Broker(const Config& config);
    ~Broker();
    Broker(const Broker&) = delete;
    Broker& operator=(const Broker&) = delete;

    // Serves until stop(). Connections are closed on return.
    void run();
    // Makes run() return soon. Thread-safe.
    void stop();

    // Port actually bound by a listener: "ws", "mqtt" or "stomp"; 0 if off.
    int port(std::string_view listener) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace duplex
