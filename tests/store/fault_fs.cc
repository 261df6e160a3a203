// The fault-injecting in-memory file system (fault_fs.h).
#include "tests/store/fault_fs.h"

#include <algorithm>
#include <cstring>

namespace duplex::store::test {

namespace {

bool fail(std::string& err, const char* what, const std::string& path, const char* why) {
    err = std::string(what) + " " + path + ": " + why;
    return false;
}

}  // namespace

class FakeFile final : public File {
  public:
    FakeFile(FaultInjectingFs& fs, std::shared_ptr<FaultInjectingFs::Node> node, std::string path)
        : fs_(fs), node_(std::move(node)), path_(std::move(path)) {}

    bool append(std::span<const uint8_t> bytes, std::string& err) override {
        ++fs_.appends_;
        size_t n = size_t(std::min<uint64_t>(bytes.size(), fs_.write_budget_));
        node_->data.insert(node_->data.end(), bytes.begin(), bytes.begin() + n);
        fs_.write_budget_ -= n;
        if (n < bytes.size()) return fail(err, "write", path_, "No space left on device (injected)");
        return true;
    }
    bool sync(std::string& err) override {
        ++fs_.syncs_;
        if (fs_.fail_syncs_) return fail(err, "fsync", path_, "Input/output error (injected)");
        node_->synced = node_->data;
        return true;
    }
    bool truncate(uint64_t length, std::string& err) override {
        if (fs_.fail_truncates_) return fail(err, "truncate", path_, "Input/output error (injected)");
        if (length < node_->data.size()) node_->data.resize(size_t(length));
        return true;
    }
    uint64_t size() const override { return node_->data.size(); }

  private:
    FaultInjectingFs& fs_;
    std::shared_ptr<FaultInjectingFs::Node> node_;
    std::string path_;
};

namespace {

// Reads a snapshot taken at open, like a descriptor reading a file nobody
// writes.
class FakeReadFile final : public ReadFile {
  public:
    explicit FakeReadFile(std::vector<uint8_t> data) : data_(std::move(data)) {}
    int64_t read(std::span<uint8_t> out, std::string&) override {
        size_t n = std::min(out.size(), data_.size() - pos_);
        if (n) std::memcpy(out.data(), data_.data() + pos_, n);
        pos_ += n;
        return int64_t(n);
    }
    uint64_t size() const override { return data_.size(); }

  private:
    std::vector<uint8_t> data_;
    size_t pos_ = 0;
};

}  // namespace

std::unique_ptr<File> FaultInjectingFs::create(const std::string& path, std::string& err) {
    if (files_.count(path)) {
        fail(err, "open", path, "File exists");
        return nullptr;
    }
    auto node = std::make_shared<Node>();
    files_[path] = node;
    return std::make_unique<FakeFile>(*this, node, path);
}

std::unique_ptr<File> FaultInjectingFs::open_append(const std::string& path, std::string& err) {
    auto it = files_.find(path);
    if (it == files_.end()) {
        fail(err, "open", path, "No such file or directory");
        return nullptr;
    }
    return std::make_unique<FakeFile>(*this, it->second, path);
}

std::unique_ptr<ReadFile> FaultInjectingFs::open_read(const std::string& path, std::string& err) {
    auto it = files_.find(path);
    if (it == files_.end()) {
        fail(err, "open", path, "No such file or directory");
        return nullptr;
    }
    return std::make_unique<FakeReadFile>(it->second->data);
}

bool FaultInjectingFs::rename(const std::string& from, const std::string& to, std::string& err) {
    auto it = files_.find(from);
    if (it == files_.end()) return fail(err, "rename", from, "No such file or directory");
    auto node = it->second;
    files_.erase(it);
    files_[to] = node;
    return true;
}

bool FaultInjectingFs::remove(const std::string& path, std::string& err) {
    if (!files_.erase(path)) return fail(err, "remove", path, "No such file or directory");
    return true;
}

bool FaultInjectingFs::list(const std::string& dir, std::vector<std::string>& names, std::string&) {
    names.clear();
    for (auto& [path, node] : files_)
        if (parent_dir(path) == dir) names.push_back(path.substr(dir == "." ? 0 : dir.size() + 1));
    return true;
}

void FaultInjectingFs::drop_unsynced(size_t keep_unsynced) {
    for (auto& [path, node] : files_) {
        std::vector<uint8_t> kept = node->synced;
        bool extends =
            node->data.size() > kept.size() && std::equal(kept.begin(), kept.end(), node->data.begin());
        if (extends) {
            size_t n = std::min(keep_unsynced, node->data.size() - kept.size());
            kept.insert(kept.end(), node->data.begin() + kept.size(), node->data.begin() + kept.size() + n);
        }
        node->data = kept;
        node->synced = std::move(kept);
    }
}

std::vector<uint8_t> FaultInjectingFs::contents(const std::string& path) const {
    auto it = files_.find(path);
    return it == files_.end() ? std::vector<uint8_t>{} : it->second->data;
}

std::vector<uint8_t> FaultInjectingFs::synced_contents(const std::string& path) const {
    auto it = files_.find(path);
    return it == files_.end() ? std::vector<uint8_t>{} : it->second->synced;
}

void FaultInjectingFs::put(const std::string& path, std::vector<uint8_t> bytes) {
    auto node = std::make_shared<Node>();
    node->data = bytes;
    node->synced = std::move(bytes);
    files_[path] = node;
}

}  // namespace duplex::store::test
