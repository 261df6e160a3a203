#include "broker/shared_subscription.h"

#include "broker/topic.h"

#include <algorithm>

namespace duplex {

void SharedGroup::add(Session* member, const SubOptions& options) {
    for (auto& m : members_)
        if (m.first == member) {
            m.second = options;
            return;
        }
    members_.emplace_back(member, options);
}

bool SharedGroup::remove(Session* member) {
    auto it = std::find_if(members_.begin(), members_.end(), [&](auto& m) { return m.first == member; });
    if (it == members_.end()) return false;
    members_.erase(it);
    if (next_ >= members_.size()) next_ = 0;
    return true;
}

Outbox* SharedGroup::deliver(const MessagePtr& message, const Delivery&) {
    size_t n = members_.size();
    if (n == 0) return nullptr;
    // Least loaded connected member, ties broken round robin; if nobody is
    // connected, the next member whose session keeps messages offline.
    size_t chosen = n;
    for (size_t i = 0; i < n; ++i) {
        size_t k = (next_ + i) % n;
        Session* s = members_[k].first;
        if (!s->output()) continue;
        if (chosen == n || s->queued() < members_[chosen].first->queued()) chosen = k;
    }
    if (chosen == n)
        for (size_t i = 0; i < n && chosen == n; ++i)
            if (members_[(next_ + i) % n].first->persistent()) chosen = (next_ + i) % n;
    if (chosen == n) return nullptr;
    next_ = (chosen + 1) % n;
    auto& [session, options] = members_[chosen];
    uint8_t qos = std::min(message->qos, options.qos);
    if (qos == 0 && !session->output()) return nullptr;
    std::vector<uint32_t> ids;
    if (options.subscription_id) ids.push_back(options.subscription_id);
    return session->enqueue(message, qos, options.retain_as_published && message->retain, std::move(ids),
                            this);
}

bool SharedGroup::parse(std::string_view text, std::string_view& group, std::string_view& filter,
                        bool& valid) {
    constexpr std::string_view prefix = "$share/";
    if (text.substr(0, prefix.size()) != prefix) return false;
    std::string_view rest = text.substr(prefix.size());
    auto slash = rest.find('/');
    valid = false;
    if (slash == std::string_view::npos) return true;
    group = rest.substr(0, slash);
    filter = rest.substr(slash + 1);
    valid = !group.empty() && !has_wildcard(group) && valid_topic_filter(filter);
    return true;
}

}  // namespace duplex
