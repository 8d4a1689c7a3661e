// What a holder discloses under a verified grant: the patient's current records at this
// node, less those carrying a withheld category or dated within a withheld period, and
// the grants already used (a grant serves one fetch per holder, and the holder
// remembers it durably).
#ifndef HIE_NODE_DOMAIN_DISCLOSURE_H_
#define HIE_NODE_DOMAIN_DISCLOSURE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/store/kv_store.h"
#include "node/domain/record_store.h"
#include "proto/hie/v1/grant.pb.h"
#include "simdjson.h"

namespace hie::node {

struct Disclosure {
  std::string patient_local_id;
  std::vector<hie::v1::RecordEnvelope> records;  // source_org set
  int64_t withheld = 0;
};

// The records `grant` lets `own_org` disclose (all types, or `resource_types` only).
// REQUIRES: the grant was verified for this holder. Errors: NotFound if this node holds
// no record of the patient the grant names here.
// With `clinical_period` set, only records dated in it (undated records pass).
absl::StatusOr<Disclosure> SelectForGrant(const RecordStore& store,
                                          const hie::v1::DisclosureGrant& grant,
                                          const std::string& own_org,
                                          const std::vector<std::string>& resource_types,
                                          const hie::v1::Period* clinical_period = nullptr);

// True if `grant` keeps `record` at its holder: the record carries a category the grant
// withholds (a sensitive category counts as R too), or one no consent can release (an
// unknown security label), or is dated in a withheld period.
bool WithheldByGrant(const hie::v1::RecordEnvelope& record, const hie::v1::DisclosureGrant& grant);

// True if `record` is dated outside `period` (undated records are inside).
bool OutsidePeriod(const hie::v1::RecordEnvelope& record, const hie::v1::Period& period);

// The clinical date of a resource (effective, onset, performed, period start, authored,
// issued, recorded...), if it has one.
std::optional<absl::Time> ClinicalDate(absl::string_view fhir_json);
// The same, of a resource already parsed.
std::optional<absl::Time> ClinicalDate(const simdjson::dom::element& resource);

// Grants already served, kept in the holder's store until the verifier would refuse
// them anyway: a second fetch with the same grant is a replay, after a restart of the
// holder too. Each nonce is kept until its `keep_until` and purged after, so the store
// holds at most the nonces of grants still acceptable. Thread-safe; `store` must
// outlive the registry.
class NonceRegistry {
 public:
  explicit NonceRegistry(store::KvStore* store) : store_(store) {}

  // OK the first time `nonce` is seen, once it is durable (synced) in the store;
  // PermissionDenied after. `keep_until` is the last moment the grant's verifier
  // accepts the grant (GrantVerifier::AcceptedUntil). Purges, now and then, nonces kept
  // past `now`. Errors: PermissionDenied for a replay; the store's error reading, and
  // Unavailable if the nonce could not be stored (then nothing may be served).
  absl::Status Use(const std::string& nonce, absl::Time keep_until, absl::Time now);

  // Deletes the nonces kept past `now`; returns how many.
  absl::StatusOr<int64_t> Purge(absl::Time now);

 private:
  absl::StatusOr<int64_t> PurgeLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  store::KvStore* const store_;
  absl::Mutex mu_;
  absl::Time last_purge_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_DISCLOSURE_H_
