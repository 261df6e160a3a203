// An LED behind an interface: a libgpiod (1.6) output line, or a simulated
// LED for machines without GPIO (and for tests). The daemon drives one with
// the commands on / off / toggle / status; an embedding program can do the
// same with add_led_commands() or write its own commands around a Led.
//
// State: the retained message "led/status" holds "on" or "off" (plain text),
// so a subscriber that arrives later sees the current state at once.
//
// Threading: a Led is used from the broker's loop thread only (the commands
// run there). Setting a GPIO line is a short ioctl; it does not block.
#pragma once

#include "duplex/config.h"

#include <memory>
#include <string>

namespace duplex {

class Broker;

class Led {
  public:
    virtual ~Led() = default;
    // Switches the LED. Returns an error text (empty on success), e.g.
    // "gpio: cannot open gpiochip0: No such file or directory".
    virtual std::string set(bool on) = 0;
    virtual bool is_on() const = 0;
    // "simulated" or "gpio gpiochip0 line 17", for logs and status.
    virtual std::string describe() const = 0;
};

// An LED that only remembers its state.
std::unique_ptr<Led> make_simulated_led();

// The LED Config::led asks for:
//   "simulated" -> simulated;
//   "gpio"      -> libgpiod on led_chip/led_line. If the chip cannot be opened
//                  (missing, no permission, line busy, or duplex built without
//                  libgpiod) the LED still exists, every set() returns the error
//                  and retries opening, so commands reply with it;
//   "auto"      -> "gpio" if the chip exists (/dev/<led_chip>) and duplex was
//                  built with libgpiod, else "simulated";
//   "off"       -> nullptr.
std::unique_ptr<Led> open_led(const Config& config);

// True if this build can drive GPIO (meson option gpio found libgpiod).
bool have_gpio();

// Registers on, off, toggle and status on broker.commands(), each replying
// with the state ("on"/"off") or the GPIO error, and publishes the state as
// the retained message `status_topic` now and on every change.
void add_led_commands(Broker& broker, std::shared_ptr<Led> led, std::string status_topic = "led/status");

}  // namespace duplex
