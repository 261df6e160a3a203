// acl-check: what auth/acl answers for one ACL file, so a test can compare
// it with another broker (tests/integration/test_acl_mosquitto.py).
//
//   acl-check FILE USER CLIENT_ID TOPIC read|write|subscribe   prints allow or deny
//   acl-check FILE < cases     one "USER\tCLIENT_ID\tTOPIC\tACCESS" per line,
//                              one allow/deny line out per case
// USER empty = anonymous. Exit status: 0 answered, 1 the file did not
// load (its error on stderr), 2 bad usage or input.
#include "auth/acl.h"

#include <cstdio>
#include <iostream>
#include <string>

using duplex::auth::Acl;
using duplex::auth::AclAccess;

namespace {

bool parse_access(std::string_view word, AclAccess& out) {
    if (word == "read") {
        out = AclAccess::Read;
    } else if (word == "write") {
        out = AclAccess::Write;
    } else if (word == "subscribe") {
        out = AclAccess::Subscribe;
    } else {
        return false;
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2 && argc != 6) {
        std::fprintf(stderr, "usage: acl-check FILE [USER CLIENT_ID TOPIC read|write|subscribe]\n");
        return 2;
    }
    auto loaded = Acl::load(argv[1]);
    if (auto* error = std::get_if<std::string>(&loaded)) {
        std::fprintf(stderr, "acl-check: %s\n", error->c_str());
        return 1;
    }
    const Acl& acl = std::get<Acl>(loaded);
    AclAccess access;
    if (argc == 6) {
        if (!parse_access(argv[5], access)) {
            std::fprintf(stderr, "acl-check: unknown access '%s'\n", argv[5]);
            return 2;
        }
        std::puts(acl.allows(argv[2], argv[3], argv[4], access) ? "allow" : "deny");
        return 0;
    }
    std::string line;
    size_t n = 0;
    while (std::getline(std::cin, line)) {
        ++n;
        std::string_view rest = line, field[4];
        for (int i = 0; i < 3; ++i) {
            size_t tab = rest.find('\t');
            if (tab == std::string_view::npos) {
                std::fprintf(stderr, "acl-check: input line %zu: want 4 TAB-separated fields\n", n);
                return 2;
            }
            field[i] = rest.substr(0, tab);
            rest.remove_prefix(tab + 1);
        }
        field[3] = rest;
        if (!parse_access(field[3], access)) {
            std::fprintf(stderr, "acl-check: input line %zu: unknown access '%.*s'\n", n,
                         int(field[3].size()), field[3].data());
            return 2;
        }
        std::puts(acl.allows(field[0], field[1], field[2], access) ? "allow" : "deny");
    }
    return 0;
}
