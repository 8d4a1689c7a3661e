#include "common/store/kv_store.h"

#include <algorithm>
#include <atomic>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status/status_macros.h"
#include "common/store/key_codec.h"
#include "leveldb/cache.h"
#include "leveldb/db.h"
#include "leveldb/env.h"
#include "leveldb/write_batch.h"

namespace hie::store {
namespace {

leveldb::Slice ToSlice(absl::string_view s) { return leveldb::Slice(s.data(), s.size()); }
absl::string_view ToView(const leveldb::Slice& s) { return absl::string_view(s.data(), s.size()); }

// The one place LevelDB's status becomes ours.
absl::Status FromLevelDb(const leveldb::Status& s, const std::string& dir) {
  if (s.ok()) return absl::OkStatus();
  std::string text = s.ToString();
  if (s.IsNotFound()) return absl::NotFoundError(text);
  if (s.IsCorruption()) {
    return absl::DataLossError(absl::StrCat("store ", dir, " is corrupt: ", text));
  }
  if (s.IsIOError() && absl::StrContains(text, "LOCK")) {
    return absl::FailedPreconditionError(absl::StrCat(
        "store ", dir, " is in use by another process (or already open in this one): ", text));
  }
  if (s.IsInvalidArgument() && absl::StrContains(text, "does not exist")) {
    return absl::NotFoundError(absl::StrCat("no store in ", dir));
  }
  return absl::InternalError(absl::StrCat("store ", dir, ": ", text));
}

class LevelDbStore final : public KvStore {
 public:
  LevelDbStore(std::string dir, leveldb::Env* env, std::unique_ptr<leveldb::Cache> cache,
               std::unique_ptr<leveldb::DB> db)
      : dir_(std::move(dir)), env_(env), cache_(std::move(cache)), db_(std::move(db)) {
    sync_.sync = true;
    read_.verify_checksums = true;
  }

  absl::StatusOr<std::string> Get(absl::string_view key) const override {
    std::string value;
    leveldb::Status s = db_->Get(read_, ToSlice(key), &value);
    if (s.IsNotFound()) return absl::NotFoundError("key not found");
    if (!s.ok()) return FromLevelDb(s, dir_);
    return value;
  }

  absl::Status Put(absl::string_view key, absl::string_view value) override {
    HIE_RETURN_IF_ERROR(FromLevelDb(db_->Put(sync_, ToSlice(key), ToSlice(value)), dir_));
    return SyncOlderLogs();
  }

  absl::Status Delete(absl::string_view key) override {
    HIE_RETURN_IF_ERROR(FromLevelDb(db_->Delete(sync_, ToSlice(key)), dir_));
    return SyncOlderLogs();
  }

  absl::Status Write(const WriteBatch& batch) override {
    HIE_RETURN_IF_ERROR(Apply(batch, sync_));
    return SyncOlderLogs();
  }

  absl::Status WriteUnsynced(const WriteBatch& batch) override {
    // Set before (and after) the write, so that a Sync that starts after this returns
    // cannot miss it.
    unsynced_.store(true);
    absl::Status s = Apply(batch, leveldb::WriteOptions());
    unsynced_.store(true);
    return s;
  }

  absl::Status Sync() override {
    // A synced write of an empty batch syncs LevelDB's current log, and with it every
    // write appended to that log before it.
    leveldb::WriteBatch empty;
    HIE_RETURN_IF_ERROR(FromLevelDb(db_->Write(sync_, &empty), dir_));
    return SyncOlderLogs();
  }

  // When its memtable fills, LevelDB closes the log without syncing it and starts a
  // new one; a synced write then syncs only the new log. Unsynced writes still sitting
  // in an older log (until a background compaction moves them into a synced table)
  // would be lost by a power cut although a later synced write returned. So after a
  // synced write, if anything was written unsynced since the last time, every log but
  // the newest is synced too.
  absl::Status SyncOlderLogs() {
    if (!unsynced_.exchange(false)) return absl::OkStatus();
    absl::Status s = SyncLogsButNewest();
    if (!s.ok()) unsynced_.store(true);
    return s;
  }

