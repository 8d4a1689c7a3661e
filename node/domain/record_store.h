// A practice's records on LevelDB, each FHIR resource in a RecordEnvelope with its
// version history. One patient's current records are one prefix scan.
//
// Keys: ("current", patient local id, type, id)  -> RecordEnvelope (the current version)
//       ("where", type, id)                       -> patient local id, version, content hash
//       ("history", type, id, version)            -> RecordEnvelope (every version)
// Resources about no patient (Organization, Practitioner...) have an empty patient id.
// Every write is one synced batch: a record is acknowledged only once it is durable.
#ifndef HIE_NODE_DOMAIN_RECORD_STORE_H_
#define HIE_NODE_DOMAIN_RECORD_STORE_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/store/kv_store.h"
#include "common/time/clock.h"
#include "proto/hie/v1/record.pb.h"

namespace hie::node {

struct PutOutcome {
  enum Kind { kCreated, kUpdated, kUnchanged, kDeleted };
  std::vector<Kind> kinds;  // one per record, in order
  // One per record, in order: as stored (version and last_updated set), or for an
  // unchanged one as given with the current version number.
  std::vector<hie::v1::RecordEnvelope> records;
  int64_t created = 0;
  int64_t updated = 0;
  int64_t unchanged = 0;
  int64_t deleted = 0;
};

// What a write expects of the record it changes (FHIR If-Match, create-only).
struct PutCondition {
  // > 0: the record's current version must be this one (a deleted record's counts).
  int64_t if_version = 0;
  // The record must not exist, or be deleted.
  bool if_absent = false;
};

// Thread-safe.
class RecordStore {
 public:
  // `store` and `clock` must outlive the record store.
  RecordStore(store::KvStore* store, Clock* clock) : store_(store), clock_(clock) {}

  // Stores `records` (resource_type, resource_id, patient_local_id, sensitivity and
  // fhir_json set) as one atomic, synced batch: each gets the next version and
  // last_updated now, unless its content equals the current version's (unchanged).
  // A record with `deleted` set deletes: the new version is a tombstone (no text, no
  // labels, the same patient) that scans skip and History keeps; deleting a deleted
  // record is unchanged.
  // `conditions`, when not empty, holds one condition per record; if any fails nothing
  // is written.
  // `on_change` (may be empty) is called for each created, updated or deleted record and
  // may add to the same batch (work owed to others, written atomically with the records).
  // Errors: FailedPrecondition when a condition fails (naming the record and its
  // version); NotFound when deleting a record never stored; the store's.
  // REQUIRES: no two records share type and id; conditions empty or one per record.
  using ChangeHook =
      std::function<void(const hie::v1::RecordEnvelope& record, store::WriteBatch& batch)>;
  absl::StatusOr<PutOutcome> Put(std::vector<hie::v1::RecordEnvelope> records,
                                 const ChangeHook& on_change = nullptr,
                                 const std::vector<PutCondition>& conditions = {});

  // The current version (a tombstone if it was deleted: check deleted()).
  // Errors: NotFound.
  absl::StatusOr<hie::v1::RecordEnvelope> Get(const std::string& type, const std::string& id) const;

  // Every version, oldest first. Errors: NotFound.
  absl::StatusOr<std::vector<hie::v1::RecordEnvelope>> History(const std::string& type,
                                                               const std::string& id) const;

  // Visits every version of every record of `type` (FHIR's type-level history), in id
  // then version order; `visit` returns false to stop.
  absl::Status ForTypeHistory(
      const std::string& type,
      const std::function<bool(const hie::v1::RecordEnvelope&)>& visit) const;

  // Visits the patient's current records (all types, or `type` only), in type and id
  // order; `visit` returns false to stop.
  absl::Status ForPatient(const std::string& patient_local_id, const std::string& type,
                          const std::function<bool(const hie::v1::RecordEnvelope&)>& visit) const;

  // Visits the current version of every record of `type` (deleted ones included: check
  // deleted()), in id order; `visit` returns false to stop. Two reads a record: meant for
  // searches across a practice's records, not for a patient's (ForPatient).
  absl::Status ForType(const std::string& type,
                       const std::function<bool(const hie::v1::RecordEnvelope&)>& visit) const;

  // The number of current records about a patient ("" for those about no patient).
  absl::StatusOr<int64_t> CountForPatient(const std::string& patient_local_id) const;

  // The number of current (not deleted) records of each type, by type name: one read of
  // the small index entry a record, none of its text.
  absl::StatusOr<std::map<std::string, int64_t>> CountByType() const;

 private:
  store::KvStore* const store_;
  Clock* const clock_;
  absl::Mutex write_mu_;  // versions are read and written under it
};

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_RECORD_STORE_H_
