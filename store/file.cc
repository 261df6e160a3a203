// The POSIX file layer: O_APPEND|O_CLOEXEC files, fsync(2), and an fsync of
// the directory after every create, rename and remove.
#include "store/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace duplex::store {

// On 32-bit ARM (armhf) off_t is 32 bits unless _FILE_OFFSET_BITS=64, and a
// log past 2 GiB would fail with EFBIG. Meson defines it for every target;
// this keeps it true if the build ever changes.
static_assert(sizeof(off_t) == 8, "build with -D_FILE_OFFSET_BITS=64");

namespace {

bool fail(std::string& err, const char* what, const std::string& path) {
    err = std::string(what) + " " + path + ": " + std::strerror(errno);
    return false;
}

// Opens and fsyncs a directory, so a name created, renamed or removed in it
// survives power loss (a file's fsync does not cover its directory entry).
bool sync_dir(const std::string& dir, std::string& err) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return fail(err, "open directory", dir);
    bool ok = ::fsync(fd) == 0;
    if (!ok) fail(err, "fsync directory", dir);
    ::close(fd);
    return ok;
}

class PosixFile final : public File {
  public:
    PosixFile(int fd, std::string path, uint64_t size) : fd_(fd), path_(std::move(path)), size_(size) {}
    ~PosixFile() override { ::close(fd_); }

    bool append(std::span<const uint8_t> bytes, std::string& err) override {
        while (!bytes.empty()) {
            ssize_t n = ::write(fd_, bytes.data(), bytes.size());
            if (n < 0) {
                if (errno == EINTR) continue;
                return fail(err, "write", path_);
            }
            size_ += uint64_t(n);
            bytes = bytes.subspan(size_t(n));
        }
        return true;
    }
    bool sync(std::string& err) override { return ::fsync(fd_) == 0 || fail(err, "fsync", path_); }
    bool truncate(uint64_t length, std::string& err) override {
        if (::ftruncate(fd_, off_t(length)) != 0) return fail(err, "truncate", path_);
        size_ = length;
        return true;
    }
    uint64_t size() const override { return size_; }

  private:
    int fd_;
    std::string path_;
    uint64_t size_;
};

class PosixReadFile final : public ReadFile {
  public:
    PosixReadFile(int fd, std::string path, uint64_t size) : fd_(fd), path_(std::move(path)), size_(size) {}
    ~PosixReadFile() override { ::close(fd_); }

    int64_t read(std::span<uint8_t> out, std::string& err) override {
        for (;;) {
            ssize_t n = ::read(fd_, out.data(), out.size());
            if (n >= 0) return n;
            if (errno != EINTR) {
                fail(err, "read", path_);
                return -1;
            }
        }
    }
    uint64_t size() const override { return size_; }

  private:
    int fd_;
    std::string path_;
    uint64_t size_;
};

// Opens `path` with `flags` and wraps it; `T` is PosixFile or PosixReadFile.
template <class T>
std::unique_ptr<T> open_as(const std::string& path, int flags, std::string& err) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
    if (fd < 0) {
        fail(err, "open", path);
        return nullptr;
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
        fail(err, "stat", path);
        ::close(fd);
        return nullptr;
    }
    return std::make_unique<T>(fd, path, uint64_t(st.st_size));
}

class PosixFs final : public Fs {
  public:
    std::unique_ptr<File> create(const std::string& path, std::string& err) override {
        auto file = open_as<PosixFile>(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL, err);
        if (file && !sync_dir(parent_dir(path), err)) return nullptr;
        return file;
    }
    std::unique_ptr<File> open_append(const std::string& path, std::string& err) override {
        return open_as<PosixFile>(path, O_WRONLY | O_APPEND, err);
    }
    std::unique_ptr<ReadFile> open_read(const std::string& path, std::string& err) override {
        return open_as<PosixReadFile>(path, O_RDONLY, err);
    }
    bool exists(const std::string& path) override {
        struct stat st;
        return ::stat(path.c_str(), &st) == 0;
    }
    bool rename(const std::string& from, const std::string& to, std::string& err) override {
        if (::rename(from.c_str(), to.c_str()) != 0) return fail(err, "rename", from + " to " + to);
        return sync_dir(parent_dir(to), err) &&
               (parent_dir(from) == parent_dir(to) || sync_dir(parent_dir(from), err));
    }
    bool remove(const std::string& path, std::string& err) override {
        if (::unlink(path.c_str()) != 0) return fail(err, "remove", path);
        return sync_dir(parent_dir(path), err);
    }
    bool list(const std::string& dir, std::vector<std::string>& names, std::string& err) override {
        DIR* d = ::opendir(dir.c_str());
        if (!d) return fail(err, "open directory", dir);
        names.clear();
        while (dirent* e = ::readdir(d)) {
            std::string name = e->d_name;
            if (name != "." && name != "..") names.push_back(std::move(name));
        }
        ::closedir(d);
        return true;
    }
};

}  // namespace

Fs& posix_fs() {
    static PosixFs fs;
    return fs;
}

bool read_file(Fs& fs, const std::string& path, std::vector<uint8_t>& out, std::string& err,
               uint64_t max_bytes) {
    auto file = fs.open_read(path, err);
    if (!file) return false;
    if (file->size() > max_bytes) {
        err = "read " + path + ": " + std::to_string(file->size()) + " bytes, more than the limit of " +
              std::to_string(max_bytes);
        return false;
    }
    out.resize(size_t(file->size()));
    size_t have = 0;
    for (;;) {
        if (have == out.size()) out.resize(have + 4096);  // the file grew since it was opened
        int64_t n = file->read(std::span(out).subspan(have), err);
        if (n < 0) return false;
        if (n == 0) break;
        have += size_t(n);
        if (have > max_bytes) {
            err = "read " + path + ": more than the limit of " + std::to_string(max_bytes) + " bytes";
            return false;
        }
    }
    out.resize(have);
    return true;
}

std::string parent_dir(const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

}  // namespace duplex::store
