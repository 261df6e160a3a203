// An LED you can switch from a browser, an MQTT client, a STOMP client or this
// program itself: duplex embedded in a program that owns the hardware.
//
//   duplex-led-example [ws-port] [--gpio CHIP LINE]
//
// See README.md in this folder.
#include <duplex/broker.h>
#include <duplex/led.h>

#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

int main(int argc, char** argv) {
    int ws_port = argc > 1 && argv[1][0] != '-' ? std::atoi(argv[1]) : 8080;

    // 1. The configuration: a struct with designated initializers. Fields left
    //    out keep their defaults (see duplex/config.h).
    duplex::Config config{
        .ws = {.enabled = true, .host = "127.0.0.1", .port = ws_port},  // page + WebSocket clients
        .mqtt = {.enabled = true, .host = "127.0.0.1", .port = 1883},
        .stomp = {.enabled = false},
        .web_root = "web",  // the demo page, from the source tree's root
        .commands = {.command_prefix = "duplex/cmd", .events_topic = "led/events", .command_timeout_ms = 2000},
        .led = "simulated",
    };
    for (int i = 1; i + 2 < argc; ++i)
        if (std::strcmp(argv[i], "--gpio") == 0) {
            config.led = "gpio";  // a missing chip or a busy line becomes each command's error reply
            config.led_chip = argv[i + 1];
            config.led_line = static_cast<unsigned>(std::atoi(argv[i + 2]));
        }

    // SIGINT/SIGTERM are taken by sigwait below: block them before any thread starts.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    try {
        duplex::Broker broker(config);

        // 2. The hardware, behind duplex::Led: a libgpiod line or a simulation.
        std::shared_ptr<duplex::Led> led = duplex::open_led(config);

        // 3. Commands. Each handler gets the request and a Reply; it may answer
        //    at once (as here) or keep the Reply and answer later from any thread.
        auto publish_state = [&broker, led] {
            duplex::PublishOptions retained{.qos = 1, .retain = true};
            broker.publish("led/status", led->is_on() ? "on" : "off", retained);
        };
        auto switch_to = [led, publish_state](bool on, duplex::Reply& reply) {
            if (std::string err = led->set(on); !err.empty()) return (void)reply.error(err);
            publish_state();
            reply.ok_text(on ? "on" : "off");
        };
        duplex::Commands& commands = broker.commands();
        commands.add("on", "turn the LED on",
                     [switch_to](const duplex::CommandRequest&, duplex::Reply reply) { switch_to(true, reply); });
        commands.add("off", "turn the LED off",
                     [switch_to](const duplex::CommandRequest&, duplex::Reply reply) { switch_to(false, reply); });
        commands.add("toggle", "switch the LED to the other state",
                     [switch_to, led](const duplex::CommandRequest&, duplex::Reply reply) {
                         switch_to(!led->is_on(), reply);
                     });
        commands.add("status", "the LED state: on or off",
                     [led](const duplex::CommandRequest&, duplex::Reply reply) {
                         reply.ok_text(led->is_on() ? "on" : "off");
                     });
        if (std::string err = led->set(false); err.empty())
            publish_state();
        else
            std::fprintf(stderr, "led: %s\n", err.c_str());

        // 4. An in-process subscriber: sees what every client publishes.
        broker.subscribe("led/#", [](const duplex::Message& m) {
            std::printf("[in-process] %s: %s\n", m.topic.c_str(), m.payload.c_str());
            std::fflush(stdout);
        });

        // 5. Serve on a thread of its own; this thread stays ours.
        broker.start();
        std::printf("LED example: open http://127.0.0.1:%d/  (mqtt on 127.0.0.1:%d)\n", broker.port("ws"),
                    broker.port("mqtt"));

        // 6. Run a command in-process, from this (non-loop) thread.
        broker.execute("status", "null", [](const duplex::CommandResult& r) {
            std::printf("[in-process] status -> %s\n", r.ok ? r.result.c_str() : r.error.c_str());
            std::fflush(stdout);
        });

        int sig = 0;
        sigwait(&signals, &sig);  // until Ctrl-C / SIGTERM
        broker.stop();            // thread-safe; joins the loop thread
    } catch (const std::exception& e) {
        std::fprintf(stderr, "duplex-led-example: %s\n", e.what());
        return 1;
    }
    return 0;
}
