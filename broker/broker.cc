// Assembles the broker: core state, the event loop, and which protocol
// handler serves which kind of connection.
#include "duplex/broker.h"

#include "broker/core.h"
#include "broker/log.h"
#include "broker/net/server.h"
#include "protocols/mqtt/connection.h"

namespace duplex {

struct Broker::Impl {
    Core core;
    net::Server server;

    explicit Impl(const Config& config)
        : core(config),
          server(
              config,
              [this](net::Kind kind, net::Transport& t) -> std::unique_ptr<net::ProtocolHandler> {
                  switch (kind) {
                      case net::Kind::Mqtt:
                          return std::make_unique<mqtt::Connection>(core, t);
                      default:
                          log::warn("{}: no handler for this connection kind yet", t.peer());
                          return nullptr;
                  }
              },
              [this](int64_t now) { core.expire_sessions(now); }) {}
};

Broker::Broker(const Config& config) {
    log::Level level;
    if (log::parse_level(config.log_level, level)) log::set_level(level);
    impl_ = std::make_unique<Impl>(config);
}

Broker::~Broker() = default;

void Broker::run() {
    impl_->server.run();
    log::info("shutting down: closing {} connection(s); wills of connected clients are published",
              impl_->server.connection_count());
}

void Broker::stop() { impl_->server.stop(); }

int Broker::port(std::string_view listener) const { return impl_->server.port(listener); }

}  // namespace duplex
