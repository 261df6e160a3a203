// Built by tools/cross/build, never run: proves that the sysroot's libgpiod
// C++ bindings (libgpiodcxx, libgpiod 1.6 API as in Debian 12 / Raspberry Pi
// OS bookworm) compile and link for the target. Drives BCM GPIO 17 as the
// LED would be driven.
#include <gpiod.hpp>

#include <cstdio>
#include <exception>

int main() {
    try {
        gpiod::chip chip("gpiochip0");
        gpiod::line line = chip.get_line(17);
        line.request({"duplex-link-check", gpiod::line_request::DIRECTION_OUTPUT, 0}, 0);
        line.set_value(1);
        line.set_value(0);
        line.release();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "gpio: %s\n", e.what());
        return 1;
    }
    return 0;
}
