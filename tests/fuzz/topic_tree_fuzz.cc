// libFuzzer target for the subscription tree (broker/topic_tree.cc). The
// input is a sequence of operations over four subscribers and a small
// alphabet of topic levels; after every operation the tree is checked
// against a model (a set of (subscriber, filter) -> options) and the
// reference matcher of tests/topic_match_reference.h:
//   subscribe    returns true iff the (subscriber, filter) pair is new, and
//                replaces the options of an existing one;
//   unsubscribe  returns true iff the pair existed;
//   match        visits exactly the model's subscriptions whose filter the
//                reference matcher says match the topic, once per filter,
//                with the options of the latest subscribe;
//   subscription_count() equals the model's size throughout.
// At the end every remaining subscription is removed and nothing matches.
//
// Encoding, per operation: one header byte
//   bits 0-1  0, 1 = subscribe, 2 = unsubscribe, 3 = match
//   bits 2-3  subscriber 0..3
//   bits 4-6  number of levels - 1 (1..8)
// then one byte per level, an index into the alphabet (modulo its size).
// Filters use kFilterLevels (a '#' ends the filter); topics kTopicLevels.
#include "broker/topic.h"
#include "broker/topic_tree.h"
#include "tests/topic_match_reference.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

using namespace duplex;

namespace {

const char* const kFilterLevels[] = {"a", "b", "", "$s", "+", "#", "a", "+"};
const char* const kTopicLevels[] = {"a", "b", "", "$s", "c"};
constexpr size_t kSubscribers = 4;

[[noreturn]] void fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "topic_tree_fuzz: %s: %s\n", what, detail.c_str());
    std::abort();
}

class NullSubscriber : public Subscriber {
  public:
    Outbox* deliver(const MessagePtr&, const Delivery&) override { return nullptr; }
};

using Key = std::pair<size_t, std::string>;  // subscriber index, filter

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    NullSubscriber subs[kSubscribers];
    auto index_of = [&](const Subscriber* s) {
        for (size_t k = 0; k < kSubscribers; ++k)
            if (s == &subs[k]) return k;
        fail("match visited an unknown subscriber", "");
    };
    TopicTree tree;
    std::map<Key, SubOptions> model;
    uint32_t op_no = 0;

    size_t i = 0;
    while (i < size) {
        uint8_t head = data[i++];
        unsigned kind = head & 3u;
        size_t sub = (head >> 2) & 3u;
        size_t levels = ((head >> 4) & 7u) + 1;
        std::string name;
        bool ended = false;  // a '#' was placed: it must be the last level
        for (size_t l = 0; l < levels && i < size; ++l) {
            uint8_t b = data[i++];
            if (ended) continue;  // the op's remaining level bytes are still consumed
            const char* level = kind == 3 ? kTopicLevels[b % std::size(kTopicLevels)]
                                          : kFilterLevels[b % std::size(kFilterLevels)];
            if (l) name += '/';
            name += level;
            ended = level[0] == '#';
        }
        ++op_no;
        // "" (one empty level, or no level byte left) is neither a topic nor a filter.
        if (name.empty()) continue;
        if (kind == 3) {
            if (!valid_topic_name(name)) fail("generated topic rejected by valid_topic_name", name);
            std::vector<std::pair<size_t, uint32_t>> got, want;
            tree.match(name, [&](Subscriber* s, const SubOptions& o) {
                got.emplace_back(index_of(s), o.subscription_id);
            });
            for (auto& [key, options] : model)
                if (test::reference_match(key.second, name)) want.emplace_back(key.first, options.subscription_id);
            std::sort(got.begin(), got.end());
            std::sort(want.begin(), want.end());
            if (got != want) {
                std::string d = "topic '" + name + "' visited " + std::to_string(got.size()) + ", expected " +
                                std::to_string(want.size()) + "; subscriptions:";
                for (auto& [key, options] : model)
                    d += " [" + std::to_string(key.first) + " '" + key.second + "' id " +
                         std::to_string(options.subscription_id) + "]";
                fail("match disagrees with the reference matcher", d);
            }
        } else {
            if (!valid_topic_filter(name)) fail("generated filter rejected by valid_topic_filter", name);
            Key key{sub, name};
            if (kind < 2) {
                SubOptions options;
                options.qos = static_cast<uint8_t>(op_no % 3);
                options.subscription_id = op_no;  // tells which subscribe the tree kept
                bool is_new = tree.subscribe(name, &subs[sub], options);
                bool model_new = model.insert_or_assign(key, options).second;
                if (is_new != model_new) fail("subscribe's 'new' result is wrong", name);
            } else {
                bool existed = tree.unsubscribe(name, &subs[sub]);
                if (existed != (model.erase(key) == 1)) fail("unsubscribe's 'existed' result is wrong", name);
            }
        }
        if (tree.subscription_count() != model.size())
            fail("subscription_count differs from the model", std::to_string(tree.subscription_count()) +
                                                                   " != " + std::to_string(model.size()));
    }

    // Tear down through the API: every remaining subscription goes, and then
    // no topic matches anything.
    for (auto& [key, options] : model)
        if (!tree.unsubscribe(key.second, &subs[key.first])) fail("final unsubscribe missed", key.second);
    if (tree.subscription_count() != 0) fail("subscriptions left after removing all", "");
    for (const char* t : {"a", "a/b", "$s/a", "", "/", "a//b"}) {
        std::string topic = t;
        if (topic.empty()) continue;
        tree.match(topic, [&](Subscriber*, const SubOptions&) { fail("match after removing all", topic); });
    }
    return 0;
}
