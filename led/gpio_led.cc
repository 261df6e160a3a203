// duplex::Led on a GPIO line through libgpiod 1.6's C API (gpiod_chip_open_lookup,
// gpiod_chip_get_line, gpiod_line_request_output). The C library needs only
// libc, so a statically linked daemon stays free of libstdc++.so (the C++
// bindings, libgpiodcxx, would pull it in). libgpiod 2.x has another API.
#include "led/gpio_led.h"

#include "base/log.h"

#include <fmt/core.h>

#if DUPLEX_HAVE_GPIOD
#include <gpiod.h>

#include <cerrno>
#include <system_error>
#endif

namespace duplex {

#if DUPLEX_HAVE_GPIOD

namespace {

// The text libgpiod's C++ bindings (1.6) put in their std::system_error:
// "<what>: <strerror(errno)>". Error texts stay what they were with libgpiodcxx.
std::string errno_text(const char* what, int err) {
    return fmt::format("{}: {}", what, std::system_category().message(err));
}

class GpioLed final : public Led {
  public:
    GpioLed(std::string chip, unsigned line) : chip_name_(std::move(chip)), offset_(line) {
        if (auto err = open(); !err.empty()) log::warn("led: {}", err);
    }
    ~GpioLed() override {
        if (line_ && gpiod_line_is_requested(line_)) {
            gpiod_line_set_value(line_, 0);
            gpiod_line_release(line_);
        }
        close();
    }
    GpioLed(const GpioLed&) = delete;
    GpioLed& operator=(const GpioLed&) = delete;

    std::string set(bool on) override {
        if (auto err = open(); !err.empty()) return err;
        if (gpiod_line_set_value(line_, on ? 1 : 0) != 0) {
            int err = errno;
            return fmt::format("gpio: cannot set {} line {}: {}", chip_name_, offset_,
                               errno_text("error setting GPIO line values", err));
        }
        on_ = on;
        return {};
    }
    bool is_on() const override { return on_; }
    std::string describe() const override { return fmt::format("gpio {} line {}", chip_name_, offset_); }

  private:
    // Opens chip and line unless already done (errno text on failure: no such
    // file, permission denied, busy). Every attempt starts from a fresh chip.
    std::string open() {
        if (line_ && gpiod_line_is_requested(line_)) return {};
        close();
        chip_ = gpiod_chip_open_lookup(chip_name_.c_str());
        if (!chip_) {
            int err = errno;
            return fmt::format("gpio: cannot open {}: {}", chip_name_,
                               errno_text(("cannot open GPIO device " + chip_name_).c_str(), err));
        }
        if (unsigned n = gpiod_chip_num_lines(chip_); offset_ >= n)
            return fmt::format("gpio: {} has {} lines, no line {}", chip_name_, n, offset_);
        line_ = gpiod_chip_get_line(chip_, offset_);
        if (!line_) {
            int err = errno;
            return fmt::format("gpio: cannot request {} line {} as output: {}", chip_name_, offset_,
                               errno_text("error getting GPIO line from chip", err));
        }
        if (gpiod_line_request_output(line_, "duplex-led", on_ ? 1 : 0) != 0) {
            int err = errno;
            line_ = nullptr;
            return fmt::format("gpio: cannot request {} line {} as output: {}", chip_name_, offset_,
                               errno_text("error requesting GPIO lines", err));
        }
        log::info("led: driving {} line {}", chip_name_, offset_);
        return {};
    }

    // Closing the chip also releases its lines; line handles belong to it.
    void close() {
        line_ = nullptr;
        if (chip_) gpiod_chip_close(chip_);
        chip_ = nullptr;
    }

    std::string chip_name_;
    unsigned offset_;
    gpiod_chip* chip_ = nullptr;
    gpiod_line* line_ = nullptr;
    bool on_ = false;
};

}  // namespace

std::unique_ptr<Led> make_gpio_led(std::string chip, unsigned line) {
    return std::make_unique<GpioLed>(std::move(chip), line);
}

#else  // !DUPLEX_HAVE_GPIOD

namespace {
// Stands in when duplex was built without libgpiod and "gpio" was asked for:
// every command replies with this error.
class NoGpioLed final : public Led {
  public:
    NoGpioLed(std::string chip, unsigned line) : chip_(std::move(chip)), line_(line) {}
    std::string set(bool) override {
        return "gpio: duplex was built without libgpiod (meson setup -Dgpio=enabled, apt install "
               "libgpiod-dev)";
    }
    bool is_on() const override { return false; }
    std::string describe() const override {
        return fmt::format("gpio {} line {} (unavailable)", chip_, line_);
    }

  private:
    std::string chip_;
    unsigned line_;
};
}  // namespace

std::unique_ptr<Led> make_gpio_led(std::string chip, unsigned line) {
    return std::make_unique<NoGpioLed>(std::move(chip), line);
}

#endif

}  // namespace duplex
