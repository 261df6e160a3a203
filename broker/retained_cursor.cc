#include "broker/retained_cursor.h"

#include "broker/router.h"

#include <algorithm>

namespace duplex {

namespace {

bool by_topic(const MessagePtr& a, const MessagePtr& b) { return a->topic < b->topic; }

}  // namespace

RetainedCursor::RetainedCursor(std::vector<MessagePtr> messages)
    : messages_(std::move(messages)), remaining_(messages_.size()) {
    std::sort(messages_.begin(), messages_.end(), by_topic);
}

std::unique_ptr<RetainedCursor> RetainedCursor::collect(Router& router, std::string_view filter,
                                                        int64_t now_ms,
                                                        const std::function<bool(const MessagePtr&)>& direct,
                                                        size_t max_deferred, size_t& refused) {
    std::vector<MessagePtr> deferred;
    bool deferring = false;
    refused = 0;
    router.retained(filter, now_ms, [&](const MessagePtr& m) {
        if (!deferring && direct(m)) return;
        deferring = true;
        if (deferred.size() < max_deferred) deferred.push_back(m);
        else ++refused;
    });
    if (deferred.empty()) return nullptr;
    return std::make_unique<RetainedCursor>(std::move(deferred));
}

MessagePtr RetainedCursor::pop() {
    MessagePtr m = std::move(messages_[next_]);
    ++next_;
    --remaining_;
    skip_taken();
    return m;
}

MessagePtr RetainedCursor::take(std::string_view topic) {
    auto first = messages_.begin() + static_cast<std::ptrdiff_t>(next_);
    auto it = std::lower_bound(first, messages_.end(), topic,
                               [](const MessagePtr& m, std::string_view t) { return m->topic < t; });
    // One retained message per topic; an entry taken before stays in place
    // (its topic keeps the order for the search) but counts as gone.
    if (it == messages_.end() || (*it)->topic != topic) return nullptr;
    size_t i = static_cast<size_t>(it - messages_.begin());
    if (taken(i)) return nullptr;
    MessagePtr m = *it;
    mark_taken(i);
    skip_taken();
    return m;
}

void RetainedCursor::mark_taken(size_t i) {
    if (taken_.empty()) taken_.resize(messages_.size());
    taken_[i] = true;
    --remaining_;
}

void RetainedCursor::skip_taken() {
    while (next_ < messages_.size() && taken(next_)) messages_[next_++].reset();
}

}  // namespace duplex
