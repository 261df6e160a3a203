// The libgpiod (1.6, C API) implementation of duplex::Led (compiled when
// DUPLEX_HAVE_GPIOD; otherwise a stand-in that reports the missing support).
#pragma once

#include "duplex/led.h"

#include <memory>
#include <string>

namespace duplex {

// Opens `chip` and requests `line` as an output (initially off). Never
// throws: a failure is kept and returned by set(), which retries opening.
std::unique_ptr<Led> make_gpio_led(std::string chip, unsigned line);

}  // namespace duplex
