// auth-passwd-check FILE USER PASSWORD: checks PASSWORD for USER in a
// password file with duplex::auth::PasswordFile. Exit 0 = Ok, 1 = wrong
// password or unknown user (printed), 2 = the file does not load or usage.
#include "auth/password_file.h"

#include <cstdio>

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: auth-passwd-check FILE USER PASSWORD\n");
        return 2;
    }
    auto loaded = duplex::auth::PasswordFile::load(argv[1]);
    if (auto* err = std::get_if<std::string>(&loaded)) {
        std::fprintf(stderr, "%s\n", err->c_str());
        return 2;
    }
    using Check = duplex::auth::PasswordFile::Check;
    switch (std::get<duplex::auth::PasswordFile>(loaded).check(argv[2], argv[3])) {
        case Check::Ok: std::puts("ok"); return 0;
        case Check::WrongPassword: std::puts("wrong password"); return 1;
        case Check::UnknownUser: std::puts("unknown user"); return 1;
    }
    return 2;
}
