#include "broker/retained_store.h"

#include "broker/inline_stack.h"
#include "broker/tree_free.h"

#include <vector>

namespace duplex {

RetainedStore::RetainedStore() : root_(std::make_unique<Node>()) {}
RetainedStore::~RetainedStore() {
    free_tree(std::move(root_), [](Node& n, auto push) {
        for (auto& [key, child] : n.children) push(child);
    });
}

bool RetainedStore::update(const MessagePtr& message) {
    bool clear = message->payload.empty();
    size_t n = message->payload.size();
    if (!clear) {
        // Checked before the path is built: a refused topic leaves no nodes.
        Node* existing = root_.get();
        TopicLevels probe(message->topic);
        std::string_view level;
        while (existing && probe.next(level)) {
            auto it = existing->children.find(level);
            existing = it == existing->children.end() ? nullptr : it->second.get();
        }
        size_t old = existing && existing->message ? existing->message->payload.size() : 0;
        bool is_new = !existing || !existing->message;
        if ((is_new && count_ >= max_messages_) || bytes_ - old + n > max_bytes_) {
            ++refused_;
            return false;
        }
    }
    Node* node = root_.get();
    TopicLevels levels(message->topic);
    std::string_view level;
    while (levels.next(level)) {
        auto it = node->children.find(level);
        if (it == node->children.end()) {
            if (clear) return true;  // nothing retained there
            auto child = std::make_unique<Node>();
            child->parent = node;
            child->key = std::string(level);
            it = node->children.emplace(child->key, std::move(child)).first;
        }
        node = it->second.get();
    }
    if (clear) {
        if (node->message) {
            --count_;
            bytes_ -= node->message->payload.size();
        }
        node->message.reset();
        prune(node);
    } else {
        if (!node->message) ++count_;
        else bytes_ -= node->message->payload.size();
        bytes_ += n;
        node->message = message;
    }
    return true;
}

void RetainedStore::visit_one(Node& node, int64_t now_ms,
                              const std::function<void(const MessagePtr&)>& visit) {
    if (!node.message) return;
    if (node.message->expires_at_ms && node.message->expires_at_ms <= now_ms) {
        // Expired retained messages are not delivered (MQTT 5 3.3.2.3.3); they are
        // dropped lazily here rather than by a timer.
        bytes_ -= node.message->payload.size();
        node.message.reset();
        --count_;
        return;
    }
    visit(node.message);
}

void RetainedStore::visit_subtree(Node& top, bool first, int64_t now_ms,
                                  const std::function<void(const MessagePtr&)>& visit) {
    struct Frame {
        Node* node = nullptr;
        bool first = false;
    };
    InlineStack<Frame, 16> stack;
    stack.push(Frame{&top, first});
    while (!stack.empty()) {
        Frame f = stack.pop();
        visit_one(*f.node, now_ms, visit);
        for (auto& [key, child] : f.node->children) {
            if (f.first && !key.empty() && key.front() == '$') continue;  // [MQTT-4.7.2-1]
            stack.push(Frame{child.get(), false});
        }
    }
}

void RetainedStore::match(std::string_view filter, int64_t now_ms,
                          const std::function<void(const MessagePtr&)>& visit) {
    struct Frame {
        Node* node = nullptr;
        TopicLevels levels{std::string_view()};
        bool first = false;
    };
    InlineStack<Frame, 16> stack;
    stack.push(Frame{root_.get(), TopicLevels(filter), true});
    while (!stack.empty()) {
        Frame f = stack.pop();
        Node& node = *f.node;
        std::string_view level;
        if (!f.levels.next(level)) {
            visit_one(node, now_ms, visit);
            continue;
        }
        if (level == "#") {
            // "a/#" matches "a" itself and everything below it.
            if (!f.first) visit_one(node, now_ms, visit);
            for (auto& [key, child] : node.children) {
                if (f.first && !key.empty() && key.front() == '$') continue;
                visit_subtree(*child, false, now_ms, visit);
            }
            continue;
        }
        if (level == "+") {
            for (auto& [key, child] : node.children) {
                if (f.first && !key.empty() && key.front() == '$') continue;
                stack.push(Frame{child.get(), f.levels, false});
            }
            continue;
        }
        auto it = node.children.find(level);
        if (it != node.children.end()) stack.push(Frame{it->second.get(), f.levels, false});
    }
}

void RetainedStore::prune(Node* node) {
    while (node != root_.get() && !node->message && node->children.empty()) {
        Node* parent = node->parent;
        parent->children.erase(parent->children.find(std::string_view(node->key)));
        node = parent;
    }
}

}  // namespace duplex
