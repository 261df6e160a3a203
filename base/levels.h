// Splits "a/b/c" level by level without allocating:
//   Levels levels(topic); std::string_view l; while (levels.next(l)) ...
// "" is one empty level, "a/" two ("a", ""), as MQTT counts them. Used by the
// topic tree and retained store (broker/) and the ACL (auth/): one splitter.
// Pure, no allocation; the viewed text must outlive the object.
#pragma once

#include <string_view>

namespace duplex {

class Levels {
  public:
    explicit Levels(std::string_view topic) : rest_(topic) {}
    bool next(std::string_view& level) {
        if (done_) return false;
        auto slash = rest_.find('/');
        if (slash == std::string_view::npos) {
            level = rest_;
            done_ = true;
        } else {
            level = rest_.substr(0, slash);
            rest_.remove_prefix(slash + 1);
        }
        return true;
    }
    // What next() has not returned yet: "b/c" after "a" of "a/b/c".
    bool rest_is(std::string_view s) const { return !done_ && rest_ == s; }

  private:
    std::string_view rest_;
    bool done_ = false;
};

}  // namespace duplex
