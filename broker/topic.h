// Topic names and topic filters, as MQTT defines them (MQTT 3.1.1 4.7,
// MQTT 5.0 4.7). STOMP destinations map onto the same names.
//
//   valid names:    "a/b", "/a", "a//b", "$SYS/x"  (no wildcards, not empty)
//   valid filters:  "#", "+", "a/+/c", "a/#", "+/+", "/#", "$SYS/#"
//   invalid:        "a/b#", "a/#/c", "a+", "" (empty), "#/a"
//
// Filters that start with a wildcard never match topics that start with '$'
// [MQTT-4.7.2-1].
#pragma once

#include "base/levels.h"

#include <string_view>

namespace duplex {

// A name a message can be published to: non-empty, no '+' or '#'. UTF-8
// validity is checked by the protocol codecs.
bool valid_topic_name(std::string_view name);

// A subscription filter: non-empty; '+' and '#' only as whole levels; '#'
// only as the last level.
bool valid_topic_filter(std::string_view filter);

bool has_wildcard(std::string_view filter);

// Whether topic name `name` matches filter `filter` (both valid), level by
// level without recursion or allocation. For the few checks that are not
// routing (topics the broker owns); routing uses the TopicTree.
bool topic_matches(std::string_view filter, std::string_view name);

// Number of levels of a topic name or filter: "a" 1, "a/b" 2, "/" 2.
size_t topic_levels(std::string_view topic);

// The level splitter (base/levels.h), under the name the tree uses.
using TopicLevels = Levels;

}  // namespace duplex
