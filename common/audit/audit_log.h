// The append-only, hash-chained audit log each daemon keeps.
//
// Every entry's hash is the SHA-256 of its encoded body, and the body holds the
// previous entry's hash, so changing, removing or reordering any entry breaks the chain
// at that entry; Verify walks the chain and names the first entry where it breaks. A
// head record (last sequence and hash), written in the same synced batch as each
// entry, catches a truncated tail. Rewriting the whole chain from some entry on, head
// included, is caught only against hashes recorded elsewhere earlier: the signed
// checkpoints a Checkpointer (checkpoint.h) deposits with witnesses, which
// VerifyAgainst compares the chain with.
#ifndef HIE_COMMON_AUDIT_AUDIT_LOG_H_
#define HIE_COMMON_AUDIT_AUDIT_LOG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/store/kv_store.h"
#include "common/time/clock.h"
#include "proto/hie/v1/audit.pb.h"

namespace hie::audit {

// What Verify found.
struct VerifyReport {
  bool ok = true;
  uint64_t entries_checked = 0;
  // The first entry where the chain breaks; 0 when ok.
  uint64_t first_bad_sequence = 0;
  // "altered", "missing", "out of order", "truncated"; against witnessed checkpoints
  // also "rewritten" (differs from a witnessed hash) and "forked" (witnesses disagree).
  // Empty when ok.
  std::string problem;
  // For a person: what exactly is wrong at first_bad_sequence.
  std::string detail;
  // The hash of the last entry that verified (64 zeros for an empty log).
  std::string head_hash;
  // The highest entry a witnessed checkpoint covers (VerifyAgainst only).
  uint64_t witnessed_size = 0;
};

// Which patient to query: a practice's local reference, or an EUID.
struct PatientKey {
  std::string org_id;  // with local_id
  std::string local_id;
  std::string euid;  // or this alone

  static PatientKey Local(std::string org_id, std::string local_id) {
    PatientKey key;
    key.org_id = std::move(org_id);
    key.local_id = std::move(local_id);
    return key;
  }
  static PatientKey Euid(std::string euid) {
    PatientKey key;
    key.euid = std::move(euid);
    return key;
  }
};

// Thread-safe.
class AuditLog {
 public:
  // Opens the log kept under `key_prefix` in `store` (not owned; must outlive the log).
  // Errors: DataLoss if the head record is unreadable.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(store::KvStore* store, Clock* clock,
                                                        absl::string_view key_prefix = "audit");

  // Appends `entry`: sets sequence, time, prev_hash and hash (any values given are
  // replaced) and returns it once it is durable (concurrent appends share one sync).
  // Errors: InvalidArgument if entry.action is unspecified; what the store returns.
  absl::StatusOr<hie::v1::AuditEntry> Append(hie::v1::AuditEntry entry);

  // Appends `entries` in order, consecutively, with one sync for all of them (an access
  // that touched many patients). Errors: as Append; nothing is acknowledged then, though
  // entries before the failing one may be in the chain.
  absl::Status AppendAll(std::vector<hie::v1::AuditEntry> entries);

  // Entries about one patient (indexed by local reference and by EUID), oldest first.
  absl::StatusOr<std::vector<hie::v1::AuditEntry>> QueryByPatient(const PatientKey& patient) const;

  // Visits the entries from sequence `from` (1-based) on, in order, as stored (not
  // verified), until `visit` returns false. Errors: DataLoss if one is unreadable.
  absl::Status ForEach(uint64_t from,
                       const std::function<bool(const hie::v1::AuditEntry&)>& visit) const;

  // Walks the whole chain. An OK status with report.ok == false means tampering was
  // found; a non-OK status means the store itself could not be read.
  absl::StatusOr<VerifyReport> Verify() const;

  // Verify, then compares every entry with the hashes in `witnessed` (checkpoints of
  // this log held by others): the report names the first entry that differs from a
  // witnessed hash ("rewritten"), the first missing below a witnessed size
  // ("truncated"), or the first where two checkpoints disagree ("forked"), whichever
  // comes first in the chain. The checkpoints' signatures are not checked here.
  absl::StatusOr<VerifyReport> VerifyAgainst(
      const std::vector<hie::v1::AuditCheckpoint>& witnessed) const;

  // The stored hashes of entries from+1 .. to, in order, as they are (not verified).
  // Errors: NotFound if one is missing; DataLoss if one is unreadable.
  absl::StatusOr<std::vector<std::string>> EntryHashes(uint64_t from, uint64_t to) const;

  // Calls `observer` with the new size after every durable append (outside the log's
  // lock; it must be cheap and must not append). Replaces any earlier observer.
  void SetAppendObserver(std::function<void(uint64_t size)> observer);

  // The number of entries appended so far.
  uint64_t size() const;

  // The store and key prefix the log lives in (for components keeping records beside it).
  store::KvStore* store() const { return store_; }
  const std::string& prefix() const { return prefix_; }

  // The hex hash of an empty chain's "previous entry": 64 zeros.
  static const std::string& GenesisHash();

 private:
  AuditLog(store::KvStore* store, Clock* clock, std::string prefix, uint64_t last_sequence,
           std::string last_hash);

  // Extends the chain by `entry` with an unsynced write.
  absl::StatusOr<hie::v1::AuditEntry> AppendUnsyncedLocked(hie::v1::AuditEntry entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string EntryKey(uint64_t sequence) const;
  std::string HeadKey() const;
  std::string PatientIndexPrefix(const PatientKey& patient) const;

  store::KvStore* const store_;
  Clock* const clock_;
  const std::string prefix_;
  mutable absl::Mutex mu_;
  uint64_t last_sequence_ ABSL_GUARDED_BY(mu_);
  std::string last_hash_ ABSL_GUARDED_BY(mu_);
  mutable absl::Mutex observer_mu_;
  std::function<void(uint64_t)> observer_ ABSL_GUARDED_BY(observer_mu_);
};

}  // namespace hie::audit

#endif  // HIE_COMMON_AUDIT_AUDIT_LOG_H_
