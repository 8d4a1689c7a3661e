#include "consent/domain/authorizer.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log/log.h"
#include "common/status/error_detail.h"
#include "common/time/proto_time.h"
#include "consent/domain/codes.h"
#include "consent/domain/grant.h"
#include "google/protobuf/util/time_util.h"

namespace hie::consent {
namespace {

using google::protobuf::util::TimeUtil;

hie::v1::LocalPatientRef Ref(const std::string& org, const std::string& local) {
  hie::v1::LocalPatientRef ref;
  ref.set_org_id(org);
  ref.set_local_id(local);
  return ref;
}

// One holder's part of the decision.
struct HolderDecision {
  LinkedRegistration registration;
  Member member;
  Decision decision;
  bool named = false;  // in the grant
};

}  // namespace

absl::StatusOr<AuthorizeResult> Authorizer::Authorize(ExchangeView& exchange,
                                                      const AuthorizeInput& input) {
  if (input.user.user_id().empty()) {
    return absl::InvalidArgumentError("user.user_id is required: the audit records who asked");
  }
  if (input.local_patient_id.empty()) {
    return absl::InvalidArgumentError("local_patient_id is required");
  }
  if (!IsPurposeOfUse(input.purpose)) {
    return absl::InvalidArgumentError(
        absl::StrCat("purpose \"", input.purpose, "\" is not a v3 PurposeOfUse code"));
  }
  AuthorizeResult result;
  result.query_id = input.query_id.empty() ? NewNonce() : input.query_id;

  // The requester must be an active member (its certificate could outlive its
  // membership).
  absl::StatusOr<Member> requester = exchange.Organization(input.requester_org);
  if (!requester.ok() && requester.status().code() != absl::StatusCode::kNotFound) {
    return requester.status();
  }
  if (!requester.ok() || !requester->active) {
    return WithReason(absl::PermissionDeniedError(
                          absl::StrCat("organisation ", input.requester_org,
                                       requester.ok() ? " is suspended from the exchange"
                                                      : " is not enrolled in the exchange")),
                      hie::v1::ERROR_REASON_ORG_NOT_ACTIVE);
  }
  absl::StatusOr<PatientLinks> links =
      exchange.CrossReference(input.requester_org, input.local_patient_id);
  if (!links.ok()) return links.status();

  // The patient's directives, wherever they were filed (certain links only: a probable
  // link is not yet the same person).
  // Read before the directives: a change stored after this point has a greater
  // sequence, and holders stop this grant when they learn of it.
  const int64_t directive_sequence = feed_ != nullptr ? feed_->LastSequence() : 0;
  std::vector<hie::v1::LocalPatientRef> refs = {Ref(input.requester_org, input.local_patient_id)};
  for (const auto& r : links->registrations) {
    if (r.certain) refs.push_back(Ref(r.org_id, r.local_id));
  }
  auto current = directives_->Current(refs);
  if (!current.ok()) return current.status();
  std::vector<const ConsentDirective*> directives;
  std::set<std::string> seen;
  for (const auto& d : *current) {
    if (seen.insert(d->stored.directive_id()).second) directives.push_back(&d->parsed);
  }

  absl::Time now = clock_->Now();
  DecisionRequest request{.requester_org = input.requester_org,
                          .purpose = input.purpose,
                          .user_role = input.user.role(),
                          .user_npi = input.user.npi(),
                          .break_glass_reason = input.break_glass_reason,
                          .now = now};
  absl::StatusOr<Decision> overall = Decide(policy_, directives, request);
  if (!overall.ok()) return overall.status();

  // Per holder.
  std::vector<HolderDecision> holders;
  for (const auto& r : links->registrations) {
    if (!r.certain || r.org_id == input.requester_org) continue;
    HolderDecision h;
    h.registration = r;
    absl::StatusOr<Member> member = exchange.Organization(r.org_id);
    if (!member.ok()) {
      if (member.status().code() != absl::StatusCode::kNotFound) return member.status();
      continue;  // no longer enrolled: not a holder
    }
    h.member = *member;
    if (!h.member.active || h.member.endpoint.empty()) continue;
    request.holder_org = r.org_id;
    absl::StatusOr<Decision> decision = Decide(policy_, directives, request);
    if (!decision.ok()) return decision.status();
    h.decision = *std::move(decision);
    h.named = h.decision.permit && (!h.member.sensitive || h.decision.holder_named);
    holders.push_back(std::move(h));
  }

  bool any_named = false;
  bool any_permit = overall->permit;
  for (const auto& h : holders) {
    any_named = any_named || h.named;
    any_permit = any_permit || h.decision.permit;
  }

  hie::v1::AuditEntry entry;
  entry.set_action(hie::v1::AUDIT_ACTION_AUTHORIZE);
  entry.set_actor_org(input.requester_org);
  *entry.mutable_user() = input.user;
  *entry.mutable_patient() = Ref(input.requester_org, input.local_patient_id);
  entry.set_euid(links->euid);
  entry.set_purpose(input.purpose);
  entry.set_query_id(result.query_id);

  if (!any_named && !any_permit) {
    // No holder is allowed and the request as a whole is denied: its reason stands.
    const Decision& deciding = *overall;
    result.deny_reason = deciding.reason;
    result.deny_directive_id = deciding.directive_id;
    entry.set_outcome("deny");
    entry.set_detail(deciding.reason);
    if (auto s = audit_->Append(entry); !s.ok()) {
      return absl::UnavailableError(
          absl::StrCat("the decision could not be audited: ", s.status().message()));
    }
    return result;
  }

  hie::v1::DisclosureGrant grant;
  grant.set_euid(links->euid);
  grant.set_requester_org(input.requester_org);
  *grant.mutable_user() = input.user;
  grant.set_purpose(input.purpose);
  grant.set_query_id(result.query_id);
  std::set<std::string> withheld(overall->withheld.begin(), overall->withheld.end());
  bool break_glass = overall->permit && overall->break_glass;
  std::vector<std::string> named_orgs;
  // Holders left out are counted, never named: the entry is the requester's accounting,
  // and a holder the grant does not name (a sensitive programme) is not revealed by it.
  int left_out = 0;
  std::vector<WithheldData> withheld_data = overall->withheld_data;
  for (const auto& h : holders) {
    if (!h.named) {
      ++left_out;
      continue;
    }
    auto* holder = grant.add_holders();
    holder->set_org_id(h.registration.org_id);
    holder->set_local_id(h.registration.local_id);
    holder->set_endpoint(h.member.endpoint);
    named_orgs.push_back(h.registration.org_id);
    // One grant serves every holder: it withholds what any holder's decision withholds.
    withheld.insert(h.decision.withheld.begin(), h.decision.withheld.end());
    withheld_data.insert(withheld_data.end(), h.decision.withheld_data.begin(),
                         h.decision.withheld_data.end());
    break_glass = break_glass || h.decision.break_glass;
  }
  for (const std::string& c : withheld) grant.add_withheld_categories(c);
  for (const auto& w : withheld_data) {
    auto* r = grant.add_withheld_data();
    if (w.data_period.start)
      *r->mutable_data_period()->mutable_start() = ToProtoTime(w.data_period.start->begin);
    if (w.data_period.end)
      *r->mutable_data_period()->mutable_end() = ToProtoTime(w.data_period.end->end);
    for (const auto& c : w.categories) r->add_categories(c);
  }
  grant.set_directive_sequence(directive_sequence);
  // The requester's registration names the patient in the feed: it survives merges.
  if (feed_ != nullptr) {
    grant.set_directive_key(feed_->RegistrationKey(input.requester_org, input.local_patient_id));
  }
  grant.set_break_glass(break_glass);
  if (break_glass) grant.set_break_glass_reason(input.break_glass_reason);

  absl::StatusOr<std::shared_ptr<const crypto::SigningKey>> key = keys_->Current();
  if (!key.ok()) return key.status();
  GrantSigner signer(key->get(), clock_, grant_validity_);
  absl::StatusOr<hie::v1::SignedGrant> signed_grant = signer.Sign(std::move(grant));
  if (!signed_grant.ok()) return signed_grant.status();

  entry.set_outcome("permit");
  entry.set_detail(absl::StrCat(
      overall->reason, "; holders: ", named_orgs.empty() ? "none" : absl::StrJoin(named_orgs, ", "),
      left_out == 0 ? "" : absl::StrCat("; left out: ", left_out),
      "; withheld: ", withheld.empty() ? "nothing" : absl::StrJoin(withheld, ", ")));
  if (auto s = audit_->Append(entry); !s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("the decision could not be audited: ", s.status().message()));
  }
  if (break_glass) {
    hie::v1::AuditEntry alert = entry;
    alert.set_action(hie::v1::AUDIT_ACTION_BREAK_GLASS);
    alert.set_outcome("alert");
    alert.set_detail(absl::StrCat("break-the-glass by ", input.user.user_id(), " of ",
                                  input.requester_org, ": ", input.break_glass_reason));
    if (auto s = audit_->Append(alert); !s.ok()) {
      return absl::UnavailableError(
          absl::StrCat("the break-the-glass alert could not be audited: ", s.status().message()));
    }
    LogWarning("ALERT break-the-glass: user ", input.user.user_id(), " (role ", input.user.role(),
               ") of ", input.requester_org, " for patient ", links->euid, " query ",
               result.query_id, ": ", input.break_glass_reason);
  }
  result.grant = *std::move(signed_grant);
  return result;
}

}  // namespace hie::consent
