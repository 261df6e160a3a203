// A reference MQTT topic matcher for tests (the broker unit tests and the
// topic-tree fuzzer): written from the text of MQTT 4.7, level by level,
// independently of broker/topic_tree.h, and deliberately simple.
#pragma once

#include <string>
#include <vector>

namespace duplex::test {

// Does `filter` (a valid filter) match `topic` (a valid topic name)?
//  '+' matches exactly one level (possibly empty), '#' (last) matches the
//  rest including the parent level ("a/#" matches "a"), and a filter whose
//  first level is a wildcard never matches a topic starting with '$'.
inline bool reference_match(const std::string& filter, const std::string& topic) {
    auto split = [](const std::string& s) {
        std::vector<std::string> out;
        size_t start = 0;
        for (;;) {
            size_t slash = s.find('/', start);
            if (slash == std::string::npos) {
                out.push_back(s.substr(start));
                return out;
            }
            out.push_back(s.substr(start, slash - start));
            start = slash + 1;
        }
    };
    auto f = split(filter);
    auto t = split(topic);
    // [MQTT-4.7.2-1]: a filter starting with a wildcard does not match a topic starting with '$'.
    if ((f[0] == "+" || f[0] == "#") && !topic.empty() && topic[0] == '$') return false;
    size_t i = 0;
    for (; i < f.size(); ++i) {
        if (f[i] == "#") return true;  // matches the parent level and any number of children
        if (i >= t.size()) return false;
        if (f[i] != "+" && f[i] != t[i]) return false;
    }
    return i == t.size();
}

}  // namespace duplex::test
