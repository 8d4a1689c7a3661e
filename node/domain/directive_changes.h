// What a holder knows of the consent service's directive feed
// (ConsentService.ListDirectiveChanges), and the check it makes with it before serving
// a grant: a grant decided before a change for its patient is refused, and so is every
// grant while this knowledge is older than the staleness bound. Together with a pull
// every few seconds this stops a grant within `max_staleness` of a directive change at
// every holder (docs/consent.md, "Grant lifetime and the directive feed").
#ifndef HIE_NODE_DOMAIN_DIRECTIVE_CHANGES_H_
#define HIE_NODE_DOMAIN_DIRECTIVE_CHANGES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/hie/v1/consent.pb.h"
#include "proto/hie/v1/grant.pb.h"

namespace hie::node {

// Thread-safe.
class DirectiveChanges {
 public:
  explicit DirectiveChanges(absl::Duration max_staleness) : max_staleness_(max_staleness) {}

  // The sequence to pull after.
  int64_t cursor() const;

  // Takes one page of a pull that started at `started_at`: `changes` (in order) and the
  // feed's `last_sequence`. Once the cursor reaches last_sequence this holder is up to
  // date as of `started_at`. Forgets changes older than kDirectiveChangeRetention (no
  // grant issued before them is still valid).
  void Apply(const std::vector<hie::v1::DirectiveChange>& changes, int64_t last_sequence,
             absl::Time started_at, absl::Time now);

  // True if a pull that started within max_staleness of `now` brought this holder up
  // to date.
  bool Fresh(absl::Time now) const;

  // OK if `grant` may be served at `now`. Errors: PermissionDenied (GRANT_REVOKED) if
  // the feed holds a change for the grant's patient (its directive_key) after its
  // directive_sequence;
  // Unavailable (DEPENDENCY_UNAVAILABLE) if this holder is not Fresh.
  absl::Status Check(const hie::v1::DisclosureGrant& grant, absl::Time now) const;

 private:
  struct Latest {
    int64_t sequence = 0;
    absl::Time changed_at;
  };
  const absl::Duration max_staleness_;
  mutable absl::Mutex mu_;
  int64_t cursor_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time fresh_as_of_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // By DirectiveChange.patient_key.
  absl::flat_hash_map<std::string, Latest> latest_ ABSL_GUARDED_BY(mu_);
  absl::Time last_prune_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_DIRECTIVE_CHANGES_H_
