// The feed of directive changes: every directive filed or revoked appends one change,
// in order, naming the patient by a hash of their EUID. Holders pull it and refuse a
// grant decided before a change for its patient (DisclosureGrant.directive_sequence),
// so a change stops older grants within seconds, not at their expiry
// (docs/consent.md, "Grant lifetime and the directive feed").
#ifndef HIE_CONSENT_DOMAIN_DIRECTIVE_FEED_H_
#define HIE_CONSENT_DOMAIN_DIRECTIVE_FEED_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/store/kv_store.h"
#include "common/time/clock.h"
#include "proto/hie/v1/consent.pb.h"

namespace hie::consent {

// How long changes are kept, by the service and by holders: longer than any grant is
// valid (GrantConfig.validity_seconds is at most 3600) plus the clock skew holders
// accept, so no grant outlives the change that stops it.
inline constexpr absl::Duration kDirectiveChangeRetention = absl::Hours(2);

// Thread-safe. `store` and `clock` must outlive the feed.
class DirectiveFeed {
 public:
  // Loads (or creates, 32 random bytes) the feed's secret. Errors: the store's.
  static absl::StatusOr<std::unique_ptr<DirectiveFeed>> Open(store::KvStore* store, Clock* clock);

  // The patient's key in the feed: lower-case hex HMAC-SHA256 of `euid` under the
  // feed's secret. The feed names patients by this only, and grants carry it
  // (DisclosureGrant.directive_key): a member learns nothing from the feed about
  // patients it holds no grant for, even if it could guess EUIDs.
  std::string PatientKey(absl::string_view euid) const;

  // A registration's key in the feed: PatientKey of "registration", org and local id.
  // Grants carry the requester's registration's key: unlike an EUID, a registration
  // keeps its name when the MPI merges persons, so a change filed after a merge still
  // reaches a grant decided before it.
  std::string RegistrationKey(absl::string_view org_id, absl::string_view local_id) const;

  // Appends a change for the patient with `euid`, durable (synced) when it returns,
  // with the next sequence. Append after the directive is stored: a decision that
  // read LastSequence() >= this sequence then saw the directive.
  absl::StatusOr<hie::v1::DirectiveChange> Append(absl::string_view euid);

  // The same for one registration of the patient (keyed by RegistrationKey).
  absl::StatusOr<hie::v1::DirectiveChange> AppendRegistration(absl::string_view org_id,
                                                              absl::string_view local_id);

  // The last sequence assigned (0 if none). Read it before the directives a decision
  // uses: the grant carries it as directive_sequence.
  int64_t LastSequence() const;

  // Up to `max` changes with a sequence after `after`, oldest first. Purges changes
  // older than kDirectiveChangeRetention now and then.
  absl::StatusOr<std::vector<hie::v1::DirectiveChange>> After(int64_t after, int max);

  // Deletes the changes older than kDirectiveChangeRetention; returns how many.
  absl::StatusOr<int64_t> Purge();

 private:
  DirectiveFeed(store::KvStore* store, Clock* clock, std::string secret, int64_t last)
      : store_(store), clock_(clock), secret_(std::move(secret)), last_(last) {}

  absl::StatusOr<int64_t> PurgeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<hie::v1::DirectiveChange> AppendKey(std::string key);

  store::KvStore* const store_;
  Clock* const clock_;
  const std::string secret_;
  mutable absl::Mutex mu_;
  int64_t last_ ABSL_GUARDED_BY(mu_);
  absl::Time last_purge_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace hie::consent

#endif  // HIE_CONSENT_DOMAIN_DIRECTIVE_FEED_H_
