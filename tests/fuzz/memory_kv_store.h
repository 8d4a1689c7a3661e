// An in-memory KvStore for fuzz targets: the same contract as the LevelDB store, with
// no files, so that a target can run a domain component over thousands of inputs a
// second. Nothing is durable; Sync does nothing. Thread-safe.
#ifndef HIE_TESTS_FUZZ_MEMORY_KV_STORE_H_
#define HIE_TESTS_FUZZ_MEMORY_KV_STORE_H_

#include <map>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/store/kv_store.h"

namespace hie::fuzz {

class MemoryKvStore final : public store::KvStore {
 public:
  absl::StatusOr<std::string> Get(absl::string_view key) const override {
    absl::MutexLock lock(&mu_);
    auto it = map_.find(std::string(key));
    if (it == map_.end()) return absl::NotFoundError("no such key");
    return it->second;
  }
  absl::Status Put(absl::string_view key, absl::string_view value) override {
    absl::MutexLock lock(&mu_);
    map_[std::string(key)] = std::string(value);
    return absl::OkStatus();
  }
  absl::Status Delete(absl::string_view key) override {
    absl::MutexLock lock(&mu_);
    map_.erase(std::string(key));
    return absl::OkStatus();
  }
  absl::Status Write(const store::WriteBatch& batch) override { return WriteUnsynced(batch); }
  absl::Status WriteUnsynced(const store::WriteBatch& batch) override {
    absl::MutexLock lock(&mu_);
    for (const auto& op : batch.ops()) {
      if (op.is_delete) {
        map_.erase(op.key);
      } else {
        map_[op.key] = op.value;
      }
    }
    return absl::OkStatus();
  }
  absl::Status Sync() override { return absl::OkStatus(); }
  absl::Status Scan(absl::string_view start, absl::string_view end,
                    const store::ScanVisitor& visit) const override {
    std::map<std::string, std::string> snapshot;
    {
      absl::MutexLock lock(&mu_);
      snapshot = map_;
    }
    for (auto it = snapshot.lower_bound(std::string(start)); it != snapshot.end(); ++it) {
      if (!end.empty() && it->first >= end) break;
      if (!visit(it->first, it->second)) break;
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::pair<std::string, std::string>> LastWithPrefix(
      absl::string_view prefix) const override {
    absl::MutexLock lock(&mu_);
    std::pair<std::string, std::string> last;
    bool found = false;
    for (auto it = map_.lower_bound(std::string(prefix));
         it != map_.end() && it->first.compare(0, prefix.size(), prefix.data(), prefix.size()) == 0;
         ++it) {
      last = *it;
      found = true;
    }
    if (!found) return absl::NotFoundError("no key with that prefix");
    return last;
  }
  const std::string& dir() const override { return dir_; }

  // Every key and value, for targets that tamper with what a component stored.
  std::map<std::string, std::string> Contents() const {
    absl::MutexLock lock(&mu_);
    return map_;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::string> map_ ABSL_GUARDED_BY(mu_);
  const std::string dir_ = "(memory)";
};

}  // namespace hie::fuzz

#endif  // HIE_TESTS_FUZZ_MEMORY_KV_STORE_H_
