// The key-value store every daemon keeps its state in: LevelDB behind a small
// interface, so that domain code can be tested against faults and never includes
// LevelDB itself.
//
// Durability: Put, Delete and Write are synced (LevelDB's log is fsync'ed) before they
// return OK. A caller that acknowledges work after one of them returns may rely on it
// surviving a crash or power loss.
#ifndef HIE_COMMON_STORE_KV_STORE_H_
#define HIE_COMMON_STORE_KV_STORE_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace leveldb {
class Env;
}  // namespace leveldb

namespace hie::store {

struct KvStoreOptions {
  // Create the store if the directory holds none.
  bool create_if_missing = true;
  // LevelDB block cache, bytes.
  size_t block_cache_bytes = 8 << 20;
  // LevelDB write buffer (memtable), bytes.
  size_t write_buffer_bytes = 4 << 20;
  // The file system LevelDB goes through; null means the real one. Tests pass an Env
  // that injects faults (common/testing/fault_env.h). Not owned; must outlive the store.
  leveldb::Env* env = nullptr;
};

// A set of changes applied atomically by KvStore::Write: all or none.
class WriteBatch {
 public:
  void Put(absl::string_view key, absl::string_view value) {
    ops_.push_back({std::string(key), std::string(value), false});
  }
  void Delete(absl::string_view key) { ops_.push_back({std::string(key), std::string(), true}); }
  size_t size() const { return ops_.size(); }
  bool empty() const { return ops_.empty(); }
  void Clear() { ops_.clear(); }

  struct Op {
    std::string key;
    std::string value;
    bool is_delete;
  };
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
};

// Called for each entry of a scan, in key order; return false to stop.
using ScanVisitor = std::function<bool(absl::string_view key, absl::string_view value)>;

// Thread-safe: any number of threads may read and write at once.
class KvStore {
 public:
  virtual ~KvStore() = default;

  // Opens (or creates) the store in `dir`. Only one process may have a store open.
  // Errors: FailedPrecondition if another process (or another KvStore in this one) has
  // the directory open; DataLoss if its files are corrupt; NotFound if it holds no
  // store and create_if_missing is false; Internal for other I/O errors.
  static absl::StatusOr<std::unique_ptr<KvStore>> Open(const std::string& dir,
                                                       const KvStoreOptions& options = {});

  // Errors: NotFound if `key` is absent; DataLoss on corruption.
  virtual absl::StatusOr<std::string> Get(absl::string_view key) const = 0;

  // Synced. Errors: Internal (I/O), DataLoss.
  virtual absl::Status Put(absl::string_view key, absl::string_view value) = 0;
  virtual absl::Status Delete(absl::string_view key) = 0;
  // Applies `batch` atomically and synced.
  virtual absl::Status Write(const WriteBatch& batch) = 0;

  // Group commit: applies `batch` atomically but without syncing. It is visible to reads
  // at once, but may be lost in a crash until a later Sync (or synced Write) returns;
  // nothing written this way may be acknowledged before then.
  virtual absl::Status WriteUnsynced(const WriteBatch& batch) = 0;
  // Makes every earlier write durable.
  virtual absl::Status Sync() = 0;

  // Visits every key in [start, end) in order; an empty `end` means no upper bound. The
  // scan sees one consistent snapshot. Errors: DataLoss on corruption.
  virtual absl::Status Scan(absl::string_view start, absl::string_view end,
                            const ScanVisitor& visit) const = 0;
  // Visits every key starting with `prefix`, in order.
  absl::Status ScanPrefix(absl::string_view prefix, const ScanVisitor& visit) const;

  // The last key starting with `prefix` and its value, or NotFound if there is none.
  virtual absl::StatusOr<std::pair<std::string, std::string>> LastWithPrefix(
      absl::string_view prefix) const = 0;

  // The directory the store lives in, for messages.
  virtual const std::string& dir() const = 0;
};

}  // namespace hie::store

#endif  // HIE_COMMON_STORE_KV_STORE_H_
