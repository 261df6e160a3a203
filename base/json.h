// JSON from clients (command requests, their args, bridge payloads) and from
// config files is parsed here and nowhere else: RapidJSON's iterative parser
// (no recursion per nesting level: ~120 KB of '[' used to overflow the stack
// of its default recursive parser) with a nesting bound, because the DOM
// that comes out is walked recursively later (the Writer that turns args
// back into text recurses once per level).
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace duplex {

// Deeper than any request or config we define (they use 2 or 3 levels),
// shallow enough that walking it recursively costs a few KiB of stack.
inline constexpr size_t kMaxJsonDepth = 64;

// Parses `text` into `doc`. Returns an empty string on success, else the
// error ("bad JSON at offset N: ...", "JSON nested deeper than 64 levels").
std::string parse_json(std::string_view text, rapidjson::Document& doc, size_t max_depth = kMaxJsonDepth);

}  // namespace duplex
