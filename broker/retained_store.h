// Retained messages: the last retained message per topic name, found by
// topic filter when a subscription is made. A retained message with an
// empty payload clears the topic [MQTT-3.3.1-10].
#pragma once

#include "broker/message.h"
#include "broker/topic.h"
#include "broker/topic_tree.h"

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace duplex {

class RetainedStore {
  public:
    RetainedStore();
    ~RetainedStore();

    // Stores `message` under its topic, or clears the topic if the payload
    // is empty. False (nothing stored) when a new topic would pass the
    // limits (set_limits); replacing or clearing always works within them.
    bool update(const MessagePtr& message);
    // Bounds on retained messages and their payload bytes (Limits).
    void set_limits(size_t max_messages, size_t max_bytes) {
        max_messages_ = max_messages;
        max_bytes_ = max_bytes;
    }
    size_t bytes() const { return bytes_; }
    uint64_t refused() const { return refused_; }

    // Calls visit(const MessagePtr&) for each retained message whose topic
    // matches `filter` (a valid filter). `now_ms` drops expired messages.
    // Iterative (explicit stacks): no recursion over topic depth.
    void match(std::string_view filter, int64_t now_ms, const std::function<void(const MessagePtr&)>& visit);

    size_t size() const { return count_; }

  private:
    struct Node {
        Node* parent = nullptr;
        std::string key;
        std::unordered_map<std::string, std::unique_ptr<Node>, StringHash, std::equal_to<>> children;
        MessagePtr message;
    };

    void visit_subtree(Node& node, bool first, int64_t now_ms,
                       const std::function<void(const MessagePtr&)>& visit);
    void visit_one(Node& node, int64_t now_ms, const std::function<void(const MessagePtr&)>& visit);
    void prune(Node* node);

    std::unique_ptr<Node> root_;
    size_t count_ = 0;
    size_t bytes_ = 0;
    size_t max_messages_ = SIZE_MAX;
    size_t max_bytes_ = SIZE_MAX;
    uint64_t refused_ = 0;
};

}  // namespace duplex
