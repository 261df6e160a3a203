// Commands: named request/response handlers that do not know the transport.
//
//   broker.commands().add("on", "turn the LED on", [&](const duplex::CommandRequest& req, duplex::Reply
//   reply) {
//       reply.ok("\"on\"");                    // a JSON value
//   });
//
// The same handler answers
//   - a plain WebSocket (no subprotocol) on the ws port: text "on" or JSON
//     {"id": 7, "command": "on", "args": {...}} -> {"id": 7, "ok": true, "result": ...};
//   - MQTT (5: Response Topic + Correlation Data; 3.1.1: "reply_to" in a JSON
//     payload, or the default reply topic) and STOMP (reply-to, correlation-id)
//     publishing to "<command_prefix>/<name>";
//   - in-process: broker.commands().execute("on", "null", callback).
//
// Arguments and results are JSON texts (a whole JSON value: "null", "\"on\"",
// "{\"ms\": 5}"), so a handler sees the same thing whatever carried the request.
//
// Threading: the registry lives on the broker's loop thread. add(), remove()
// and execute() are called there (or before the broker runs); handlers and
// `done` callbacks run there and must not block. A handler may keep its Reply
// and complete it later from any thread: the completion is posted to the loop.
// A request not completed within the timeout (Config::commands.command_timeout_ms,
// checked on the broker's 1 s tick) gets the error "timeout: ...". Only the first
// completion of a Reply counts; later ones are ignored.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace duplex {

struct CommandRequest {
    std::string name;
    std::string args = "null";  // a JSON value; "null" when none was given
    std::string source;         // "ws", "mqtt-stomp" (topic bridge), "in-process", ...
};

struct CommandResult {
    bool ok = false;
    std::string result = "null";  // a JSON value, when ok
    std::string error;            // human-readable, when !ok
};

namespace detail {
struct ReplyState;
struct CommandsDoor;
}  // namespace detail

// The handler's side of one request. Cheap to copy; every copy completes the
// same request. Thread-safe.
class Reply {
  public:
    explicit Reply(std::shared_ptr<detail::ReplyState> state) : state_(std::move(state)) {}
    // Success with a JSON value ("null" when omitted). Returns false if the
    // request was already completed (e.g. it timed out).
    bool ok(std::string json_result = "null") const;
    // Success with a string result (JSON-quoted for you).
    bool ok_text(std::string_view text) const;
    bool error(std::string message) const;
    bool done() const;

  private:
    bool complete(CommandResult result) const;
    std::shared_ptr<detail::ReplyState> state_;
};

using CommandHandler = std::function<void(const CommandRequest&, Reply)>;

class Commands {
  public:
    // Runs a task on the loop thread (at once when already there).
    using Post = std::function<void(std::function<void()>)>;
    // Monotonic milliseconds.
    using Clock = std::function<int64_t()>;
    using Done = std::function<void(const CommandResult&)>;
    using Observer = std::function<void(const CommandRequest&, const CommandResult&)>;

    // `post` defaults to running the task at once; `clock` to the steady clock.
    explicit Commands(Post post = {}, Clock clock = {});
    ~Commands();
    Commands(const Commands&) = delete;
    Commands& operator=(const Commands&) = delete;

    // Registers (or replaces) a command. `name` is one topic level: no '/',
    // '+', '#' or spaces. Returns false (and registers nothing) otherwise.
    bool add(std::string name, std::string description, CommandHandler handler);
    bool remove(std::string_view name);
    bool has(std::string_view name) const;
    // Name -> one-line description, sorted; includes the built-in "help".
    std::map<std::string, std::string> list() const;

    // Runs a command; `done` is called exactly once, on the loop thread (now,
    // if the handler completes synchronously). Unknown commands fail with
    // unknown_command_error().
    void execute(CommandRequest request, Done done);
    void execute(std::string name, std::string args_json, Done done) {
        execute(CommandRequest{std::move(name), std::move(args_json), "in-process"}, std::move(done));
    }

    // Requests still waiting for their handler.
    size_t pending() const { return pending_.size(); }
    // Fails requests older than the timeout. The broker calls it once a second.
    void expire(int64_t now_ms);
    void set_timeout_ms(int64_t ms) { timeout_ms_ = ms; }
    int64_t timeout_ms() const { return timeout_ms_; }

    // Called after every known command completes (the broker publishes each
    // result to the events topic). Not called for unknown commands.
    void set_observer(Observer observer) { observer_ = std::move(observer); }

    static std::string unknown_command_error(std::string_view name);

  private:
    struct Entry {
        std::string description;
        CommandHandler handler;
    };
    struct Pending {
        std::shared_ptr<detail::ReplyState> state;
        int64_t deadline_ms;
    };
    void help(Reply reply) const;

    Post post_;
    Clock clock_;
    int64_t timeout_ms_ = 5000;
    std::map<std::string, Entry, std::less<>> commands_;
    std::vector<Pending> pending_;
    Observer observer_;
    std::shared_ptr<detail::CommandsDoor> door_;
};

// JSON helpers for handlers and transports.
// Quotes `text` as a JSON string.
std::string json_quote(std::string_view text);
// True if `text` is exactly one JSON value.
bool is_json(std::string_view text);

}  // namespace duplex
