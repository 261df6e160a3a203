// Choosing an LED from the config, on a machine without GPIO (CI): "auto"
// falls back to the simulated LED, "gpio" gives an LED whose every use
// reports the error instead of crashing.
#include "duplex/led.h"

#include <doctest/doctest.h>

using namespace duplex;

TEST_CASE("simulated LED remembers its state") {
    auto led = make_simulated_led();
    CHECK_FALSE(led->is_on());
    CHECK(led->set(true).empty());
    CHECK(led->is_on());
    CHECK(led->describe() == "simulated");
}

TEST_CASE("led modes") {
    Config c;
    c.led = "off";
    CHECK(open_led(c) == nullptr);
    c.led = "simulated";
    CHECK(open_led(c)->describe() == "simulated");
    c.led = "auto";
    c.led_chip = "duplex-test-no-such-chip";
    CHECK(open_led(c)->describe() == "simulated");
}

TEST_CASE("forced gpio on a missing chip: a clear error from every set, no crash") {
    Config c;
    c.led = "gpio";
    c.led_chip = "duplex-test-no-such-chip";
    auto led = open_led(c);
    REQUIRE(led);
    std::string err = led->set(true);
    CHECK(err.rfind("gpio: ", 0) == 0);
    if (have_gpio())
        CHECK(err.find("cannot open duplex-test-no-such-chip") != std::string::npos);
    else
        CHECK(err.find("built without libgpiod") != std::string::npos);
    CHECK_FALSE(led->is_on());
    CHECK(led->set(false) == err);  // retried, same answer
}
