#include "broker/topic_tree.h"

#include "broker/tree_free.h"

#include <vector>

namespace duplex {

TopicTree::TopicTree() : root_(std::make_unique<Node>()) {}
TopicTree::~TopicTree() {
    free_tree(std::move(root_), [](Node& n, auto push) {
        for (auto& [key, child] : n.children) push(child);
        push(n.plus);
        push(n.hash);
    });
}

bool TopicTree::subscribe(std::string_view filter, Subscriber* subscriber, const SubOptions& options) {
    Node* node = root_.get();
    TopicLevels levels(filter);
    std::string_view level;
    while (levels.next(level)) {
        std::unique_ptr<Node>* slot;
        if (level == "+") {
            slot = &node->plus;
        } else if (level == "#") {
            slot = &node->hash;
        } else {
            auto it = node->children.find(level);
            if (it == node->children.end()) it = node->children.emplace(std::string(level), nullptr).first;
            slot = &it->second;
        }
        if (!*slot) {
            *slot = std::make_unique<Node>();
            (*slot)->parent = node;
            (*slot)->key = std::string(level);
        }
        node = slot->get();
    }
    auto [it, inserted] = node->subscriptions.insert_or_assign(subscriber, options);
    (void)it;
    if (inserted) ++count_;
    return inserted;
}

TopicTree::Node* TopicTree::find_node(std::string_view filter) const {
    Node* node = root_.get();
    TopicLevels levels(filter);
    std::string_view level;
    while (node && levels.next(level)) {
        if (level == "+") {
            node = node->plus.get();
        } else if (level == "#") {
            node = node->hash.get();
        } else {
            auto it = node->children.find(level);
            node = it == node->children.end() ? nullptr : it->second.get();
        }
    }
    return node;
}

bool TopicTree::unsubscribe(std::string_view filter, Subscriber* subscriber) {
    Node* node = find_node(filter);
    if (!node || node->subscriptions.erase(subscriber) == 0) return false;
    --count_;
    prune(node);
    return true;
}

// Removes empty nodes from `node` up towards the root, so a tree that saw
// millions of short-lived topics does not keep their skeleton.
void TopicTree::prune(Node* node) {
    while (node != root_.get() && node->empty()) {
        Node* parent = node->parent;
        if (node->key == "+") {
            parent->plus.reset();
        } else if (node->key == "#") {
            parent->hash.reset();
        } else {
            parent->children.erase(parent->children.find(std::string_view(node->key)));
        }
        node = parent;
    }
}

}  // namespace duplex
