// duplex::Led on a GPIO line through the libgpiod 1.6 C++ bindings
// (gpiod::chip, get_line, request as output). libgpiod 2.x has another API.
#include "broker/led/gpio_led.h"

#include "broker/log.h"

#include <fmt/core.h>

#if DUPLEX_HAVE_GPIOD
#include <gpiod.hpp>
#endif

namespace duplex {

#if DUPLEX_HAVE_GPIOD

namespace {

class GpioLed final : public Led {
  public:
    GpioLed(std::string chip, unsigned line) : chip_name_(std::move(chip)), offset_(line) {
        if (auto err = open(); !err.empty()) log::warn("led: {}", err);
    }
    ~GpioLed() override {
        try {
            if (line_ && line_.is_requested()) {
                line_.set_value(0);
                line_.release();
            }
        } catch (const std::exception&) {
        }
    }

    std::string set(bool on) override {
        if (auto err = open(); !err.empty()) return err;
        try {
            line_.set_value(on ? 1 : 0);
        } catch (const std::exception& e) {
            return fmt::format("gpio: cannot set {} line {}: {}", chip_name_, offset_, e.what());
        }
        on_ = on;
        return {};
    }
    bool is_on() const override { return on_; }
    std::string describe() const override { return fmt::format("gpio {} line {}", chip_name_, offset_); }

  private:
    // Opens chip and line unless already done. libgpiod reports errors as
    // std::system_error (errno text: no such file, permission denied, busy).
    std::string open() {
        if (line_ && line_.is_requested()) return {};
        try {
            chip_.open(chip_name_, gpiod::chip::OPEN_LOOKUP);
        } catch (const std::exception& e) {
            return fmt::format("gpio: cannot open {}: {}", chip_name_, e.what());
        }
        try {
            if (offset_ >= chip_.num_lines())
                return fmt::format("gpio: {} has {} lines, no line {}", chip_name_, chip_.num_lines(), offset_);
            line_ = chip_.get_line(offset_);
            line_.request({"duplex-led", gpiod::line_request::DIRECTION_OUTPUT, 0}, on_ ? 1 : 0);
        } catch (const std::exception& e) {
            line_ = gpiod::line();
            return fmt::format("gpio: cannot request {} line {} as output: {}", chip_name_, offset_, e.what());
        }
        log::info("led: driving {} line {}", chip_name_, offset_);
        return {};
    }

    std::string chip_name_;
    unsigned offset_;
    gpiod::chip chip_;
    gpiod::line line_;
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
        return "gpio: duplex was built without libgpiod (meson setup -Dgpio=enabled, apt install libgpiod-dev)";
    }
    bool is_on() const override { return false; }
    std::string describe() const override { return fmt::format("gpio {} line {} (unavailable)", chip_, line_); }

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
