#include "broker/topic.h"

namespace duplex {

size_t topic_levels(std::string_view topic) {
    size_t n = 1;
    for (char c : topic) n += c == '/';
    return n;
}

bool has_wildcard(std::string_view filter) { return filter.find_first_of("+#") != std::string_view::npos; }

bool valid_topic_name(std::string_view name) { return !name.empty() && !has_wildcard(name); }

bool valid_topic_filter(std::string_view filter) {
    if (filter.empty()) return false;
    TopicLevels levels(filter);
    std::string_view level;
    bool seen_hash = false;
    while (levels.next(level)) {
        if (seen_hash) return false;  // '#' must be the last level [MQTT-4.7.1-2]
        if (level.size() > 1 && has_wildcard(level)) return false;  // [MQTT-4.7.1-3]
        if (level == "#") seen_hash = true;
    }
    return true;
}

}  // namespace duplex

namespace duplex {

bool topic_matches(std::string_view filter, std::string_view name) {
    if (!filter.empty() && (filter[0] == '+' || filter[0] == '#') && !name.empty() && name[0] == '$')
        return false;  // [MQTT-4.7.2-1]
    TopicLevels f(filter), n(name);
    std::string_view fl, nl;
    while (f.next(fl)) {
        if (fl == "#") return true;  // also matches the parent level: "a/#" matches "a"
        if (!n.next(nl)) return false;
        if (fl != "+" && fl != nl) return false;
    }
    return !n.next(nl);
}

}  // namespace duplex
