#include "broker_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace duplex_it {

namespace {

using Clock = std::chrono::steady_clock;

std::string getenv_str(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// Paho (C) honours these for WebSocket connections; make sure no proxy is
// used for loopback brokers, in this process and in the child.
struct ProxyUnsetter {
  ProxyUnsetter() {
    for (const char* v : {"http_proxy", "https_proxy", "HTTP_PROXY",
                          "HTTPS_PROXY", "all_proxy", "ALL_PROXY"})
      ::unsetenv(v);
  }
};
ProxyUnsetter g_proxy_unsetter;

}  // namespace

int pick_free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = 0;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    throw std::runtime_error("bind() failed");
  }
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  int port = ntohs(sa.sin_port);
  ::close(fd);
  return port;
}

bool BrokerProcess::peer_mode() {
  return getenv_str("DUPLEX_TEST_PEER") == "mosquitto";
}

BrokerProcess::BrokerProcess(BrokerOptions opts) : opts_(std::move(opts)) {
  peer_ = peer_mode();
  if (!opts_.acl.empty()) {
    char tmpl[] = "/tmp/duplex-it-acl-XXXXXX";
    int fd = ::mkstemp(tmpl);
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    bool ok = ::write(fd, opts_.acl.data(), opts_.acl.size()) ==
              static_cast<ssize_t>(opts_.acl.size());
    ::close(fd);
    acl_path_ = tmpl;
    if (!ok) throw std::runtime_error("writing the ACL file failed");
  }
  std::vector<std::string> argv;
  if (peer_) {
    argv = mosquitto_argv();
  } else {
    std::string bin = getenv_str("DUPLEX_BIN");
    if (bin.empty())
      throw std::runtime_error(
          "DUPLEX_BIN is not set (path of the duplex executable)");
    argv = duplex_argv(bin);
  }
  spawn(argv);
  try {
    wait_ready();
  } catch (...) {
    stop(std::chrono::milliseconds(2000));
    if (!acl_path_.empty()) ::unlink(acl_path_.c_str());
    if (!config_path_.empty()) ::unlink(config_path_.c_str());
    throw;
  }
}

BrokerProcess::~BrokerProcess() {
  int rc = stop();
  if (rc != 0)
    std::cerr << "[broker] warning: broker exit status " << rc << "\n";
  if (!config_path_.empty()) ::unlink(config_path_.c_str());
  if (!acl_path_.empty()) ::unlink(acl_path_.c_str());
}

std::vector<std::string> BrokerProcess::duplex_argv(
    const std::string& bin) const {
  std::vector<std::string> argv{bin};
  for (const auto& kind : opts_.listeners) {
    argv.push_back("--" + kind);
    argv.push_back("127.0.0.1:0");
  }
  // Listeners not asked for would bind their fixed default ports: disable.
  for (const char* kind : {"ws", "mqtt", "stomp"}) {
    bool wanted = false;
    for (const auto& k : opts_.listeners) wanted = wanted || k == kind;
    if (!wanted) {
      argv.push_back(std::string("--") + kind);
      argv.push_back("off");
    }
  }
  argv.push_back("--log-level");
  argv.push_back("debug");
  // The daemon's demo LED publishes a retained led/status; tests that want it
  // pass --led simulated (later flags win).
  argv.push_back("--led");
  argv.push_back("off");
  if (!acl_path_.empty()) {
    argv.push_back("--acl-file");
    argv.push_back(acl_path_);
  }
  for (const auto& a : opts_.extra_args) argv.push_back(a);
  return argv;
}

std::vector<std::string> BrokerProcess::mosquitto_argv() {
  std::string bin = getenv_str("MOSQUITTO_BIN");
  if (bin.empty()) bin = "/usr/sbin/mosquitto";

  std::ostringstream conf;
  conf << "per_listener_settings false\n"
       << "allow_anonymous true\n"
       << "persistence false\n"
       << "log_dest stderr\n"
       << "log_type all\n"
       << "connection_messages true\n";
  if (!acl_path_.empty()) conf << "acl_file " << acl_path_ << "\n";
  std::string max_connections;
  for (size_t i = 0; i + 1 < opts_.extra_args.size(); i += 2) {
    const std::string& k = opts_.extra_args[i];
    const std::string& v = opts_.extra_args[i + 1];
    if (k == "--max-packet-size")
      conf << "max_packet_size " << v << "\n";
    else if (k == "--max-inflight")
      conf << "max_inflight_messages " << v << "\n";
    else if (k == "--max-queued-messages")
      conf << "max_queued_messages " << v << "\n";
    else if (k == "--max-queued-bytes")
      conf << "max_queued_bytes " << v << "\n";
    else if (k == "--max-connections")
      max_connections = v;
    else
      std::cerr << "[broker] mosquitto mode ignores " << k << " " << v << "\n";
  }
  for (const auto& kind : opts_.listeners) {
    int p = pick_free_port();
    if (kind == "mqtt") {
      conf << "listener " << p << " 127.0.0.1\n";
    } else if (kind == "ws") {
      conf << "listener " << p << " 127.0.0.1\nprotocol websockets\n";
    } else {
      throw std::runtime_error("mosquitto mode has no listener kind " + kind);
    }
    if (!max_connections.empty())
      conf << "max_connections " << max_connections << "\n";
    ports_[kind] = p;
  }

  char tmpl[] = "/tmp/duplex-it-mosquitto-XXXXXX";
  int fd = ::mkstemp(tmpl);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  std::string s = conf.str();
  if (::write(fd, s.data(), s.size()) != static_cast<ssize_t>(s.size())) {
    ::close(fd);
    throw std::runtime_error("writing mosquitto config failed");
  }
  ::close(fd);
  config_path_ = tmpl;
  return {bin, "-c", config_path_};
}

