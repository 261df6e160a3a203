// The POSIX file layer and the log on a real file system, in a temporary
// folder that the test removes.
#include "store/file.h"
#include "store/log.h"
#include "tests/store/helpers.h"

#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

using namespace duplex::store;
using namespace duplex::store::test;

namespace {

// A fresh folder under $TMPDIR (or /tmp), removed with what is in it.
struct TempDir {
    std::string path;
    TempDir() {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/duplex-store-XXXXXX";
        std::vector<char> buf(pattern.begin(), pattern.end());
        buf.push_back('\0');
        REQUIRE(::mkdtemp(buf.data()));
        path = buf.data();
    }
    ~TempDir() {
        std::vector<std::string> names;
        std::string err;
        if (posix_fs().list(path, names, err))
            for (auto& n : names) posix_fs().remove(path + "/" + n, err);
        ::rmdir(path.c_str());
    }
};

}  // namespace

TEST_CASE("posix: create, append, sync, read back; create refuses an existing file") {
    TempDir dir;
    Fs& fs = posix_fs();
    std::string err, path = dir.path + "/f";
    auto f = fs.create(path, err);
    REQUIRE_MESSAGE(f, err);
    CHECK(f->size() == 0);
    REQUIRE(f->append(std::vector<uint8_t>{1, 2, 3}, err));
    REQUIRE(f->sync(err));
    CHECK(f->size() == 3);
    CHECK_FALSE(fs.create(path, err));
    CHECK(err.find("File exists") != std::string::npos);

    auto g = fs.open_append(path, err);
    REQUIRE(g);
    CHECK(g->size() == 3);
    REQUIRE(g->append(std::vector<uint8_t>{4}, err));
    REQUIRE(g->truncate(2, err));
    REQUIRE(g->append(std::vector<uint8_t>{9}, err));  // O_APPEND: at the new end
    std::vector<uint8_t> back;
    REQUIRE(read_file(fs, path, back, err));
    CHECK(back == std::vector<uint8_t>{1, 2, 9});
    CHECK_FALSE(read_file(fs, path, back, err, 2));

    REQUIRE(fs.rename(path, path + "2", err));
    CHECK_FALSE(fs.exists(path));
    std::vector<std::string> names;
    REQUIRE(fs.list(dir.path, names, err));
    CHECK(names == std::vector<std::string>{"f2"});
    CHECK_FALSE(fs.open_read(path, err));
    CHECK(err.find("No such file") != std::string::npos);
}

TEST_CASE("posix: a log written, torn, recovered and written again") {
    TempDir dir;
    Fs& fs = posix_fs();
    std::string err, path = dir.path + "/duplex.log";
    auto records = sample_records(30);
    auto w = LogWriter::create(fs, path, 3, err);
    REQUIRE_MESSAGE(w, err);
    for (auto& r : records) REQUIRE(w->add(r.type, r.payload, err));
    REQUIRE(w->commit(SyncMode::Always, err));
    uint64_t length = w->committed_length();
    w.reset();
    REQUIRE(::truncate(path.c_str(), off_t(length - 3)) == 0);  // the last record torn

    Recovered got = recover_all(fs, path, 1718000000);
    CHECK(got.rec.damage == Damage::Torn);
    records.pop_back();
    CHECK(got.records == records);
    CHECK(fs.exists(path + ".damaged-1718000000"));
    auto w2 = LogWriter::open(fs, path, got.rec, err);
    REQUIRE_MESSAGE(w2, err);
    REQUIRE(w2->add(5, std::vector<uint8_t>{5}, err));
    REQUIRE(w2->commit(SyncMode::Always, err));
    records.push_back({5, {5}});
    CHECK(recover_all(fs, path).records == records);
}
