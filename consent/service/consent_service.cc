#include "consent/service/consent_service.h"

#include "absl/strings/str_cat.h"
#include "common/grpc/peer_identity.h"
#include "common/grpc/status_convert.h"
#include "common/log/log.h"
#include "common/status/error_detail.h"
#include "common/status/status_macros.h"
#include "consent/domain/practice_view.h"

namespace hie::consent {
namespace {

// The caller, if its organisation may act: practices must be enrolled and active.
absl::StatusOr<Peer> ActivePeer(const grpc::CallbackServerContext& context,
                                ExchangeView& exchange) {
  absl::StatusOr<Peer> peer = PeerFromContext(context);
  if (!peer.ok() || peer->role != pki::Role::kNode) return peer;
  absl::StatusOr<Member> member = exchange.Organization(peer->org_id);
  if (!member.ok() && member.status().code() != absl::StatusCode::kNotFound) {
    return member.status();
  }
  if (!member.ok() || !member->active) {
    return WithReason(absl::PermissionDeniedError(absl::StrCat(
                          "organisation ", peer->org_id,
                          member.ok() ? " is suspended from the exchange" : " is not enrolled")),
                      hie::v1::ERROR_REASON_ORG_NOT_ACTIVE);
  }
  return peer;
}

absl::Status AuditDirective(ConsentState& state, const Peer& peer, const hie::v1::Directive& d,
                            const std::string& what) {
  hie::v1::AuditEntry entry;
  entry.set_action(hie::v1::AUDIT_ACTION_DIRECTIVE);
  entry.set_actor_org(peer.org_id);
  entry.mutable_user()->set_user_id(peer.name);
  entry.mutable_user()->set_role(std::string(pki::RoleName(peer.role)));
  *entry.mutable_patient() = d.patient();
  entry.set_euid(d.euid());
  entry.set_outcome(d.status());
  entry.set_detail(absl::StrCat(what, " directive ", d.directive_id(), " version ", d.version(),
                                d.reason().empty() ? "" : absl::StrCat(": ", d.reason())));
  return state.audit->Append(std::move(entry)).status();
}

// A practice names its own org's patients only; operators may name anyone's.
absl::Status CheckOwnPatient(const Peer& peer, const hie::v1::LocalPatientRef& patient,
                             absl::string_view action) {
  if (patient.org_id().empty() || patient.local_id().empty()) {
    return absl::InvalidArgumentError("patient.org_id and patient.local_id are required");
  }
  if (peer.role == pki::Role::kNode && patient.org_id() != peer.org_id) {
    return absl::PermissionDeniedError(
        absl::StrCat("a practice ", action, " its own patients only: ", peer.org_id,
                     " cannot name ", patient.org_id(), "'s patient"));
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* Done(grpc::ServerUnaryReactor* reactor, const absl::Status& status) {
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// A directive change for the patient's EUID (and `current_euid` too, if the MPI now
// gives the patient another one), and for every registration the MPI links to the
// patient now (`links`): grants name the requester's registration, which a merge does
// not rename.
absl::Status AppendChange(ConsentState& state, const std::string& euid,
                          const std::string* current_euid, const PatientLinks* links = nullptr) {
  auto told = [](const absl::StatusOr<hie::v1::DirectiveChange>& change) {
    if (change.ok()) return absl::OkStatus();
    return absl::UnavailableError(
        absl::StrCat("the directive is stored but holders could not be told yet (file it again): ",
                     change.status().message()));
  };
  HIE_RETURN_IF_ERROR(told(state.feed->Append(euid)));
  if (current_euid != nullptr && !current_euid->empty() && *current_euid != euid) {
    HIE_RETURN_IF_ERROR(told(state.feed->Append(*current_euid)));
  }
  if (links != nullptr) {
    for (const LinkedRegistration& r : links->registrations) {
      HIE_RETURN_IF_ERROR(told(state.feed->AppendRegistration(r.org_id, r.local_id)));
    }
  }
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* ConsentServiceImpl::Finish(grpc::ServerUnaryReactor* reactor,
                                                     const grpc::CallbackServerContext& context,
                                                     absl::string_view method,
                                                     const hie::v1::LocalPatientRef* patient,
                                                     const absl::Status& status) {
  if (status.code() == absl::StatusCode::kPermissionDenied ||
      status.code() == absl::StatusCode::kUnauthenticated) {
    absl::StatusOr<Peer> peer = PeerFromContext(context);
    std::string org = peer.ok() ? peer->org_id : std::string("(unknown)");
    RefusalLimiter::Verdict verdict = state_->refusals.Admit(org, absl::Now());
    if (verdict.audit) {
      hie::v1::AuditEntry entry;
      entry.set_action(hie::v1::AUDIT_ACTION_REFUSE);
      entry.set_actor_org(org);
      if (peer.ok()) {
        entry.mutable_user()->set_user_id(peer->name);
        entry.mutable_user()->set_role(std::string(pki::RoleName(peer->role)));
      }
      if (patient != nullptr && !patient->org_id().empty() && !patient->local_id().empty()) {
        *entry.mutable_patient() = *patient;
      }
      entry.set_outcome("refused");
      entry.set_detail(absl::StrCat(
          method, ": ", status.message(),
          verdict.suppressed_before > 0
              ? absl::StrCat(" (", verdict.suppressed_before,
                             " earlier refusals of this organisation not audited: rate limit)")
              : ""));
      // The refusal stands whether or not it could be audited.
      (void)state_->audit->Append(std::move(entry));
      if (verdict.suppressed_before > 0) {
        LogWarning("refusals of ", org, " over the audit rate limit: ", verdict.suppressed_before,
                   " not audited");
      }
    }
  }
  return Done(reactor, status);
}

grpc::ServerUnaryReactor* ConsentServiceImpl::PutDirective(
    grpc::CallbackServerContext* context, const hie::v1::PutDirectiveRequest* request,
    hie::v1::Directive* response) {
  auto* reactor = context->DefaultReactor();
  const auto& patient = request->patient();
  auto finish = [&](const absl::Status& s) {
    return Finish(reactor, *context, "PutDirective", &patient, s);
  };
  absl::StatusOr<Peer> peer = ActivePeer(*context, *state_->exchange);
  if (!peer.ok()) return finish(peer.status());
  if (absl::Status s = CheckOwnPatient(*peer, patient, "files directives for"); !s.ok()) {
    return finish(s);
  }
  absl::StatusOr<PatientLinks> links =
      state_->exchange->CrossReference(patient.org_id(), patient.local_id());
  if (!links.ok()) return Done(reactor, links.status());
  absl::StatusOr<hie::v1::Directive> stored =
      state_->directives->Put(patient, links->euid, peer->org_id, request->consent_json());
  if (!stored.ok()) return Done(reactor, stored.status());
  // After the directive is stored (DirectiveFeed::Append): holders stop older grants.
  if (absl::Status s = AppendChange(*state_, stored->euid(), nullptr, &*links); !s.ok()) {
    return Done(reactor, s);
  }
  if (absl::Status s = AuditDirective(*state_, *peer, *stored, "filed"); !s.ok()) {
    return Done(reactor, s);
  }
  *response = *std::move(stored);
  return Done(reactor, absl::OkStatus());
}

grpc::ServerUnaryReactor* ConsentServiceImpl::RevokeDirective(
    grpc::CallbackServerContext* context, const hie::v1::RevokeDirectiveRequest* request,
    hie::v1::Directive* response) {
  auto* reactor = context->DefaultReactor();
  absl::StatusOr<Peer> peer = ActivePeer(*context, *state_->exchange);
  if (!peer.ok()) return Finish(reactor, *context, "RevokeDirective", nullptr, peer.status());
  absl::StatusOr<hie::v1::Directive> current = state_->directives->Get(request->directive_id());
  if (!current.ok()) return Done(reactor, current.status());
  absl::StatusOr<PatientLinks> links =
      state_->exchange->CrossReference(current->patient().org_id(), current->patient().local_id());
  if (!links.ok() && links.status().code() != absl::StatusCode::kNotFound) {
    return Done(reactor, links.status());
  }
  // A practice revokes the directives kept under its own registration of the patient
  // (those it filed, or an operator filed for it); another practice files a newer
  // directive instead. The refusal names neither the filer nor its patient, and is
  // audited under that patient so that the filer sees the attempt.
  if (peer->role == pki::Role::kNode && current->patient().org_id() != peer->org_id) {
    return Finish(reactor, *context, "RevokeDirective", &current->patient(),
                  absl::PermissionDeniedError(absl::StrCat(
                      "a practice revokes only the directives it filed: directive ",
                      request->directive_id(), " was filed by another organisation (", peer->org_id,
                      " may file a newer directive for its own patient)")));
  }
  absl::StatusOr<hie::v1::Directive> revoked =
      state_->directives->Revoke(request->directive_id(), peer->org_id, request->reason());
  if (!revoked.ok()) return Done(reactor, revoked.status());
  // The EUID it was filed under, and the patient's EUID now if the MPI has merged since.
  if (absl::Status s = AppendChange(*state_, revoked->euid(), links.ok() ? &links->euid : nullptr,
                                    links.ok() ? &*links : nullptr);
      !s.ok()) {
    return Done(reactor, s);
  }
  if (absl::Status s = AuditDirective(*state_, *peer, *revoked, "revoked"); !s.ok()) {
    return Done(reactor, s);
  }
  *response = *std::move(revoked);
  return Done(reactor, absl::OkStatus());
}

grpc::ServerUnaryReactor* ConsentServiceImpl::ListDirectives(
    grpc::CallbackServerContext* context, const hie::v1::ListDirectivesRequest* request,
    hie::v1::ListDirectivesResponse* response) {
  auto* reactor = context->DefaultReactor();
  const auto& patient = request->patient();
  absl::StatusOr<Peer> peer = ActivePeer(*context, *state_->exchange);
  if (!peer.ok()) return Finish(reactor, *context, "ListDirectives", &patient, peer.status());
  if (absl::Status s = CheckOwnPatient(*peer, patient, "lists directives of"); !s.ok()) {
    return Finish(reactor, *context, "ListDirectives", &patient, s);
  }
  // Directives filed at any practice the patient is linked to for certain.
  std::vector<hie::v1::LocalPatientRef> refs = {patient};
  absl::StatusOr<PatientLinks> links =
      state_->exchange->CrossReference(patient.org_id(), patient.local_id());
  if (links.ok()) {
    for (const auto& r : links->registrations) {
      if (!r.certain || (r.org_id == patient.org_id() && r.local_id == patient.local_id()))
        continue;
      hie::v1::LocalPatientRef ref;
      ref.set_org_id(r.org_id);
      ref.set_local_id(r.local_id);
      refs.push_back(std::move(ref));
    }
  } else if (links.status().code() != absl::StatusCode::kNotFound) {
    return Done(reactor, links.status());
  }
  absl::StatusOr<std::vector<hie::v1::Directive>> list =
      state_->directives->List(refs, request->include_history());
  if (!list.ok()) return Done(reactor, list.status());
  for (auto& d : *list) {
    // A practice does not learn from the list where else the patient is held.
    *response->add_directives() =
        peer->role == pki::Role::kNode ? PracticeView(std::move(d), peer->org_id) : std::move(d);
  }
  return Done(reactor, absl::OkStatus());
}

grpc::ServerUnaryReactor* ConsentServiceImpl::Authorize(grpc::CallbackServerContext* context,
                                                        const hie::v1::AuthorizeRequest* request,
                                                        hie::v1::AuthorizeResponse* response) {
  auto* reactor = context->DefaultReactor();
  absl::StatusOr<Peer> peer = PeerFromContext(*context);
  if (!peer.ok()) return Done(reactor, peer.status());
  AuthorizeInput input{.requester_org = peer->org_id,
                       .local_patient_id = request->local_patient_id(),
                       .purpose = request->purpose(),
                       .user = request->user(),
                       .query_id = request->query_id(),
                       .break_glass_reason = request->break_glass_reason()};
  absl::StatusOr<AuthorizeResult> result = state_->authorizer->Authorize(*state_->exchange, input);
  if (!result.ok()) {
    hie::v1::LocalPatientRef patient;
    patient.set_org_id(peer->org_id);
    patient.set_local_id(request->local_patient_id());
    return Finish(reactor, *context, "Authorize", &patient, result.status());
  }
  response->set_query_id(result->query_id);
  if (result->grant.has_value()) {
    *response->mutable_grant() = *std::move(result->grant);
  } else {
    response->mutable_denial()->set_reason(result->deny_reason);
    response->mutable_denial()->set_directive_id(result->deny_directive_id);
  }
  return Done(reactor, absl::OkStatus());
}

grpc::ServerUnaryReactor* ConsentServiceImpl::GetPublicKeys(
    grpc::CallbackServerContext* context, const hie::v1::GetPublicKeysRequest* request,
    hie::v1::GetPublicKeysResponse* response) {
  auto* reactor = context->DefaultReactor();
  for (auto& key : state_->keys->PublicKeys()) *response->add_keys() = std::move(key);
  return Done(reactor, absl::OkStatus());
}

grpc::ServerUnaryReactor* ConsentServiceImpl::ListDirectiveChanges(
    grpc::CallbackServerContext* context, const hie::v1::ListDirectiveChangesRequest* request,
    hie::v1::ListDirectiveChangesResponse* response) {
  auto* reactor = context->DefaultReactor();
  constexpr int kMaxChanges = 1000;
  int max = request->max_changes() > 0 && request->max_changes() < kMaxChanges
                ? request->max_changes()
                : kMaxChanges;
  // The last sequence first: changes appended meanwhile are returned now or next time.
  response->set_last_sequence(state_->feed->LastSequence());
  absl::StatusOr<std::vector<hie::v1::DirectiveChange>> changes =
      state_->feed->After(request->after_sequence(), max);
  if (!changes.ok()) return Done(reactor, changes.status());
  for (auto& c : *changes) *response->add_changes() = std::move(c);
  return Done(reactor, absl::OkStatus());
}

grpc::ServerUnaryReactor* ConsentServiceImpl::RotateSigningKey(
    grpc::CallbackServerContext* context, const hie::v1::RotateSigningKeyRequest* request,
    hie::v1::PublicKey* response) {
  auto* reactor = context->DefaultReactor();
  absl::StatusOr<hie::v1::PublicKey> key = state_->keys->Rotate();
  if (!key.ok()) return Done(reactor, key.status());
  *response = *std::move(key);
  return Done(reactor, absl::OkStatus());
}

}  // namespace hie::consent
