// Integration-test fixture: runs the duplex daemon (or, for validating the
// tests themselves, a reference mosquitto broker) as a child process on
// ephemeral loopback ports.
//
// Environment:
//   DUPLEX_BIN        path of the duplex executable (set by meson).
//   DUPLEX_TEST_PEER  "mosquitto" runs /usr/sbin/mosquitto instead (reference
//                     broker, used to check that the tests are right); the
//                     duplex-specific log assertions are then skipped.
//   MOSQUITTO_BIN     optional path of mosquitto for that mode.
//
// The daemon's stderr/stdout is read on a thread, kept for assertions and
// echoed to our stderr prefixed with "[broker] ". Destruction sends SIGTERM,
// waits up to 5 s, then SIGKILLs; the child also gets PR_SET_PDEATHSIG so it
// never outlives the test process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace duplex_it {

struct BrokerOptions {
  // Listener kinds to open on 127.0.0.1:0 (ws, mqtt, stomp).
  std::vector<std::string> listeners{"ws", "mqtt"};
  // Kinds not listed are passed as "--<kind> off" (ws, mqtt, stomp).
  // Extra command-line arguments, e.g. {"--max-packet-size", "1024"}.
  // In mosquitto mode the known duplex limits are translated to the
  // equivalent mosquitto options.
  std::vector<std::string> extra_args;
  // The broker's ACL file (mosquitto syntax); empty = none. By default the
  // one Paho's interoperability tests expect of a broker: everything allowed
  // except subscribing to test/nosubscribe. So every Paho case runs with an
  // ACL loaded (and the per-delivery read checks that come with one).
  std::string acl = kInteropAcl;
  static constexpr const char* kInteropAcl =
      "topic readwrite #\n"
      "topic readwrite $app/#\n"
      "topic readwrite $share/#\n"
      "topic deny test/nosubscribe\n";
  // How long to wait for the listeners to come up.
  std::chrono::milliseconds startup_timeout{10000};
  // Echo broker output to our stderr.
  bool echo = true;
};

class BrokerProcess {
 public:
  explicit BrokerProcess(BrokerOptions opts = {});
  ~BrokerProcess();
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  // True when the reference broker (mosquitto) runs instead of duplex.
  static bool peer_mode();
  bool is_peer() const { return peer_; }

  // Port of a listener kind ("ws", "mqtt", "stomp"); throws if absent.
  int port(const std::string& kind) const;
  int mqtt_port() const { return port("mqtt"); }
  int ws_port() const { return port("ws"); }
  std::string tcp_uri() const;
  std::string ws_uri(const std::string& path = "/mqtt") const;

  // Log helpers (ECMAScript regex, searched in each line).
  bool log_contains(const std::string& regex) const;
  bool wait_for_log(const std::string& regex,
                    std::chrono::milliseconds timeout) const;
  std::vector<std::string> log_lines() const;

  bool running();
  pid_t pid() const { return pid_; }

  // SIGTERM, wait <= timeout, then SIGKILL. Returns the exit code if the
  // process exited normally, 128+signal if it was killed by a signal, or -1
  // if it had to be SIGKILLed after the timeout. Idempotent.
  int stop(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

 private:
  void spawn(const std::vector<std::string>& argv);
  void reader_loop(int fd);
  void wait_ready();
  std::vector<std::string> duplex_argv(const std::string& bin) const;
  std::vector<std::string> mosquitto_argv();

  BrokerOptions opts_;
  bool peer_ = false;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::thread reader_;
  std::string config_path_;
  std::string acl_path_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<std::string> lines_;
  bool eof_ = false;
  std::map<std::string, int> ports_;
};

// Returns a currently free loopback TCP port (bind to port 0 and close).
int pick_free_port();

}  // namespace duplex_it
