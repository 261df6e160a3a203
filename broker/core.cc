#include "broker/core.h"

#include "broker/log.h"

#include <chrono>
#include <vector>

namespace duplex {

Core::Core(const Config& config) : config_(config) {}

Core::~Core() {
    // Sessions are subscribers: take them out of the tree before they go.
    for (auto& [id, session] : sessions_)
        for (auto& [filter, options] : session->subscriptions) router_.unsubscribe(filter, session.get());
}

int64_t Core::now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

Session* Core::find_session(std::string_view client_id) {
    auto it = sessions_.find(client_id);
    return it == sessions_.end() ? nullptr : it->second.get();
}

Session& Core::create_session(const std::string& client_id) {
    remove_session(client_id);
    auto session = std::make_unique<Session>(client_id, config_.limits);
    session->set_origin_id(next_id());
    Session& ref = *session;
    sessions_.emplace(client_id, std::move(session));
    return ref;
}

void Core::remove_session(const std::string& client_id) {
    auto it = sessions_.find(std::string_view(client_id));
    if (it == sessions_.end()) return;
    Session* s = it->second.get();
    for (auto& [filter, options] : s->subscriptions) router_.unsubscribe(filter, s);
    sessions_.erase(it);
}

void Core::expire_sessions(int64_t now) {
    std::vector<std::string> expired;
    for (auto& [id, s] : sessions_) {
        if (s->output() || s->disconnected_at_ms == 0 || s->expiry_interval == UINT32_MAX) continue;
        if (now - s->disconnected_at_ms >= int64_t(s->expiry_interval) * 1000) expired.push_back(id);
    }
    for (auto& id : expired) {
        log::info("session {} expired", id);
        remove_session(id);
    }
}

}  // namespace duplex
