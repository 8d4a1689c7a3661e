// Patients' directives on LevelDB: every version of every directive, indexed by the
// patient as the filing practice knows them, with the current versions parsed and
// cached for decisions.
//
// Keys: ("directive", id, version) -> hie.v1.Directive
//       ("directive-of", org, local id, id) -> ""
// A new version and its index entry are one synced batch.
#ifndef HIE_CONSENT_DOMAIN_DIRECTIVE_STORE_H_
#define HIE_CONSENT_DOMAIN_DIRECTIVE_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/store/kv_store.h"
#include "common/time/clock.h"
#include "consent/domain/directive.h"
#include "proto/hie/v1/common.pb.h"
#include "proto/hie/v1/consent.pb.h"

namespace hie::consent {

// A directive's current version, parsed.
struct CurrentDirective {
  hie::v1::Directive stored;
  ConsentDirective parsed;
};

// Thread-safe.
class DirectiveStore {
 public:
  // `store` and `clock` must outlive the directive store.
  DirectiveStore(store::KvStore* store, Clock* clock) : store_(store), clock_(clock) {}

  // Validates `consent_json` completely, then stores it as a new version (version 1 for
  // a new id; an id is assigned when the resource has none).
  // A Consent dated in the future (dateTime after now plus 5 minutes of skew, or 14
  // hours more for a date without a time) is invalid: the latest consent governs.
  // Errors: InvalidArgument (INVALID_RESOURCE, with paths) for an invalid directive;
  // PermissionDenied if the id belongs to another patient's directive.
  absl::StatusOr<hie::v1::Directive> Put(const hie::v1::LocalPatientRef& patient,
                                         const std::string& euid, const std::string& filed_by_org,
                                         const std::string& consent_json);

  // Stores a new version with status "inactive". Errors: NotFound for an unknown id;
  // FailedPrecondition if it is already inactive.
  absl::StatusOr<hie::v1::Directive> Revoke(const std::string& directive_id,
                                            const std::string& by_org, const std::string& reason);

  // The current version. Errors: NotFound.
  absl::StatusOr<hie::v1::Directive> Get(const std::string& directive_id) const;

  // The directives filed for any of `patients`, newest first (all versions with
  // `include_history`, else the current ones).
  absl::StatusOr<std::vector<hie::v1::Directive>> List(
      const std::vector<hie::v1::LocalPatientRef>& patients, bool include_history) const;

  // The current versions, parsed, of the directives filed for any of `patients`.
  absl::StatusOr<std::vector<std::shared_ptr<const CurrentDirective>>> Current(
      const std::vector<hie::v1::LocalPatientRef>& patients) const;

 private:
  absl::StatusOr<std::shared_ptr<const CurrentDirective>> LoadCurrent(const std::string& id) const;
  absl::StatusOr<hie::v1::Directive> Store(hie::v1::Directive directive, bool new_index_entry);
  std::vector<std::string> IdsOf(const hie::v1::LocalPatientRef& patient,
                                 absl::Status* status) const;

  store::KvStore* const store_;
  Clock* const clock_;
  // Serializes writers: version numbers are read and written under it.
  absl::Mutex write_mu_;
  mutable absl::Mutex cache_mu_;
  mutable absl::flat_hash_map<std::string, std::shared_ptr<const CurrentDirective>> cache_
      ABSL_GUARDED_BY(cache_mu_);
};

}  // namespace hie::consent

#endif  // HIE_CONSENT_DOMAIN_DIRECTIVE_STORE_H_
