// The simulated LED, choosing an LED from the config, and the LED commands.
#include "duplex/led.h"

#include "base/log.h"
#include "duplex/broker.h"
#include "duplex/commands.h"
#include "led/gpio_led.h"

#include <fmt/core.h>

#include <filesystem>

namespace duplex {

namespace {

class SimulatedLed final : public Led {
  public:
    std::string set(bool on) override {
        on_ = on;
        return {};
    }
    bool is_on() const override { return on_; }
    std::string describe() const override { return "simulated"; }

  private:
    bool on_ = false;
};

std::string chip_path(const std::string& chip) {
    return chip.find('/') == std::string::npos ? "/dev/" + chip : chip;
}

}  // namespace

bool have_gpio() { return DUPLEX_HAVE_GPIOD != 0; }

std::unique_ptr<Led> make_simulated_led() { return std::make_unique<SimulatedLed>(); }

std::unique_ptr<Led> open_led(const Config& config) {
    if (config.led == "off") return nullptr;
    if (config.led == "simulated") return make_simulated_led();
    if (config.led == "auto") {
        std::error_code ec;
        if (!have_gpio()) {
            log::info("led: simulated (built without libgpiod)");
            return make_simulated_led();
        }
        if (!std::filesystem::exists(chip_path(config.led_chip), ec)) {
            log::info("led: simulated ({} not found)", chip_path(config.led_chip));
            return make_simulated_led();
        }
    }
    return make_gpio_led(config.led_chip, config.led_line);
}

void add_led_commands(Broker& broker, std::shared_ptr<Led> led, std::string status_topic) {
    // Publishes the state (retained) after every command that set it, so the
    // retained status is the LED's even if a client once wrote another one
    // (the topic is reserved: clients may not, unless an ACL lets them).
    broker.reserve_topic(status_topic);
    struct State {
        Broker& broker;
        std::shared_ptr<Led> led;
        std::string topic;
        // Sets the LED and publishes the change; returns the error text.
        std::string apply(bool on) {
            if (std::string err = led->set(on); !err.empty()) return err;
            PublishOptions retained;
            retained.qos = 1;
            retained.retain = true;
            broker.publish(topic, on ? "on" : "off", std::move(retained));
            return {};
        }
    };
    auto state = std::make_shared<State>(State{broker, std::move(led), std::move(status_topic)});
    if (std::string err = state->apply(false); !err.empty()) log::warn("led: {}", err);

    auto command = [state](auto next_state) {
        return [state, next_state](const CommandRequest&, Reply reply) {
            bool want = next_state(state->led->is_on());
            if (std::string err = state->apply(want); !err.empty()) reply.error(err);
            else reply.ok_text(want ? "on" : "off");
        };
    };
    Commands& c = broker.commands();
    c.add("on", "turn the LED on", command([](bool) { return true; }));
    c.add("off", "turn the LED off", command([](bool) { return false; }));
    c.add("toggle", "switch the LED to the other state", command([](bool on) { return !on; }));
    // Setting the current state again checks that a GPIO line still answers.
    c.add("status", "the LED state: on or off", command([](bool on) { return on; }));
    log::info("led: commands on, off, toggle, status drive the {} LED; state retained on {}",
              state->led->describe(), state->topic);
}

}  // namespace duplex
