// The command registry: add/remove/list, "help", the unknown-command error,
// synchronous and asynchronous completion (from another thread, through the
// posting door), the timeout, and replies after the registry is gone.
#include "duplex/commands.h"

#include <doctest/doctest.h>

#include <deque>
#include <mutex>
#include <optional>
#include <thread>

using namespace duplex;

namespace {

// A stand-in for the loop: tasks posted from any thread wait here until the
// test runs them on its own thread, as the broker's loop would.
struct FakeLoop {
    std::mutex mutex;
    std::deque<std::function<void()>> tasks;
    int64_t now = 1000;
    std::thread::id loop_thread = std::this_thread::get_id();

    Commands::Post post() {
        return [this](std::function<void()> t) {
            if (std::this_thread::get_id() == loop_thread) {
                t();
                return;
            }
            std::lock_guard lock(mutex);
            tasks.push_back(std::move(t));
        };
    }
    Commands::Clock clock() {
        return [this] { return now; };
    }
    size_t run() {
        std::deque<std::function<void()>> ready;
        {
            std::lock_guard lock(mutex);
            ready.swap(tasks);
        }
        for (auto& t : ready) t();
        return ready.size();
    }
};

struct Capture {
    std::optional<CommandResult> result;
    int calls = 0;
    Commands::Done done() {
        return [this](const CommandResult& r) {
            result = r;
            ++calls;
        };
    }
};

}  // namespace

TEST_CASE("a synchronous handler completes inside execute") {
    Commands c;
    REQUIRE(c.add("echo", "returns its args", [](const CommandRequest& req, Reply r) { r.ok(req.args); }));
    Capture cap;
    c.execute("echo", R"({"a":[1,2]})", cap.done());
    REQUIRE(cap.result);
    CHECK(cap.result->ok);
    CHECK(cap.result->result == R"({"a":[1,2]})");
    CHECK(c.pending() == 0);
}

TEST_CASE("empty args become null; ok() without a value is null") {
    Commands c;
    std::string seen;
    c.add("x", "", [&](const CommandRequest& req, Reply r) {
        seen = req.args;
        r.ok();
    });
    Capture cap;
    c.execute("x", "", cap.done());
    CHECK(seen == "null");
    CHECK(cap.result->result == "null");
}

TEST_CASE("unknown command: the standard error, no observer call") {
    Commands c;
    int observed = 0;
    c.set_observer([&](const CommandRequest&, const CommandResult&) { ++observed; });
    Capture cap;
    c.execute("nope", "null", cap.done());
    REQUIRE(cap.result);
    CHECK_FALSE(cap.result->ok);
    CHECK(cap.result->error == "unknown command 'nope' (try 'help')");
    CHECK(cap.result->error == Commands::unknown_command_error("nope"));
    CHECK(observed == 0);
}

TEST_CASE("help lists every command with its description, itself included") {
    Commands c;
    c.add("on", "turn the LED on", [](const CommandRequest&, Reply r) { r.ok(); });
    Capture cap;
    c.execute("help", "null", cap.done());
    REQUIRE(cap.result);
    CHECK(cap.result->ok);
    CHECK(cap.result->result.find(R"("on":"turn the LED on")") != std::string::npos);
    CHECK(cap.result->result.find(R"("help":)") != std::string::npos);
    auto list = c.list();
    CHECK(list.size() == 2);
    CHECK(list.at("on") == "turn the LED on");
}

TEST_CASE("names are one topic level") {
    Commands c;
    auto h = [](const CommandRequest&, Reply r) { r.ok(); };
    CHECK_FALSE(c.add("", "", h));
    CHECK_FALSE(c.add("a/b", "", h));
    CHECK_FALSE(c.add("a+", "", h));
    CHECK_FALSE(c.add("#", "", h));
    CHECK_FALSE(c.add("two words", "", h));
    CHECK_FALSE(c.add(std::string(65, 'x'), "", h));
    CHECK_FALSE(c.add("ok", "", nullptr));
    CHECK(c.add("led-on_2", "", h));
    CHECK(c.has("led-on_2"));
    CHECK(c.remove("led-on_2"));
    CHECK_FALSE(c.has("led-on_2"));
    CHECK_FALSE(c.remove("led-on_2"));
}

