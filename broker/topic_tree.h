// Subscription tree: one node per topic level with literal, '+' and '#'
// children. It only stores and matches; QoS, queues and ACLs live elsewhere.
#pragma once

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
    template <class Visit>
    void match(std::string_view topic, Visit&& visit) const {
        match_node(*root_, TopicLevels(topic), true, visit);
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

        bool empty() const {
            return children.empty() && !plus && !hash && subscriptions.empty();
        }
    };

    template <class Visit>
    static void visit_all(const Node& node, Visit& visit) {
        for (auto& [subscriber, options] : node.subscriptions) visit(subscriber, options);
    }

    template <class Visit>
    static void match_node(const Node& node, TopicLevels levels, bool first, Visit& visit) {
        std::string_view level;
        if (!levels.next(level)) {
            visit_all(node, visit);
            // "a/#" also matches "a" [MQTT-4.7.1-2].
            if (node.hash) visit_all(*node.hash, visit);
            return;
        }
        // Wildcards at the first level never match "$..." topics [MQTT-4.7.2-1].
        bool dollar = first && !level.empty() && level.front() == '$';
        if (!dollar) {
            if (node.hash) visit_all(*node.hash, visit);
            if (node.plus) match_node(*node.plus, levels, false, visit);
        }
        auto it = node.children.find(level);
        if (it != node.children.end()) match_node(*it->second, levels, false, visit);
    }

    Node* find_node(std::string_view filter) const;
    void prune(Node* node);

    std::unique_ptr<Node> root_;
    size_t count_ = 0;
};

}  // namespace duplex
