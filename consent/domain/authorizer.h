// Authorize: DESIGN.md steps 1-2. Resolve the patient at the MPI, decide per holder
// under the patient's directives and the policy, name only the holders the decision
// allows, sign the grant, and put the decision in the audit chain before answering.
#ifndef HIE_CONSENT_DOMAIN_AUTHORIZER_H_
#define HIE_CONSENT_DOMAIN_AUTHORIZER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/audit/audit_log.h"
#include "common/time/clock.h"
#include "consent/domain/directive_feed.h"
#include "consent/domain/directive_store.h"
#include "consent/domain/engine.h"
#include "consent/domain/grant_keys.h"
#include "proto/hie/v1/common.pb.h"
#include "proto/hie/v1/grant.pb.h"

namespace hie::consent {

// One registration linked to the patient's EUID.
struct LinkedRegistration {
  std::string org_id;
  std::string local_id;
  // Only certain (automatic above the upper threshold, or operator-confirmed) links let
  // records flow.
  bool certain = false;
};

struct PatientLinks {
  std::string euid;
  std::vector<LinkedRegistration> registrations;
};

struct Member {
  std::string org_id;
  bool active = false;
  bool sensitive = false;
  std::string endpoint;
};

// What the consent service needs from the MPI and its directory. The service layer
// implements it over gRPC; tests implement it in memory.
class ExchangeView {
 public:
  virtual ~ExchangeView() = default;
  // Errors: NotFound (PATIENT_UNKNOWN) for a patient the MPI does not know;
  // Unavailable (DEPENDENCY_UNAVAILABLE) if the MPI cannot be reached.
  virtual absl::StatusOr<PatientLinks> CrossReference(const std::string& org_id,
                                                      const std::string& local_id) = 0;
  // Errors: NotFound for an organisation that is not enrolled; Unavailable.
  virtual absl::StatusOr<Member> Organization(const std::string& org_id) = 0;
};

struct AuthorizeInput {
  std::string requester_org;  // from the caller's certificate
  std::string local_patient_id;
  std::string purpose;
  hie::v1::UserContext user;
  std::string query_id;  // generated if empty
  std::string break_glass_reason;
};

struct AuthorizeResult {
  std::optional<hie::v1::SignedGrant> grant;  // a permit
  // A deny: why, and the directive that decided, if one did.
  std::string deny_reason;
  std::string deny_directive_id;
  std::string query_id;
};

// Thread-safe. Everything passed in must outlive the authorizer.
class Authorizer {
 public:
  // With `feed`, grants carry the feed's last sequence as read before the directives
  // (DisclosureGrant.directive_sequence), so that holders can stop them on a change.
  Authorizer(Policy policy, DirectiveStore* directives, GrantKeys* keys, audit::AuditLog* audit,
             Clock* clock, absl::Duration grant_validity, const DirectiveFeed* feed = nullptr)
      : policy_(std::move(policy)),
        directives_(directives),
        keys_(keys),
        audit_(audit),
        clock_(clock),
        grant_validity_(grant_validity),
        feed_(feed) {}

  // A deny is a result, not an error. Every break-the-glass grant also appends an
  // AUDIT_ACTION_BREAK_GLASS alert (filed under the patient's EUID, so each of the
  // patient's practices finds it) and logs a warning. Errors: InvalidArgument (unknown purpose,
  // missing user or patient id); PermissionDenied (ORG_NOT_ACTIVE) for a requester that is not an
  // active member; NotFound (PATIENT_UNKNOWN); Unavailable when the MPI or the audit store fails
  // (no grant leaves without its audit entry).
  absl::StatusOr<AuthorizeResult> Authorize(ExchangeView& exchange, const AuthorizeInput& input);

 private:
  const Policy policy_;
  DirectiveStore* const directives_;
  GrantKeys* const keys_;
  audit::AuditLog* const audit_;
  Clock* const clock_;
  const absl::Duration grant_validity_;
  const DirectiveFeed* const feed_;
};

}  // namespace hie::consent

#endif  // HIE_CONSENT_DOMAIN_AUTHORIZER_H_
