// The file layer the store writes through: a small interface (appendable
// file, sequential reader, a few directory operations) with one POSIX
// implementation, so tests can put a fault-injecting one underneath
// (tests/store/fault_fs.h: power loss drops what was not synced, writes fail
// after N bytes). The idea is google/leveldb's Env with its
// fault_injection_test; the interface is only what store/log.h needs.
//
// Durability, as the POSIX implementation gives it and the fake models it:
// - File::append() hands bytes to the kernel (write(2), O_APPEND): they
//   survive the process being killed (kill -9), not a power loss.
// - File::sync() is fsync(2): after it returns true the bytes survive power
//   loss. After it returns false the state of the file is unknown (the
//   kernel may have dropped the dirty pages, see PostgreSQL's "fsyncgate"):
//   callers must not retry and trust the result.
// - Fs::create(), rename() and remove() fsync the directory before they
//   return, so the name change itself survives power loss.
//
// Lifetime: a File or ReadFile owns its descriptor and closes it when
// destroyed; it must not outlive the Fs that made it. Threading: none
// inside; one thread per object (the store runs on the loop thread).
// Errors: functions return false (or null) and fill `err` with a text that
// names the path and the system error ("open data/x.log: Permission
// denied"); nothing throws.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace duplex::store {

// A file open for appending. Writes always go to the end.
class File {
  public:
    virtual ~File() = default;
    // Appends all of `bytes` (the POSIX implementation retries short writes
    // and EINTR). On false some prefix of `bytes` may have reached the file:
    // size() says how much, and the caller truncates back.
    virtual bool append(std::span<const uint8_t> bytes, std::string& err) = 0;
    virtual bool sync(std::string& err) = 0;
    // Cuts the file to `length` bytes (ftruncate(2)); not synced.
    virtual bool truncate(uint64_t length, std::string& err) = 0;
    // The length as this handle knows it: the length at open plus what was
    // appended (even by a failed append) minus truncation.
    virtual uint64_t size() const = 0;
};

// A file open for reading from its start.
class ReadFile {
  public:
    virtual ~ReadFile() = default;
    // Reads up to out.size() bytes into `out`; returns how many, 0 at the
    // end of the file, -1 on error (with `err`).
    virtual int64_t read(std::span<uint8_t> out, std::string& err) = 0;
    // The file's length when it was opened.
    virtual uint64_t size() const = 0;
};

class Fs {
  public:
    virtual ~Fs() = default;
    // A new, empty file; fails if `path` exists. The directory is synced.
    virtual std::unique_ptr<File> create(const std::string& path, std::string& err) = 0;
    // An existing file, for appending at its end.
    virtual std::unique_ptr<File> open_append(const std::string& path, std::string& err) = 0;
    virtual std::unique_ptr<ReadFile> open_read(const std::string& path, std::string& err) = 0;
    virtual bool exists(const std::string& path) = 0;
    // Atomically replaces `to` with `from`; the directory is synced.
    virtual bool rename(const std::string& from, const std::string& to, std::string& err) = 0;
    // The directory is synced.
    virtual bool remove(const std::string& path, std::string& err) = 0;
    // The names (not paths) in `dir`, without "." and "..", in no order.
    virtual bool list(const std::string& dir, std::vector<std::string>& names, std::string& err) = 0;
};

// The real file system. One process-wide instance; stateless, so any
// thread may use it (each File still belongs to one thread).
Fs& posix_fs();

// Reads the whole of `path` into `out`, refusing files longer than
// `max_bytes`. For small files (tests, golden files); the log reads in
// chunks (store/log.h).
bool read_file(Fs& fs, const std::string& path, std::vector<uint8_t>& out, std::string& err,
               uint64_t max_bytes = 64u << 20);

// The folder part of `path` ("." if it has none), for syncing it.
std::string parent_dir(const std::string& path);

}  // namespace duplex::store
