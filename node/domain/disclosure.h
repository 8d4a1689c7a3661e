// What a holder discloses under a verified grant: the patient's current records at this
// node, less those carrying a withheld category or dated within a withheld period, and
// the grants already used (a grant serves one fetch per holder, and the holder
// remembers it durably). Discloser is the whole of a holder's answer to a fetch, as
// every front serves it.
#ifndef HIE_NODE_DOMAIN_DISCLOSURE_H_
#define HIE_NODE_DOMAIN_DISCLOSURE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/store/kv_store.h"
#include "common/time/clock.h"
#include "consent/domain/grant.h"
#include "node/domain/audit_sink.h"
#include "node/domain/merge.h"
#include "node/domain/record_store.h"
#include "proto/hie/v1/grant.pb.h"
#include "simdjson.h"

namespace hie::node {

// In a disclosure's audit detail, before the categories the grant withheld
// (space-separated, to the end of the detail).
inline constexpr char kWithheldCategoriesNote[] = "categories withheld: ";

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

// The consent service's grant keys as a holder knows them (the service layer asks the
// consent service; tests hold keys in memory). Implementations are thread-safe.
class GrantVerifiers {
 public:
  virtual ~GrantVerifiers() = default;
  // A verifier that knows `key_id` if the consent service does. Errors: Unavailable
  // (DEPENDENCY_UNAVAILABLE) if no verifier can be had.
  virtual absl::StatusOr<std::shared_ptr<const consent::GrantVerifier>> VerifierFor(
      const std::string& key_id) = 0;
};

// The holder's check of a verified grant against the patient's directive changes since
// it was decided (the consent service's directive feed). Implementations are
// thread-safe.
class DirectiveCheck {
 public:
  virtual ~DirectiveCheck() = default;
  // OK if `grant` may be served now. Errors as DirectiveChanges::Check.
  virtual absl::Status Check(const hie::v1::DisclosureGrant& grant) = 0;
};

// What a holder sends for one fetch.
struct FetchAnswer {
  // source_org set; none longer than the holder's max_record_bytes.
  std::vector<hie::v1::RecordEnvelope> records;
  // Left out because the grant withholds them (a count only).
  int64_t withheld = 0;
  // Left out because each is longer than max_record_bytes.
  SkippedRecords skipped;
};

// One fetch of another practice's node, as the holder sees it.
struct FetchInput {
  // The caller's org, from its certificate.
  std::string peer_org;
  hie::v1::SignedGrant grant;
  // Only these resource types (all when empty).
  std::vector<std::string> resource_types;
  // Only records dated in it (undated records pass).
  std::optional<hie::v1::Period> clinical_period;
};

// A holder's answer to other practices' fetches (DESIGN.md step 3). Thread-safe.
class Discloser {
 public:
  // Everything passed in must outlive the discloser. Without `directives`, grants are
  // not checked against directive changes (tests only). Used grants are remembered in
  // `nonce_store`.
  Discloser(std::string own_org, size_t max_record_bytes, const RecordStore* records,
            store::KvStore* nonce_store, AuditSink* audit, GrantVerifiers* verifiers,
            DirectiveCheck* directives, Clock* clock)
      : own_org_(std::move(own_org)),
        max_record_bytes_(max_record_bytes),
        records_(records),
        audit_(audit),
        verifiers_(verifiers),
        directives_(directives),
        clock_(clock),
        nonces_(nonce_store) {}

  // The records `input.grant` lets this holder send `input.peer_org`. Checks that the
  // grant verifies with the consent service's keys for this requester and this holder,
  // that no directive change stopped it, and that it was not used here before (then it
  // is, durably); selects the records; and appends the disclosure's audit entry
  // (AUDIT_ACTION_BREAK_GLASS for a break-the-glass grant) before returning them. A
  // refusal after the verifier was found is audited (AUDIT_ACTION_REFUSE, filed under
  // the patient once the grant verified). Errors: those of GrantVerifier::Verify,
  // DirectiveCheck::Check, NonceRegistry::Use and SelectForGrant; Unavailable if the
  // keys cannot be had or the disclosure cannot be audited (then nothing is sent).
  absl::StatusOr<FetchAnswer> Serve(const FetchInput& input);

  // The check every use of a grant at this holder passes first (Serve's, and a
  // patient's accounting's): `signed_grant` verifies with the consent service's keys for
  // `peer_org` as requester and this holder; its purpose is `required_purpose` (any when
  // empty); no directive change stopped it; and it was not used here before (then it
  // is, durably). A refusal after the verifier was found is audited
  // (AUDIT_ACTION_REFUSE, its detail starting with `operation`, filed under the patient
  // once the grant verified). Errors: those of GrantVerifier::Verify,
  // DirectiveCheck::Check and NonceRegistry::Use; PermissionDenied for another purpose;
  // Unavailable if the keys cannot be had.
  absl::StatusOr<hie::v1::DisclosureGrant> Admit(const std::string& peer_org,
                                                 const hie::v1::SignedGrant& signed_grant,
                                                 absl::string_view operation,
                                                 absl::string_view required_purpose = "");

  // Audits the refusal of `operation` (under the patient when `grant` is not null) and
  // returns `why`.
  absl::Status Refuse(const std::string& peer_org, absl::string_view operation,
                      const absl::Status& why, const hie::v1::DisclosureGrant* grant);

  const std::string& own_org() const { return own_org_; }

 private:
  const std::string own_org_;
  const size_t max_record_bytes_;
  const RecordStore* const records_;
  AuditSink* const audit_;
  GrantVerifiers* const verifiers_;
  DirectiveCheck* const directives_;
  Clock* const clock_;
  NonceRegistry nonces_;
};

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_DISCLOSURE_H_