TEST_CASE("the observer sees each completed command with its source") {
    Commands c;
    c.add("fail", "", [](const CommandRequest&, Reply r) { r.error("broken"); });
    std::vector<std::pair<std::string, CommandResult>> seen;
    c.set_observer([&](const CommandRequest& req, const CommandResult& r) { seen.emplace_back(req.source, r); });
    Capture cap;
    c.execute(CommandRequest{"fail", "null", "test"}, cap.done());
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].first == "test");
    CHECK(seen[0].second.error == "broken");
}

TEST_CASE("a handler that throws gets an error reply") {
    Commands c;
    c.add("boom", "", [](const CommandRequest&, Reply) { throw std::runtime_error("bad args"); });
    Capture cap;
    c.execute("boom", "null", cap.done());
    REQUIRE(cap.result);
    CHECK(cap.result->error == "command 'boom' failed: bad args");
}

TEST_CASE("a result that is not JSON becomes an error") {
    Commands c;
    c.add("bad", "", [](const CommandRequest&, Reply r) { r.ok("not json"); });
    Capture cap;
    c.execute("bad", "null", cap.done());
    CHECK_FALSE(cap.result->ok);
    CHECK(cap.result->error.find("not JSON") != std::string::npos);
}

TEST_CASE("asynchronous completion from another thread is posted to the loop") {
    FakeLoop loop;
    Commands c(loop.post(), loop.clock());
    std::optional<Reply> kept;
    c.add("later", "", [&](const CommandRequest&, Reply r) { kept = r; });
    Capture cap;
    c.execute("later", "null", cap.done());
    CHECK_FALSE(cap.result);
    CHECK(c.pending() == 1);

    bool first = false, second = true;
    std::thread t([&] {
        first = kept->ok("42");
        second = kept->ok("43");  // only the first completion counts
    });
    t.join();
    CHECK(first);
    CHECK_FALSE(second);
    CHECK_FALSE(cap.result);  // not until the loop runs the posted task
    CHECK(loop.run() == 1);
    REQUIRE(cap.result);
    CHECK(cap.result->result == "42");
    CHECK(cap.calls == 1);
    CHECK(c.pending() == 0);
}

TEST_CASE("timeout: an unanswered request fails once, late replies are ignored") {
    FakeLoop loop;
    Commands c(loop.post(), loop.clock());
    c.set_timeout_ms(5000);
    std::optional<Reply> kept;
    c.add("slow", "", [&](const CommandRequest&, Reply r) { kept = r; });
    Capture cap;
    c.execute("slow", "null", cap.done());
    loop.now += 4999;
    c.expire(loop.now);
    CHECK_FALSE(cap.result);
    loop.now += 1;
    c.expire(loop.now);
    REQUIRE(cap.result);
    CHECK(cap.result->error == "timeout: 'slow' did not reply within 5000 ms");
    CHECK(c.pending() == 0);
    CHECK(kept->done());
    CHECK_FALSE(kept->ok("1"));
    loop.run();
    c.expire(loop.now + 100000);
    CHECK(cap.calls == 1);
}

TEST_CASE("completion racing the timeout: exactly one result") {
    FakeLoop loop;
    Commands c(loop.post(), loop.clock());
    c.set_timeout_ms(10);
    std::optional<Reply> kept;
    c.add("race", "", [&](const CommandRequest&, Reply r) { kept = r; });
    Capture cap;
    c.execute("race", "null", cap.done());
    std::thread t([&] { kept->ok("true"); });
    c.expire(loop.now + 10);
    t.join();
    loop.run();
    CHECK(cap.calls == 1);
    CHECK(c.pending() == 0);
}

TEST_CASE("a reply completed after the registry is gone is dropped safely") {
    FakeLoop loop;
    std::optional<Reply> kept;
    Capture cap;
    {
        Commands c(loop.post(), loop.clock());
        c.add("orphan", "", [&](const CommandRequest&, Reply r) { kept = r; });
        c.execute("orphan", "null", cap.done());
    }
    std::thread t([&] { kept->ok(); });
    t.join();
    loop.run();
    CHECK_FALSE(cap.result);
}

TEST_CASE("a done callback may run another command (re-entry on the loop thread)") {
    Commands c;
    c.add("a", "", [](const CommandRequest&, Reply r) { r.ok("1"); });
    Capture inner;
    c.execute("a", "null", [&](const CommandResult&) { c.execute("a", "null", inner.done()); });
    REQUIRE(inner.result);
    CHECK(inner.result->result == "1");
}
