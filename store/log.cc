// The record log: encoding, the chunked reader, recovery and the writer.
#include "store/log.h"

#include <fmt/core.h>
#include <zlib.h>

#include <cstring>

namespace duplex::store {

namespace {

constexpr char kMagic[7] = {'D', 'P', 'L', 'X', 'L', 'O', 'G'};

// zlib's CRC-32 (the IEEE/zip polynomial) is enough here: the checksum is
// against accidents, not attackers (torn writes, zero-filled or stale blocks
// after power loss, bit rot on SD cards), and CRC-32 catches every single-bit
// error, every burst of up to 32 bits and all but 1 in 2^32 other damage.
// zlib is on every target already (libwebsockets links it) and table-driven
// fast enough for a broker's write rate; CRC-32C's hardware instructions
// would only matter at rates a Pi's storage cannot sustain.
uint32_t crc32_of(uint32_t crc, const uint8_t* data, size_t size) {
    uLong c = crc;
    while (size > 0) {  // zlib's length is a uInt
        uInt step = uInt(size > (1u << 30) ? (1u << 30) : size);
        c = ::crc32(c, data, step);
        data += step;
        size -= step;
    }
    return uint32_t(c);
}

uint32_t record_crc(uint8_t type, std::span<const uint8_t> payload) {
    uint32_t c = crc32_of(0, &type, 1);
    return crc32_of(c, payload.data(), payload.size());
}

void put_u16(std::vector<uint8_t>& out, uint16_t v) {
    out.push_back(uint8_t(v));
    out.push_back(uint8_t(v >> 8));
}
void put_u32(std::vector<uint8_t>& out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(uint8_t(v >> (8 * i)));
}
void put_u64(std::vector<uint8_t>& out, uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(uint8_t(v >> (8 * i)));
}
uint16_t get_u16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
uint32_t get_u32(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint64_t get_u64(const uint8_t* p) { return uint64_t(get_u32(p)) | uint64_t(get_u32(p + 4)) << 32; }

std::string bytes_text(uint64_t n) { return n == 1 ? "1 byte" : fmt::format("{} bytes", n); }
std::string records_text(uint64_t n) { return n == 1 ? "1 record" : fmt::format("{} records", n); }

// A name beside `path` that does not exist yet: "<path>.damaged-<time>",
// then "-2", "-3"... if recovery ran twice in one second.
std::string aside_name(Fs& fs, const std::string& path, int64_t unix_time) {
    std::string base = fmt::format("{}.damaged-{}", path, unix_time);
    std::string name = base;
    for (int i = 2; fs.exists(name); ++i) name = fmt::format("{}-{}", base, i);
    return name;
}

// Copies the whole of `from` to the new file `to` and syncs it.
bool copy_file(Fs& fs, const std::string& from, const std::string& to, std::string& err) {
    auto in = fs.open_read(from, err);
    if (!in) return false;
    auto out = fs.create(to, err);
    if (!out) return false;
    std::vector<uint8_t> buf(kReadChunk);
    for (;;) {
        int64_t n = in->read(buf, err);
        if (n < 0) return false;
        if (n == 0) break;
        if (!out->append(std::span(buf).first(size_t(n)), err)) return false;
    }
    return out->sync(err);
}

}  // namespace

std::vector<uint8_t> encode_header(uint64_t generation) {
    std::vector<uint8_t> out(kMagic, kMagic + sizeof kMagic);
    put_u16(out, kFormatVersion);
    put_u64(out, generation);
    put_u32(out, crc32_of(0, out.data(), out.size()));
    return out;
}

void encode_record(uint8_t type, std::span<const uint8_t> payload, std::vector<uint8_t>& out) {
    put_u32(out, uint32_t(payload.size()));
    put_u32(out, record_crc(type, payload));
    out.push_back(type);
    out.insert(out.end(), payload.begin(), payload.end());
}

const char* damage_name(Damage damage) {
    switch (damage) {
        case Damage::None:
            return "none";
        case Damage::Torn:
            return "torn";
        case Damage::Corrupt:
            return "corrupt";
        case Damage::BadHeader:
            return "bad header";
    }
    return "?";
}

// --- LogReader

LogReader::LogReader(ReadFile& file, ProgressFn progress) : file_(file), progress_(std::move(progress)) {}

bool LogReader::fill(size_t n, std::string& err) {
    while (end_ - start_ < n) {
        if (start_ > 0) {  // keep the unread part at the front
            std::memmove(buf_.data(), buf_.data() + start_, end_ - start_);
            end_ -= start_;
            start_ = 0;
        }
        // Room for the wanted bytes and at least one chunk more: a record of
        // up to kMaxRecordBytes grows the buffer to its size, no further.
        size_t want = std::max(n, kReadChunk);
        if (buf_.size() < want) buf_.resize(want);
        int64_t got = file_.read(std::span(buf_).subspan(end_), err);
        if (got < 0) {
            io_error_ = true;
            return false;
        }
        if (got == 0) return false;
        end_ += size_t(got);
        read_ += uint64_t(got);
        if (progress_) progress_(read_, file_.size());
    }
    return true;
}

LogReader::Step LogReader::damaged(Damage damage, std::string reason) {
    damage_ = damage;
    reason_ = std::move(reason);
    return Step::Damaged;
}

LogReader::Step LogReader::read_header(std::string& err) {
    if (!fill(kHeaderBytes, err)) {
        if (io_error_) return Step::Error;
        size_t have = end_ - start_;
        if (have >= sizeof kMagic && std::memcmp(buf_.data(), kMagic, sizeof kMagic) != 0)
            return damaged(Damage::BadHeader, "not a duplex log (bad magic)");
        return damaged(Damage::BadHeader,
                       have == 0 ? std::string("empty file")
                                 : fmt::format("torn header ({} of {} bytes)", have, kHeaderBytes));
    }
    const uint8_t* p = buf_.data() + start_;
    if (std::memcmp(p, kMagic, sizeof kMagic) != 0)
        return damaged(Damage::BadHeader, "not a duplex log (bad magic)");
    uint16_t version = get_u16(p + 7);
    if (version != kFormatVersion)
        return damaged(Damage::BadHeader, fmt::format("format version {} (this build reads version {})",
                                                      version, kFormatVersion));
    if (get_u32(p + 17) != crc32_of(0, p, 17)) return damaged(Damage::BadHeader, "header checksum mismatch");
    generation_ = get_u64(p + 9);
    start_ += kHeaderBytes;
    good_length_ = kHeaderBytes;
    return Step::Record;
}

LogReader::Step LogReader::next(Record& out, std::string& err) {
    uint64_t at = good_length_;
    if (!fill(kRecordHeaderBytes, err)) {
        if (io_error_) return Step::Error;
        size_t have = end_ - start_;
        if (have == 0) return Step::End;
        return damaged(Damage::Torn, fmt::format("torn record header at offset {} ({} of {} bytes)", at, have,
                                                 kRecordHeaderBytes));
    }
    const uint8_t* p = buf_.data() + start_;
    uint32_t length = get_u32(p);
    uint32_t crc = get_u32(p + 4);
    uint8_t type = p[8];
    if (length > kMaxRecordBytes)
        return damaged(Damage::Corrupt, fmt::format("record at offset {}: length {} over the limit of {}", at,
                                                    length, kMaxRecordBytes));
    if (type == 0) {
        if (length == 0 && crc == 0)
            return damaged(Damage::Corrupt, fmt::format("zero-filled from offset {}", at));
        return damaged(Damage::Corrupt, fmt::format("record at offset {}: type 0 (never written)", at));
    }
    size_t total = kRecordHeaderBytes + length;
    if (!fill(total, err)) {
        if (io_error_) return Step::Error;
        return damaged(Damage::Torn,
                       fmt::format("torn record at offset {} ({} of {} bytes)", at, end_ - start_, total));
    }
    p = buf_.data() + start_;  // fill() may have moved the buffer
    std::span<const uint8_t> payload(p + kRecordHeaderBytes, length);
    if (record_crc(type, payload) != crc)
        return damaged(Damage::Corrupt, fmt::format("record at offset {}: checksum mismatch", at));
    out = Record{type, payload, at};
    start_ += total;
    good_length_ += total;
    return Step::Record;
}

// --- recovery

bool scan(Fs& fs, const std::string& path, const RecordFn& on_record, Recovery& out, std::string& err,
          const ProgressFn& progress) {
    out = Recovery{};
    if (!fs.exists(path)) return true;
    auto file = fs.open_read(path, err);
    if (!file) return false;
    out.found = true;
    out.file_length = file->size();
    LogReader reader(*file, progress);
    LogReader::Step step = reader.read_header(err);
    if (step == LogReader::Step::Record) {
        out.generation = reader.generation();
        Record record{};
        while ((step = reader.next(record, err)) == LogReader::Step::Record) {
            ++out.records;
            if (on_record) on_record(record);
        }
    }
    if (step == LogReader::Step::Error) return false;
    out.good_length = reader.good_length();
    out.damage = reader.damage();
    out.reason = reader.reason();
    // The file grew while it was read (nobody should be writing it): what was
    // read counts, the rest is not ours to judge.
    if (out.good_length > out.file_length) out.file_length = out.good_length;
    return true;
}

bool set_aside(Fs& fs, const std::string& path, const Recovery& rec, int64_t unix_time, std::string& line,
               std::string& err) {
    line.clear();
    if (!rec.found || rec.damage == Damage::None) return true;
    std::string aside = aside_name(fs, path, unix_time);
    if (rec.damage == Damage::BadHeader) {
        if (!fs.rename(path, aside, err)) return false;
        line =
            fmt::format("store: {}: {}; the whole file ({}) is set aside as {}; starting with an empty log",
                        path, rec.reason, bytes_text(rec.file_length), aside);
        return true;
    }
    if (!copy_file(fs, path, aside, err)) return false;
    auto file = fs.open_append(path, err);
    if (!file || !file->truncate(rec.good_length, err) || !file->sync(err)) return false;
    line = fmt::format("store: {}: {}; kept {} ({}), dropped {}; the damaged file is kept as {}", path,
                       rec.reason, records_text(rec.records), bytes_text(rec.good_length),
                       bytes_text(rec.dropped_bytes()), aside);
    return true;
}

bool recover(Fs& fs, const std::string& path, const RecordFn& on_record, Recovery& out, std::string& line,
             std::string& err, int64_t unix_time, const ProgressFn& progress) {
    line.clear();
    if (!scan(fs, path, on_record, out, err, progress)) return false;
    if (!out.found) {
        line = fmt::format("store: {}: no log yet", path);
        return true;
    }
    if (out.damage == Damage::None) {
        line = fmt::format("store: {}: {} ({}), generation {}", path, records_text(out.records),
                           bytes_text(out.good_length), out.generation);
        return true;
    }
    return set_aside(fs, path, out, unix_time, line, err);
}

// --- LogWriter

LogWriter::LogWriter(std::unique_ptr<File> file, std::string path, uint64_t generation)
    : file_(std::move(file)), path_(std::move(path)), generation_(generation), committed_(file_->size()) {}

std::unique_ptr<LogWriter> LogWriter::create(Fs& fs, const std::string& path, uint64_t generation,
                                             std::string& err) {
    auto file = fs.create(path, err);
    if (!file) return nullptr;
    std::vector<uint8_t> header = encode_header(generation);
    if (!file->append(header, err) || !file->sync(err)) return nullptr;
    return std::make_unique<LogWriter>(std::move(file), path, generation);
}

std::unique_ptr<LogWriter> LogWriter::open(Fs& fs, const std::string& path, const Recovery& rec,
                                           std::string& err) {
    if (!rec.found || rec.damage == Damage::BadHeader) {
        err = "open " + path + ": no valid log to append to (create a new one)";
        return nullptr;
    }
    auto file = fs.open_append(path, err);
    if (!file) return nullptr;
    if (file->size() != rec.good_length) {
        err = fmt::format("open {}: {} long, recovery left {}: recover it again", path,
                          bytes_text(file->size()), bytes_text(rec.good_length));
        return nullptr;
    }
    return std::make_unique<LogWriter>(std::move(file), path, rec.generation);
}

bool LogWriter::refuse_if_broken(std::string& err) const {
    if (broken_.empty()) return false;
    err = broken_;
    return true;
}

bool LogWriter::add(uint8_t type, std::span<const uint8_t> payload, std::string& err) {
    if (type == 0) {
        err = "record type 0 is reserved";
        return false;
    }
    if (payload.size() > kMaxRecordBytes) {
        err = fmt::format("record of {} over the limit of {}", bytes_text(payload.size()),
                          bytes_text(kMaxRecordBytes));
        return false;
    }
    if (batch_.size() + kRecordHeaderBytes + payload.size() > kMaxBatchBytes) {
        err = fmt::format("this turn's batch would pass {}: commit first", bytes_text(kMaxBatchBytes));
        return false;
    }
    encode_record(type, payload, batch_);
    ++pending_records_;
    return true;
}

bool LogWriter::commit(SyncMode mode, std::string& err) {
    if (refuse_if_broken(err)) return false;
    if (!batch_.empty()) {
        if (!file_->append(batch_, err)) {
            // Part of the batch may be in the file: cut it off, or the next
            // commit would append after a torn record and recovery would
            // stop there, dropping everything after it.
            std::string cut_err;
            if (file_->size() != committed_ && !file_->truncate(committed_, cut_err)) {
                broken_ = fmt::format("{}: {}; cutting back to {} failed: {}", path_, err,
                                      bytes_text(committed_), cut_err);
                err = broken_;
                return false;
            }
            err = fmt::format("{}: {}; nothing of this batch was committed", path_, err);
            return false;
        }
        committed_ = file_->size();
        batch_.clear();
        pending_records_ = 0;
        unsynced_ = true;
    }
    if (mode == SyncMode::Always) return sync(err);
    return true;
}

bool LogWriter::sync(std::string& err) {
    if (refuse_if_broken(err)) return false;
    if (!unsynced_) return true;
    if (!file_->sync(err)) {
        // After a failed fsync the kernel may have dropped the dirty pages
        // and will not report it again: what is on disk is unknown.
        broken_ = fmt::format("{}: {}; the log must be recovered before it is written again", path_, err);
        err = broken_;
        return false;
    }
    unsynced_ = false;
    return true;
}

void LogWriter::discard_pending() {
    batch_.clear();
    pending_records_ = 0;
}

}  // namespace duplex::store