void BrokerProcess::spawn(const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe2 failed");

  // Prepare everything before fork(): the parent is multi-threaded, so the
  // child may only call async-signal-safe functions.
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    if (devnull >= 0) ::close(devnull);
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::setpgid(0, 0);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    // Restore default signal dispositions/mask for the daemon.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    ::execv(argv[0], argv.data());
    const char msg[] = "exec of broker failed\n";
    ssize_t ignored = ::write(2, msg, sizeof msg - 1);
    (void)ignored;
    ::_exit(127);
  }
  ::close(fds[1]);
  if (devnull >= 0) ::close(devnull);
  pid_ = pid;
  std::string cmd;
  for (const auto& a : args) cmd += a + " ";
  if (opts_.echo) std::cerr << "[broker] started pid " << pid << ": " << cmd << "\n";
  int rfd = fds[0];
  reader_ = std::thread([this, rfd] { reader_loop(rfd); });
}

void BrokerProcess::reader_loop(int fd) {
  std::string buf;
  char chunk[4096];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
    size_t pos;
    while ((pos = buf.find('\n')) != std::string::npos) {
      std::string line = buf.substr(0, pos);
      buf.erase(0, pos + 1);
      if (opts_.echo) std::cerr << "[broker] " + line + "\n";
      std::lock_guard<std::mutex> lk(mu_);
      lines_.push_back(std::move(line));
      cv_.notify_all();
    }
  }
  ::close(fd);
  std::lock_guard<std::mutex> lk(mu_);
  if (!buf.empty()) lines_.push_back(buf);
  eof_ = true;
  cv_.notify_all();
}

void BrokerProcess::wait_ready() {
  const auto deadline = Clock::now() + opts_.startup_timeout;
  if (peer_) {
    // No probe connection (it upsets mosquitto's max_connections count):
    // mosquitto logs "... running" once all its listeners are up.
    if (!wait_for_log(R"(mosquitto version \S+ running)",
                      opts_.startup_timeout))
      throw std::runtime_error("mosquitto did not start listening");
    return;
  }
  static const std::regex re(R"(listening (\w+) ([0-9.]+):(\d+))");
  std::unique_lock<std::mutex> lk(mu_);
  size_t scanned = 0;
  for (;;) {
    for (; scanned < lines_.size(); ++scanned) {
      std::smatch m;
      if (std::regex_search(lines_[scanned], m, re))
        ports_[m[1].str()] = std::stoi(m[3].str());
    }
    bool all = true;
    for (const auto& k : opts_.listeners)
      if (!ports_.count(k)) all = false;
    if (all) return;
    if (eof_)
      throw std::runtime_error("broker exited before it was listening");
    if (cv_.wait_until(lk, deadline) == std::cv_status::timeout &&
        scanned == lines_.size())
      throw std::runtime_error(
          "timed out waiting for the broker's 'listening' lines");
  }
}

int BrokerProcess::port(const std::string& kind) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = ports_.find(kind);
  if (it == ports_.end())
    throw std::runtime_error("broker has no listener of kind " + kind);
  return it->second;
}

std::string BrokerProcess::tcp_uri() const {
  return "tcp://127.0.0.1:" + std::to_string(mqtt_port());
}

std::string BrokerProcess::ws_uri(const std::string& path) const {
  return "ws://127.0.0.1:" + std::to_string(ws_port()) + path;
}

bool BrokerProcess::log_contains(const std::string& regex) const {
  std::regex re(regex);
  std::lock_guard<std::mutex> lk(mu_);
  for (const auto& l : lines_)
    if (std::regex_search(l, re)) return true;
  return false;
}

bool BrokerProcess::wait_for_log(const std::string& regex,
                                 std::chrono::milliseconds timeout) const {
  std::regex re(regex);
  const auto deadline = Clock::now() + timeout;
  std::unique_lock<std::mutex> lk(mu_);
  size_t scanned = 0;
  for (;;) {
    for (; scanned < lines_.size(); ++scanned)
      if (std::regex_search(lines_[scanned], re)) return true;
    if (eof_) return false;
    if (cv_.wait_until(lk, deadline) == std::cv_status::timeout &&
        scanned == lines_.size())
      return false;
  }
}

std::vector<std::string> BrokerProcess::log_lines() const {
  std::lock_guard<std::mutex> lk(mu_);
  return lines_;
}

bool BrokerProcess::running() {
  if (pid_ <= 0 || exit_code_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status)
                                   : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

int BrokerProcess::stop(std::chrono::milliseconds timeout) {
  if (pid_ > 0 && !exit_code_) {
    if (running()) {
      ::kill(pid_, SIGTERM);
      const auto deadline = Clock::now() + timeout;
      while (running() && Clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (!exit_code_) {
        std::cerr << "[broker] did not exit within timeout after SIGTERM; "
                     "sending SIGKILL\n";
        ::kill(pid_, SIGKILL);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        // mosquitto (reference broker) occasionally ignores a SIGTERM that
        // arrives right after start-up; exit-status checks are about duplex.
        exit_code_ = peer_ ? 0 : -1;
      }
    }
  }
  if (reader_.joinable()) reader_.join();
  return exit_code_.value_or(0);
}

}  // namespace duplex_it
