// acl-bench: nanoseconds per auth::Acl check for a 100-rule file (2
// anonymous rules, 30 users with 3 rules each, one of them a deny, and 8
// patterns): the check the broker runs per delivered message under a
// wildcard subscription.
//
//   build/tools/bench/acl-bench [iterations per case, default 2000000]
//
// Prints one line per case, for Acl::allows(user, client, ...) and for an
// Acl::Client resolved once: the best of 5 runs (a shared machine is noisy;
// the minimum is the least disturbed). Not a test: nothing is asserted.
#include "auth/acl.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using duplex::auth::Acl;
using duplex::auth::AclAccess;

namespace {

std::string hundred_rules() {
    std::string text = "topic read public/#\ntopic write public/in\n";  // anonymous: 2
    for (int u = 0; u < 30; ++u) {                                      // 90
        text += "user user" + std::to_string(u) + "\n";
        text += "topic readwrite site" + std::to_string(u) + "/+/telemetry/#\n";
        text += "topic read shared/status/+\n";
        text += "topic deny site" + std::to_string(u) + "/secret/#\n";
    }
    // 8 patterns (2 deny): 100 rules in all.
    text +=
        "pattern readwrite users/%u/#\npattern write clients/%c/out\npattern read clients/%c/in/#\n"
        "pattern read devices/%u/%c/#\npattern read feeds/+/%u\npattern deny users/%u/locked/#\n"
        "pattern deny clients/%c/in/admin\npattern read $app/%u/#\n";
    return text;
}

struct Case {
    const char* name;
    const char* user;
    const char* client;
    const char* topic;
    AclAccess access;
};

volatile bool sink;

}  // namespace

int main(int argc, char** argv) {
    long iterations = argc > 1 ? std::atol(argv[1]) : 2000000;
    auto parsed = Acl::parse(hundred_rules());
    if (auto* error = std::get_if<std::string>(&parsed)) {
        std::fprintf(stderr, "acl-bench: %s\n", error->c_str());
        return 1;
    }
    const Acl& acl = std::get<Acl>(parsed);
    const std::vector<Case> cases = {
        {"user rule allows (Read)", "user17", "c17", "site17/a/telemetry/temp/1", AclAccess::Read},
        {"user deny (Read)", "user17", "c17", "site17/secret/x", AclAccess::Read},
        {"pattern %u allows (Read)", "user17", "c17", "users/user17/inbox/42", AclAccess::Read},
        {"pattern %c allows (Write)", "user17", "c17", "clients/c17/out", AclAccess::Write},
        {"nothing matches (Read)", "user17", "c17", "other/topic/with/levels", AclAccess::Read},
        {"unknown user, patterns only", "nobody", "c99", "users/nobody/x", AclAccess::Read},
        {"anonymous allows (Read)", "", "c1", "public/news/today", AclAccess::Read},
        {"subscribe filter covered", "user17", "c17", "site17/+/telemetry/#", AclAccess::Subscribe},
    };
    std::printf("acl-bench: %zu rules, ns per check, best of 5 x %ld checks\n", acl.rule_count(), iterations);
    std::printf("  %-30s %-6s %10s %14s\n", "case", "answer", "allows()", "Client::allows");
    auto best_of_5 = [&](auto&& check) {
        double best = 1e300;
        for (int run = 0; run < 5; ++run) {
            auto start = std::chrono::steady_clock::now();
            for (long i = 0; i < iterations; ++i) sink = check();
            double ns =
                std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
            if (ns < best) best = ns;
        }
        return best / double(iterations);
    };
    for (const Case& c : cases) {
        double by_name = best_of_5([&] { return acl.allows(c.user, c.client, c.topic, c.access); });
        bool answer = sink;
        Acl::Client client = acl.client(c.user, c.client);
        double resolved = best_of_5([&] { return client.allows(c.topic, c.access); });
        if (bool(sink) != answer) {
            std::fprintf(stderr, "acl-bench: Client and allows() disagree on %s\n", c.name);
            return 1;
        }
        std::printf("  %-30s %-6s %10.1f %14.1f\n", c.name, answer ? "allow" : "deny", by_name, resolved);
    }
    return 0;
}
