// Test-only: a LevelDB Env that can lose what was never synced, as a power cut does, and
// can refuse every write, as a full or read-only disk does.
//
// It wraps the real (POSIX) Env and tracks each file written through it: how many bytes
// were appended and how many of them a Sync made durable. DropUnsyncedData then puts
// the directory in the state a machine would find after losing power at that moment:
// each file cut back to its last synced length, and files never synced removed.
// (leveldb's db/fault_injection_test.cc models a crash the same way.)
//
// Thread-safe. Must outlive every store opened with it.
#ifndef HIE_COMMON_TESTING_FAULT_ENV_H_
#define HIE_COMMON_TESTING_FAULT_ENV_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "leveldb/env.h"

namespace hie::testing {

class FaultInjectionEnv final : public leveldb::EnvWrapper {
 public:
  FaultInjectionEnv();

  // Simulates a power cut. REQUIRES: no store using this Env is open (the files must be
  // closed). Errors: Internal if a file cannot be truncated or removed.
  absl::Status DropUnsyncedData();

  // While `full` is true every create, append, sync and rename fails with an IOError
  // ("No space left on device"), and reads still work.
  void SetFilesystemFull(bool full);
  bool filesystem_full() const;

  // How many bytes DropUnsyncedData would drop now.
  uint64_t UnsyncedBytes() const;

  // leveldb::Env
  leveldb::Status NewWritableFile(const std::string& name, leveldb::WritableFile** result) override;
  leveldb::Status NewAppendableFile(const std::string& name,
                                    leveldb::WritableFile** result) override;
  leveldb::Status RemoveFile(const std::string& name) override;
  leveldb::Status RenameFile(const std::string& from, const std::string& to) override;

  // Called by the files this Env hands out.
  void Appended(const std::string& name, uint64_t bytes);
  void Synced(const std::string& name);

 private:
  struct FileState {
    uint64_t written = 0;  // bytes appended so far
    uint64_t synced = 0;   // bytes a Sync made durable
    bool ever_synced = false;
  };

  mutable absl::Mutex mu_;
  std::map<std::string, FileState> files_ ABSL_GUARDED_BY(mu_);
  bool full_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace hie::testing

#endif  // HIE_COMMON_TESTING_FAULT_ENV_H_
