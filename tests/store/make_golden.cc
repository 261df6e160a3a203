// `store-make-golden DIR`: writes the golden logs (golden_logs.h) into DIR.
// Run it only when the format changes on purpose (a new version), and say
// so in docs/persistence.md:
//   build/tests/store/store-make-golden tests/store/golden
#include "tests/store/golden_logs.h"

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    for (auto& [name, data] : duplex::store::test::golden_logs()) {
        std::string path = std::string(argv[1]) + "/" + name;
        std::FILE* f = std::fopen(path.c_str(), "wb");
        if (!f || std::fwrite(data.data(), 1, data.size(), f) != data.size() || std::fclose(f) != 0) {
            std::perror(path.c_str());
            return 1;
        }
        std::printf("%s: %zu bytes\n", path.c_str(), data.size());
    }
    return 0;
}
