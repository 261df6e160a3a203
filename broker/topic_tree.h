// Subscription tree: one node per topic level with literal, '+' and '#'
// children. It only stores and matches; QoS, queues and ACLs live elsewhere.
#pragma once

#include "broker/inline_stack.h"
#include "broker/subscriber.h"
#include "broker/topic.h"

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace duplex {

struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class TopicTree {
  public:
    TopicTree();
    ~TopicTree();
    TopicTree(const TopicTree&) = delete;
    TopicTree& operator=(const TopicTree&) = delete;

    // Adds a subscription or replaces the options of an existing one.
    // Returns true if the subscription is new. `filter` must be valid.
    bool subscribe(std::string_view filter, Subscriber* subscriber, const SubOptions& options);

    // Returns true if the subscription existed. Empty nodes are pruned.
    bool unsubscribe(std::string_view filter, Subscriber* subscriber);

    // Calls visit(Subscriber*, const SubOptions&) for every subscription
    // whose filter matches `topic` (a valid topic name). A subscriber with
    // several matching filters is visited once per filter.
    //
    // Iterative (an explicit stack, see inline_stack.h): a topic of 65,000
    // levels once overflowed the recursive walk. Topic depth is also bounded
    // at the way in (Limits::max_topic_levels).
    template <class Visit>
    void match(std::string_view topic, Visit&& visit) const {
        struct Frame {
            const Node* node = nullptr;
            TopicLevels levels{std::string_view()};
            bool first = false;
        };
        InlineStack<Frame, 16> stack;
        stack.push(Frame{root_.get(), TopicLevels(topic), true});
        while (!stack.empty()) {
            Frame f = stack.pop();
            const Node* node = f.node;
            bool first = f.first;
            // Down one path in place; a frame is pushed only where the walk
            // branches (a literal child beside a '+'), so a topic without
            // wildcard subscribers on its way costs no stack traffic.
            for (;;) {
                std::string_view level;
                if (!f.levels.next(level)) {
                    visit_all(*node, visit);
                    // "a/#" also matches "a" [MQTT-4.7.1-2].
                    if (node->hash) visit_all(*node->hash, visit);
                    break;
                }
                const Node* literal = nullptr;
                if (!node->children.empty()) {
                    auto it = node->children.find(level);
                    if (it != node->children.end()) literal = it->second.get();
                }
                // Wildcards at the first level never match "$..." topics [MQTT-4.7.2-1].
                if (!(first && !level.empty() && level.front() == '$')) {
                    if (node->hash) visit_all(*node->hash, visit);
                    if (node->plus) {
                        // '+' first, then the literal (as the recursion did).
                        if (literal) stack.push(Frame{literal, f.levels, false});
                        literal = node->plus.get();
                    }
                }
                if (!literal) break;
                node = literal;
                first = false;
            }
        }
    }

    size_t subscription_count() const { return count_; }

  private:
    struct Node {
        Node* parent = nullptr;
        std::string key;  // level name in the parent ("+" and "#" included)
        std::unordered_map<std::string, std::unique_ptr<Node>, StringHash, std::equal_to<>> children;
        std::unique_ptr<Node> plus;
        std::unique_ptr<Node> hash;
        std::unordered_map<Subscriber*, SubOptions> subscriptions;

        bool empty() const { return children.empty() && !plus && !hash && subscriptions.empty(); }
    };

    template <class Visit>
    static void visit_all(const Node& node, Visit& visit) {
        for (auto& [subscriber, options] : node.subscriptions) visit(subscriber, options);
    }

    Node* find_node(std::string_view filter) const;
    void prune(Node* node);

    std::unique_ptr<Node> root_;
    size_t count_ = 0;
};

}  // namespace duplex
