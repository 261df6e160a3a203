#include "broker/retained_store.h"

#include <vector>

namespace duplex {

RetainedStore::RetainedStore() : root_(std::make_unique<Node>()) {}
RetainedStore::~RetainedStore() = default;

void RetainedStore::update(const MessagePtr& message) {
    bool clear = message->payload.empty();
    Node* node = root_.get();
    TopicLevels levels(message->topic);
    std::string_view level;
    while (levels.next(level)) {
        auto it = node->children.find(level);
        if (it == node->children.end()) {
            if (clear) return;  // nothing retained there
            auto child = std::make_unique<Node>();
            child->parent = node;
            child->key = std::string(level);
            it = node->children.emplace(child->key, std::move(child)).first;
        }
        node = it->second.get();
    }
    if (clear) {
        if (node->message) --count_;
        node->message.reset();
        prune(node);
    } else {
        if (!node->message) ++count_;
        node->message = message;
    }
}

void RetainedStore::visit_one(Node& node, int64_t now_ms,
                              const std::function<void(const MessagePtr&)>& visit) {
    if (!node.message) return;
    if (node.message->expires_at_ms && node.message->expires_at_ms <= now_ms) {
        // Expired retained messages are not delivered (MQTT 5 3.3.2.3.3); they are
        // dropped lazily here rather than by a timer.
        node.message.reset();
        --count_;
        return;
    }
    visit(node.message);
}

void RetainedStore::visit_subtree(Node& node, bool first, int64_t now_ms,
                                  const std::function<void(const MessagePtr&)>& visit) {
    visit_one(node, now_ms, visit);
    for (auto& [key, child] : node.children) {
        if (first && !key.empty() && key.front() == '$') continue;  // [MQTT-4.7.2-1]
        visit_subtree(*child, false, now_ms, visit);
    }
}

void RetainedStore::match_node(Node& node, TopicLevels levels, bool first, int64_t now_ms,
                               const std::function<void(const MessagePtr&)>& visit) {
    std::string_view level;
    if (!levels.next(level)) {
        visit_one(node, now_ms, visit);
        return;
    }
    if (level == "#") {
        // "a/#" matches "a" itself and everything below it.
        if (!first) visit_one(node, now_ms, visit);
        for (auto& [key, child] : node.children) {
            if (first && !key.empty() && key.front() == '$') continue;
            visit_subtree(*child, false, now_ms, visit);
        }
        return;
    }
    if (level == "+") {
        for (auto& [key, child] : node.children) {
            if (first && !key.empty() && key.front() == '$') continue;
            match_node(*child, levels, false, now_ms, visit);
        }
        return;
    }
    auto it = node.children.find(level);
    if (it != node.children.end()) match_node(*it->second, levels, false, now_ms, visit);
}

void RetainedStore::match(std::string_view filter, int64_t now_ms,
                          const std::function<void(const MessagePtr&)>& visit) {
    match_node(*root_, TopicLevels(filter), true, now_ms, visit);
}

void RetainedStore::prune(Node* node) {
    while (node != root_.get() && !node->message && node->children.empty()) {
        Node* parent = node->parent;
        parent->children.erase(parent->children.find(std::string_view(node->key)));
        node = parent;
    }
}

}  // namespace duplex
