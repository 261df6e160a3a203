// Client text made safe to print: in log lines (a newline in a client id
// once forged a whole log line) and in error texts sent back to a client
// (which must themselves be valid UTF-8). Valid UTF-8 stays as it is except
// control characters and backslash; everything else becomes \xNN, \n, \r,
// \t or \\. Long text is cut (with "...") so one client cannot make a log
// line megabytes long.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace duplex {

std::string printable(std::string_view text, size_t max_bytes = 256);

}  // namespace duplex
