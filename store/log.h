// The record log: an append-only file of checksummed records, written one
// batch per loop turn (group commit) and recovered up to the first damaged
// record. docs/persistence.md has the why and the loss windows.
//
// Format, version 1, every integer little-endian whatever the CPU (armhf and
// x86-64 read each other's files):
//   header (21 bytes)  "DPLXLOG" (7 bytes), u16 version = 1, u64 generation,
//                      u32 CRC-32 of the 17 bytes before it
//   record (9 + n)     u32 n = payload length, u32 CRC-32 of type and payload,
//                      u8 type (1..255; 0 is never written), n payload bytes
// A record is valid when all of it is there, n <= kMaxRecordBytes, type != 0
// and the CRC matches. Recovery keeps every record before the first invalid
// one and nothing after it, so what survives is always a prefix of what was
// written. A file whose header is invalid is set aside whole.
//
// Compatibility: a reader accepts exactly the versions it knows (1). A file
// of another version is treated like a bad header (set aside whole, never
// overwritten), so a downgrade loses nothing on disk but starts empty. A new
// version keeps the magic and the u16 version at the front.
//
// Lifetime: a LogWriter owns its File; the Fs it was made from must outlive
// it. Record payloads handed to a RecordFn are valid only during the call.
// Threading: none inside; one thread (the loop's). Errors: false plus an
// error text; nothing throws.
#pragma once

#include "store/file.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace duplex::store {

inline constexpr uint16_t kFormatVersion = 1;
inline constexpr size_t kHeaderBytes = 21;
inline constexpr size_t kRecordHeaderBytes = 9;
// The largest payload. Bigger than any message the broker accepts (its
// default max packet is 256 KiB; MQTT's absolute limit is 256 MiB, which a
// Pi cannot buffer anyway) and small enough that a damaged length field
// cannot make recovery allocate gigabytes.
inline constexpr uint32_t kMaxRecordBytes = 64u << 20;
// The most one turn may add before it commits: one write(2) of it must be
// possible on a 32-bit machine (size_t, ssize_t) with room to spare.
inline constexpr size_t kMaxBatchBytes = 256u << 20;
// Recovery reads this much per step, so its memory is bounded by
// max(kReadChunk, largest record) whatever the file's length.
inline constexpr size_t kReadChunk = 1u << 20;

// When a commit reaches the disk (docs/persistence.md has the loss windows).
enum class SyncMode {
    Always,    // fsync in every commit: nothing committed is lost on power loss
    Interval,  // no fsync in commit; the owner calls sync() on a timer
    Never,     // never fsync: safe against kill -9, not against power loss
};

// The header and one record as bytes (the writer, the golden-file generator
// and tests use these).
std::vector<uint8_t> encode_header(uint64_t generation);
void encode_record(uint8_t type, std::span<const uint8_t> payload, std::vector<uint8_t>& out);

// What recovery found.
enum class Damage {
    None,       // the whole file is valid
    Torn,       // it ends inside a record: a write cut short (power loss, disk full)
    Corrupt,    // a complete record is invalid (checksum, length, type): bit rot or a bug
    BadHeader,  // no valid header (empty, torn, other magic or version, checksum)
};
const char* damage_name(Damage damage);

struct Recovery {
    bool found = false;  // the file existed
    uint64_t generation = 0;
    uint64_t records = 0;      // valid records, delivered in order
    uint64_t file_length = 0;  // as it was opened
    uint64_t good_length = 0;  // header + valid records; 0 with a bad header
    Damage damage = Damage::None;
    std::string reason;  // what stopped the reading, with its offset; empty if None

    uint64_t dropped_bytes() const { return file_length - good_length; }
};

struct Record {
    uint8_t type;
    std::span<const uint8_t> payload;  // valid until the reader moves on
    uint64_t offset;                   // of the record's first byte in the file
};
using RecordFn = std::function<void(const Record&)>;
// Called after each chunk read: bytes read so far, file length.
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

// Reads a log in order, kReadChunk bytes at a time, and stops at the first
// invalid record. Call read_header() once, then next() until it returns
// something other than Step::Record.
class LogReader {
  public:
    // `file` must outlive the reader.
    explicit LogReader(ReadFile& file, ProgressFn progress = {});

    enum class Step { Record, End, Damaged, Error };
    // Record: the header is valid (it returns Record, not End). Damaged: see
    // reason(). Error: an I/O error, in `err`.
    Step read_header(std::string& err);
    Step next(Record& out, std::string& err);