  absl::Status SyncLogsButNewest() {
    std::vector<std::string> children;
    HIE_RETURN_IF_ERROR(FromLevelDb(env_->GetChildren(dir_, &children), dir_));
    std::vector<std::pair<uint64_t, std::string>> logs;
    for (const std::string& name : children) {
      absl::string_view stem(name);
      uint64_t number = 0;
      if (!absl::ConsumeSuffix(&stem, ".log") || !absl::SimpleAtoi(stem, &number)) continue;
      logs.emplace_back(number, name);
    }
    if (logs.size() < 2) return absl::OkStatus();
    std::sort(logs.begin(), logs.end());
    logs.pop_back();
    for (const auto& [number, name] : logs) {
      std::string path = dir_ + "/" + name;
      // A compaction may have moved it into a (synced) table and removed it meanwhile.
      if (!env_->FileExists(path)) continue;
      leveldb::WritableFile* file = nullptr;
      leveldb::Status s = env_->NewAppendableFile(path, &file);
      if (!s.ok()) return FromLevelDb(s, dir_);
      std::unique_ptr<leveldb::WritableFile> owned(file);
      HIE_RETURN_IF_ERROR(FromLevelDb(owned->Sync(), dir_));
      HIE_RETURN_IF_ERROR(FromLevelDb(owned->Close(), dir_));
    }
    return absl::OkStatus();
  }

  absl::Status Apply(const WriteBatch& batch, const leveldb::WriteOptions& options) {
    leveldb::WriteBatch wb;
    for (const WriteBatch::Op& op : batch.ops()) {
      if (op.is_delete) {
        wb.Delete(op.key);
      } else {
        wb.Put(op.key, op.value);
      }
    }
    return FromLevelDb(db_->Write(options, &wb), dir_);
  }

  absl::Status Scan(absl::string_view start, absl::string_view end,
                    const ScanVisitor& visit) const override {
    leveldb::ReadOptions options = read_;
    options.fill_cache = false;
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(options));
    for (it->Seek(ToSlice(start)); it->Valid(); it->Next()) {
      absl::string_view key = ToView(it->key());
      if (!end.empty() && key >= end) break;
      if (!visit(key, ToView(it->value()))) break;
    }
    return FromLevelDb(it->status(), dir_);
  }

  absl::StatusOr<std::pair<std::string, std::string>> LastWithPrefix(
      absl::string_view prefix) const override {
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(read_));
    std::string end = PrefixSuccessor(prefix);
    if (end.empty()) {
      it->SeekToLast();
    } else {
      it->Seek(end);
      if (it->Valid()) {
        it->Prev();
      } else {
        it->SeekToLast();
      }
    }
    if (!it->status().ok()) return FromLevelDb(it->status(), dir_);
    if (!it->Valid() || !absl::StartsWith(ToView(it->key()), prefix)) {
      return absl::NotFoundError("no key with that prefix");
    }
    return std::make_pair(std::string(ToView(it->key())), std::string(ToView(it->value())));
  }

  const std::string& dir() const override { return dir_; }

 private:
  const std::string dir_;
  leveldb::Env* const env_;
  // Whether anything was written unsynced since older logs were last synced.
  std::atomic<bool> unsynced_{false};
  // Destroyed after db_, which uses it.
  std::unique_ptr<leveldb::Cache> cache_;
  std::unique_ptr<leveldb::DB> db_;
  leveldb::WriteOptions sync_;
  leveldb::ReadOptions read_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<KvStore>> KvStore::Open(const std::string& dir,
                                                       const KvStoreOptions& options) {
  if (options.create_if_missing) {
    // LevelDB creates only the last path component; clinical state is private (0700).
    std::error_code ec;
    std::filesystem::path path(dir);
    if (!std::filesystem::exists(path, ec)) {
      std::filesystem::create_directories(path, ec);
      if (ec) return absl::InternalError(absl::StrCat("store ", dir, ": ", ec.message()));
      std::filesystem::permissions(path, std::filesystem::perms::owner_all, ec);
    }
  }
  std::unique_ptr<leveldb::Cache> cache(leveldb::NewLRUCache(options.block_cache_bytes));
  leveldb::Options db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.paranoid_checks = true;
  db_options.block_cache = cache.get();
  db_options.write_buffer_size = options.write_buffer_bytes;
  if (options.env != nullptr) db_options.env = options.env;
  leveldb::DB* db = nullptr;
  leveldb::Status s = leveldb::DB::Open(db_options, dir, &db);
  if (!s.ok()) return FromLevelDb(s, dir);
  return std::make_unique<LevelDbStore>(dir, db_options.env, std::move(cache),
                                        std::unique_ptr<leveldb::DB>(db));
}

absl::Status KvStore::ScanPrefix(absl::string_view prefix, const ScanVisitor& visit) const {
  std::string end = PrefixSuccessor(prefix);
  if (!end.empty()) return Scan(prefix, end, visit);
  // An all-0xFF prefix has no successor: stop at the first key outside it.
  return Scan(prefix, "", [&](absl::string_view key, absl::string_view value) {
    return absl::StartsWith(key, prefix) && visit(key, value);
  });
}

}  // namespace hie::store
