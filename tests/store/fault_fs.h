// An in-memory store::Fs that remembers, per file, what was synced and what
// was only written, so a test can cut the power (drop_unsynced()) and then
// recover; and that can make writes fail after a number of bytes (disk full,
// a torn write) or make fsync and truncate fail. The idea is google/leveldb's
// db/fault_injection_test.cc (an Env that drops unsynced data on reopen).
//
// Model: directory operations (create, rename, remove) are durable at once,
// as the POSIX implementation syncs the directory after each; file contents
// are durable up to the last sync(). Paths are plain strings; list() returns
// the names whose parent_dir() is `dir`.
//
// Lifetime: Files it hands out must not outlive it. Threading: one thread.
#pragma once

#include "store/file.h"

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace duplex::store::test {

class FaultInjectingFs final : public Fs {
  public:
    std::unique_ptr<File> create(const std::string& path, std::string& err) override;
    std::unique_ptr<File> open_append(const std::string& path, std::string& err) override;
    std::unique_ptr<ReadFile> open_read(const std::string& path, std::string& err) override;
    bool exists(const std::string& path) override { return files_.count(path) > 0; }
    bool rename(const std::string& from, const std::string& to, std::string& err) override;
    bool remove(const std::string& path, std::string& err) override;
    bool list(const std::string& dir, std::vector<std::string>& names, std::string& err) override;

    // Power loss: every file goes back to what it held at its last sync,
    // plus at most `keep_unsynced` bytes of what was appended after it (a
    // disk that wrote part of its cache before the power went).
    void drop_unsynced(size_t keep_unsynced = 0);
    // After `bytes` more bytes have been appended (over all files), appends
    // write only up to that budget and fail with ENOSPC's text.
    void fail_after_bytes(uint64_t bytes) { write_budget_ = bytes; }
    void no_write_faults() { write_budget_ = std::numeric_limits<uint64_t>::max(); }
    void fail_syncs(bool fail) { fail_syncs_ = fail; }
    void fail_truncates(bool fail) { fail_truncates_ = fail; }

    // Test access to contents: what a reader sees now, and what would be
    // left after drop_unsynced().
    std::vector<uint8_t> contents(const std::string& path) const;
    std::vector<uint8_t> synced_contents(const std::string& path) const;
    // Puts a file in place, as if written and synced.
    void put(const std::string& path, std::vector<uint8_t> bytes);
    uint64_t syncs() const { return syncs_; }
    uint64_t appends() const { return appends_; }

    struct Node {
        std::vector<uint8_t> data;    // what reads see
        std::vector<uint8_t> synced;  // what survives power loss
    };

  private:
    friend class FakeFile;
    std::map<std::string, std::shared_ptr<Node>> files_;
    uint64_t write_budget_ = std::numeric_limits<uint64_t>::max();
    bool fail_syncs_ = false;
    bool fail_truncates_ = false;
    uint64_t syncs_ = 0;
    uint64_t appends_ = 0;
};

}  // namespace duplex::store::test