    uint64_t generation() const { return generation_; }
    uint64_t good_length() const { return good_length_; }
    Damage damage() const { return damage_; }
    const std::string& reason() const { return reason_; }

  private:
    // Makes `n` bytes available at buf_[start_]; false at the end of the file
    // (fewer are there) or on an error (then io_error_ is set).
    bool fill(size_t n, std::string& err);
    Step damaged(Damage damage, std::string reason);

    ReadFile& file_;
    ProgressFn progress_;
    std::vector<uint8_t> buf_;
    size_t start_ = 0, end_ = 0;
    uint64_t read_ = 0;  // bytes read from the file so far
    bool io_error_ = false;
    uint64_t generation_ = 0;
    uint64_t good_length_ = 0;
    Damage damage_ = Damage::None;
    std::string reason_;
};

// Reads `path` without changing it: each valid record goes to `on_record`,
// `out` says what was found. A missing file is not an error (found = false).
// False only on an I/O error (not on damage), with `err`.
bool scan(Fs& fs, const std::string& path, const RecordFn& on_record, Recovery& out, std::string& err,
          const ProgressFn& progress = {});

// Deals with the damage `rec` (from scan) describes, so the log can be
// written again: with damaged records, copies the whole file to
// "<path>.damaged-<unix_time>" (synced) and truncates `path` to
// rec.good_length (synced); with a bad header, renames the file to that name
// (the caller then creates a new log). Never deletes anything. `line` gets
// one log line saying what was kept, what dropped, why, and where the damaged
// file is. Does nothing (true, empty line) if there is no damage.
bool set_aside(Fs& fs, const std::string& path, const Recovery& rec, int64_t unix_time, std::string& line,
               std::string& err);

// scan() then set_aside(): the whole start-up recovery of one log. `line`
// says what was found (also when the file was intact). False only on an I/O
// error; damage never fails it.
bool recover(Fs& fs, const std::string& path, const RecordFn& on_record, Recovery& out, std::string& line,
             std::string& err, int64_t unix_time, const ProgressFn& progress = {});

// Appends records to a log. add() buffers the records of the current loop
// turn; commit() writes them with one append (one write(2)) and, with
// SyncMode::Always, fsyncs. A record counts as committed only once the
// whole batch was written: a failed or short write is cut back to the last
// committed length and the batch stays pending for the next commit (or
// discard_pending()). If the cut-back or an fsync fails, the writer is
// broken: every later commit fails, and the owner recovers the file again
// before writing to it.
class LogWriter {
  public:
    // A new log at `path` (which must not exist): header written and synced.
    static std::unique_ptr<LogWriter> create(Fs& fs, const std::string& path, uint64_t generation,
                                             std::string& err);
    // An existing log after recover(): appends after rec.good_length, which
    // must be the file's length now.
    static std::unique_ptr<LogWriter> open(Fs& fs, const std::string& path, const Recovery& rec,
                                           std::string& err);

    // Buffers one record. Refuses type 0, payloads over kMaxRecordBytes and a
    // batch that would pass kMaxBatchBytes.
    bool add(uint8_t type, std::span<const uint8_t> payload, std::string& err);
    // Writes the pending batch (nothing to write is fine); syncs with Always
    // (also an earlier unsynced commit, if the batch is empty).
    bool commit(SyncMode mode, std::string& err);
    // fsync if anything was written since the last one (SyncMode::Interval's
    // timer calls this).
    bool sync(std::string& err);
    void discard_pending();

    uint64_t generation() const { return generation_; }
    uint64_t committed_length() const { return committed_; }
    size_t pending_records() const { return pending_records_; }
    size_t pending_bytes() const { return batch_.size(); }
    bool unsynced() const { return unsynced_; }
    // Why the writer is broken; empty if it is not.
    const std::string& broken() const { return broken_; }

    LogWriter(std::unique_ptr<File> file, std::string path, uint64_t generation);

  private:
    bool refuse_if_broken(std::string& err) const;

    std::unique_ptr<File> file_;
    std::string path_;
    uint64_t generation_;
    uint64_t committed_;
    std::vector<uint8_t> batch_;
    size_t pending_records_ = 0;
    bool unsynced_ = false;
    std::string broken_;
};

}  // namespace duplex::store
