#include "common/testing/fault_env.h"

#include <filesystem>
#include <memory>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"

namespace hie::testing {
namespace {

leveldb::Status DiskFull(const std::string& name) {
  return leveldb::Status::IOError(name, "No space left on device (simulated)");
}

// Forwards to the real file and reports appends and syncs to the Env.
class TrackedFile final : public leveldb::WritableFile {
 public:
  TrackedFile(FaultInjectionEnv* env, std::string name, leveldb::WritableFile* target)
      : env_(env), name_(std::move(name)), target_(target) {}

  leveldb::Status Append(const leveldb::Slice& data) override {
    if (env_->filesystem_full()) return DiskFull(name_);
    leveldb::Status s = target_->Append(data);
    if (s.ok()) env_->Appended(name_, data.size());
    return s;
  }
  leveldb::Status Close() override { return target_->Close(); }
  leveldb::Status Flush() override {
    if (env_->filesystem_full()) return DiskFull(name_);
    return target_->Flush();
  }
  leveldb::Status Sync() override {
    if (env_->filesystem_full()) return DiskFull(name_);
    leveldb::Status s = target_->Sync();
    if (s.ok()) env_->Synced(name_);
    return s;
  }

 private:
  FaultInjectionEnv* const env_;
  const std::string name_;
  std::unique_ptr<leveldb::WritableFile> target_;
};

}  // namespace

FaultInjectionEnv::FaultInjectionEnv() : leveldb::EnvWrapper(leveldb::Env::Default()) {}

void FaultInjectionEnv::SetFilesystemFull(bool full) {
  absl::MutexLock lock(&mu_);
  full_ = full;
}

bool FaultInjectionEnv::filesystem_full() const {
  absl::MutexLock lock(&mu_);
  return full_;
}

uint64_t FaultInjectionEnv::UnsyncedBytes() const {
  absl::MutexLock lock(&mu_);
  uint64_t total = 0;
  for (const auto& [name, state] : files_) total += state.written - state.synced;
  return total;
}

leveldb::Status FaultInjectionEnv::NewWritableFile(const std::string& name,
                                                   leveldb::WritableFile** result) {
  if (filesystem_full()) return DiskFull(name);
  leveldb::WritableFile* file = nullptr;
  leveldb::Status s = target()->NewWritableFile(name, &file);
  if (!s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    files_[name] = FileState{};  // created (or truncated) empty
  }
  *result = new TrackedFile(this, name, file);
  return s;
}

leveldb::Status FaultInjectionEnv::NewAppendableFile(const std::string& name,
                                                     leveldb::WritableFile** result) {
  if (filesystem_full()) return DiskFull(name);
  uint64_t size = 0;
  bool existed = target()->GetFileSize(name, &size).ok();
  leveldb::WritableFile* file = nullptr;
  leveldb::Status s = target()->NewAppendableFile(name, &file);
  if (!s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    auto [it, inserted] = files_.try_emplace(name);
    if (inserted && existed) {
      // Written before this Env saw it: all of it counts as durable.
      it->second = FileState{.written = size, .synced = size, .ever_synced = true};
    }
  }
  *result = new TrackedFile(this, name, file);
  return s;
}

leveldb::Status FaultInjectionEnv::RemoveFile(const std::string& name) {
  leveldb::Status s = target()->RemoveFile(name);
  if (s.ok()) {
    absl::MutexLock lock(&mu_);
    files_.erase(name);
  }
  return s;
}

leveldb::Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  if (filesystem_full()) return DiskFull(to);
  leveldb::Status s = target()->RenameFile(from, to);
  if (s.ok()) {
    absl::MutexLock lock(&mu_);
    auto it = files_.find(from);
    if (it != files_.end()) {
      files_[to] = it->second;
      files_.erase(from);
    } else {
      files_.erase(to);  // an untracked file replaced it: whatever is there is durable
    }
  }
  return s;
}

void FaultInjectionEnv::Appended(const std::string& name, uint64_t bytes) {
  absl::MutexLock lock(&mu_);
  files_[name].written += bytes;
}

void FaultInjectionEnv::Synced(const std::string& name) {
  absl::MutexLock lock(&mu_);
  FileState& state = files_[name];
  state.synced = state.written;
  state.ever_synced = true;
}

absl::Status FaultInjectionEnv::DropUnsyncedData() {
  absl::MutexLock lock(&mu_);
  for (auto it = files_.begin(); it != files_.end();) {
    const std::string& name = it->first;
    FileState& state = it->second;
    std::error_code ec;
    if (!std::filesystem::exists(name, ec)) {
      it = files_.erase(it);
      continue;
    }
    if (!state.ever_synced) {
      // Its directory entry was never made durable either.
      std::filesystem::remove(name, ec);
      if (ec) return absl::InternalError(absl::StrCat("remove ", name, ": ", ec.message()));
      it = files_.erase(it);
      continue;
    }
    std::filesystem::resize_file(name, state.synced, ec);
    if (ec) return absl::InternalError(absl::StrCat("truncate ", name, ": ", ec.message()));
    state.written = state.synced;
    ++it;
  }
  return absl::OkStatus();
}

}  // namespace hie::testing
