// MQTT 5 shared subscriptions (4.8.2): "$share/{group}/{filter}". The group
// is one subscriber in the topic tree; each message it receives goes to one
// member session, round robin, preferring members that are connected and
// have room in their queue.
#pragma once

#include "broker/session.h"
#include "broker/subscriber.h"

#include <string>
#include <utility>
#include <vector>

namespace duplex {

class SharedGroup final : public Subscriber {
  public:
    SharedGroup(std::string group, std::string filter)
        : group_(std::move(group)), filter_(std::move(filter)) {}

    const std::string& filter() const { return filter_; }
    const std::string& group() const { return group_; }

    void add(Session* member, const SubOptions& options);
    bool remove(Session* member);
    bool empty() const { return members_.empty(); }
    size_t size() const { return members_.size(); }

    Outbox* deliver(const MessagePtr& message, const Delivery& delivery) override;

    // Splits "$share/group/filter"; false if `text` is not a shared filter.
    // Sets `valid` to whether it is a well-formed one [MQTT-4.8.2-1/2].
    static bool parse(std::string_view text, std::string_view& group, std::string_view& filter, bool& valid);

  private:
    std::string group_;
    std::string filter_;
    std::vector<std::pair<Session*, SubOptions>> members_;
    size_t next_ = 0;
};

}  // namespace duplex
