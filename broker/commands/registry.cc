// The command registry: names -> handlers, the built-in "help", the standard
// "unknown command" error, and completion of replies from any thread.
#include "duplex/commands.h"

#include "base/clock.h"
#include "base/json.h"

#include <fmt/core.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>

namespace duplex {

namespace detail {

// The way back into the registry from a handler's thread. Closed when the
// registry is destroyed, so late completions are dropped instead of touching
// freed memory. Recursive: a completion on the loop thread runs at once and
// may start further commands that complete synchronously.
struct CommandsDoor {
    std::recursive_mutex mutex;
    Commands::Post post;
    bool open = true;
};

struct ReplyState {
    std::atomic<bool> done{false};
    std::string name;  // for the timeout error
    std::shared_ptr<CommandsDoor> door;
    // Runs on the loop thread, door locked and open.
    std::function<void(CommandResult)> finish;
};

}  // namespace detail

namespace {
constexpr size_t kMaxNameLength = 64;

bool valid_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxNameLength) return false;
    return std::none_of(name.begin(), name.end(), [](char c) {
        return c == '/' || c == '+' || c == '#' || static_cast<unsigned char>(c) <= ' ' || c == 0x7f;
    });
}
}  // namespace

// --- Reply --------------------------------------------------------------

bool Reply::complete(CommandResult result) const {
    if (!state_ || state_->done.exchange(true)) return false;
    auto door = state_->door;
    std::lock_guard lock(door->mutex);
    if (!door->open) return true;
    auto task = [state = state_, result = std::move(result)]() mutable {
        std::lock_guard inner(state->door->mutex);
        if (state->door->open && state->finish) state->finish(std::move(result));
    };
    if (door->post) door->post(std::move(task));
    else task();
    return true;
}

bool Reply::ok(std::string json_result) const {
    if (json_result.empty()) json_result = "null";
    if (!is_json(json_result))
        return error(
            fmt::format("internal error: the handler's result is not JSON: {}", json_result.substr(0, 80)));
    return complete(CommandResult{.ok = true, .result = std::move(json_result), .error = {}});
}

bool Reply::ok_text(std::string_view text) const { return ok(json_quote(text)); }

bool Reply::error(std::string message) const {
    return complete(CommandResult{.ok = false, .result = "null", .error = std::move(message)});
}

bool Reply::done() const { return !state_ || state_->done.load(); }

// --- Commands -----------------------------------------------------------

Commands::Commands(Post post, Clock clock)
    : post_(std::move(post)), clock_(std::move(clock)), door_(std::make_shared<detail::CommandsDoor>()) {
    if (!clock_) clock_ = [] { return now_ms(); };
    door_->post = post_;
    add("help", "list the commands with a one-line description each",
        [this](const CommandRequest&, Reply reply) { help(reply); });
}

Commands::~Commands() {
    std::lock_guard lock(door_->mutex);
    door_->open = false;
    door_->post = nullptr;
}

bool Commands::add(std::string name, std::string description, CommandHandler handler) {
    if (!valid_name(name) || !handler) return false;
    commands_[std::move(name)] = Entry{std::move(description), std::move(handler)};
    return true;
}

bool Commands::remove(std::string_view name) {
    auto it = commands_.find(name);
    if (it == commands_.end()) return false;
    commands_.erase(it);
    return true;
}

bool Commands::has(std::string_view name) const { return commands_.find(name) != commands_.end(); }

std::map<std::string, std::string> Commands::list() const {
    std::map<std::string, std::string> out;
    for (auto& [name, e] : commands_) out.emplace(name, e.description);
    return out;
}

std::string Commands::unknown_command_error(std::string_view name) {
    return fmt::format("unknown command '{}' (try 'help')", name);
}

void Commands::help(Reply reply) const {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    for (auto& [name, e] : commands_) {
        w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
        w.String(e.description.data(), static_cast<rapidjson::SizeType>(e.description.size()));
    }
    w.EndObject();
    reply.ok(sb.GetString());
}

void Commands::execute(CommandRequest request, Done done) {
    auto it = commands_.find(request.name);
    if (it == commands_.end()) {
        if (done)
            done(CommandResult{.ok = false, .result = "null", .error = unknown_command_error(request.name)});
        return;
    }
    if (request.args.empty()) request.args = "null";

    auto state = std::make_shared<detail::ReplyState>();
    state->door = door_;
    state->name = request.name;
    auto req = std::make_shared<CommandRequest>(std::move(request));
    state->finish = [this, raw = state.get(), req, done = std::move(done)](CommandResult result) {
        auto p = std::find_if(pending_.begin(), pending_.end(),
                              [&](const Pending& x) { return x.state.get() == raw; });
        if (p != pending_.end()) {
            *p = std::move(pending_.back());
            pending_.pop_back();
        }
        // `this` may run further commands from these callbacks; the entry is
        // already gone, and nothing here touches it again.
        auto observer = observer_;
        if (done) done(result);
        if (observer) observer(*req, result);
    };
    pending_.push_back(Pending{state, clock_() + timeout_ms_});

    // A copy: the handler may remove or replace its own command.
    CommandHandler handler = it->second.handler;
    Reply reply(state);
    try {
        handler(*req, reply);
    } catch (const std::exception& e) {
        reply.error(fmt::format("command '{}' failed: {}", req->name, e.what()));
    }
}

void Commands::expire(int64_t now_ms) {
    std::vector<std::shared_ptr<detail::ReplyState>> expired;
    for (auto& p : pending_)
        if (p.deadline_ms <= now_ms) expired.push_back(p.state);
    for (auto& s : expired) {
        if (s->done.exchange(true)) continue;  // completed; its finish is on its way
        std::lock_guard lock(door_->mutex);
        s->finish(CommandResult{
            .ok = false,
            .result = "null",
            .error = fmt::format("timeout: '{}' did not reply within {} ms", s->name, timeout_ms_)});
    }
}

// --- JSON helpers -------------------------------------------------------

std::string json_quote(std::string_view text) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    return sb.GetString();
}

bool is_json(std::string_view text) {
    // The default flags refuse anything but whitespace after the value.
    rapidjson::Document d;
    return parse_json(text, d).empty();
}

}  // namespace duplex
