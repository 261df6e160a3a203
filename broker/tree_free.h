// Frees a tree of unique_ptr-owned nodes leaf-first without recursion: a
// chain of nested unique_ptrs would otherwise be freed one stack frame per
// level, and topic depth comes from clients. Used by TopicTree and
// RetainedStore. `take_children(Node&, push)` moves each child into push().
#pragma once

#include <memory>
#include <vector>

namespace duplex {

template <class Node, class TakeChildren>
void free_tree(std::unique_ptr<Node> root, TakeChildren take_children) {
    std::vector<std::unique_ptr<Node>> pending;
    pending.push_back(std::move(root));
    while (!pending.empty()) {
        std::unique_ptr<Node> n = std::move(pending.back());
        pending.pop_back();
        take_children(*n, [&](std::unique_ptr<Node>& child) {
            if (child) pending.push_back(std::move(child));
        });
    }
}

}  // namespace duplex
