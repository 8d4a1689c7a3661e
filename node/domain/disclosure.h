// What a holder discloses under a verified grant: the patient's current records at this
// node, less those carrying a withheld category or dated within a withheld period, and
// the grants already used (a grant serves one fetch per holder).
#ifndef HIE_NODE_DOMAIN_DISCLOSURE_H_
#define HIE_NODE_DOMAIN_DISCLOSURE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
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

// Grants already served, until they expire: a second fetch with the same grant is a
// replay. Thread-safe.
class NonceRegistry {
 public:
  // OK the first time a nonce is seen; PermissionDenied after. Forgets nonces whose grant
  // expired before `now`.
  absl::Status Use(const std::string& nonce, absl::Time expires_at, absl::Time now);

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, absl::Time> seen_ ABSL_GUARDED_BY(mu_);
};

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_DISCLOSURE_H_
