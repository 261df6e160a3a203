// Built by tools/cross/build, never run: proves that the sysroot's libgpiod
// (C API, libgpiod 1.6 as in Debian 12 / Raspberry Pi OS bookworm; the one
// led/gpio_led.cc uses) compiles and links for the target. Drives BCM
// GPIO 17 as the LED would be driven.
#include <gpiod.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

int main() {
    gpiod_chip* chip = gpiod_chip_open_lookup("gpiochip0");
    if (!chip) {
        std::fprintf(stderr, "gpio: cannot open gpiochip0: %s\n", std::strerror(errno));
        return 1;
    }
    int rc = 1;
    if (gpiod_line* line = gpiod_chip_get_line(chip, 17)) {
        if (gpiod_line_request_output(line, "duplex-link-check", 0) == 0) {
            rc = gpiod_line_set_value(line, 1) == 0 && gpiod_line_set_value(line, 0) == 0 ? 0 : 1;
            gpiod_line_release(line);
        }
    }
    if (rc != 0) std::fprintf(stderr, "gpio: line 17: %s\n", std::strerror(errno));
    gpiod_chip_close(chip);
    return rc;
}
