#include "mpi/service/mpi_service.h"

#include "absl/strings/str_cat.h"
#include "common/grpc/peer_identity.h"
#include "common/grpc/status_convert.h"
#include "common/log/log.h"
#include "common/time/proto_time.h"
#include "mpi/index/person_proto.h"

namespace hie::mpi {
namespace {

// A practice's patient id: 1-128 printable ASCII characters.
absl::Status CheckLocalId(const std::string& local_id) {
  if (local_id.empty() || local_id.size() > 128) {
    return absl::InvalidArgumentError("local_id must be 1-128 characters");
  }
  for (char c : local_id) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError("local_id must be printable ASCII without spaces");
    }
  }
  return absl::OkStatus();
}

hie::v1::MatchGrade ToProto(Grade grade) {
  switch (grade) {
    case Grade::kCertain:
      return hie::v1::MATCH_GRADE_CERTAIN;
    case Grade::kProbable:
      return hie::v1::MATCH_GRADE_PROBABLE;
    case Grade::kPossible:
      return hie::v1::MATCH_GRADE_POSSIBLE;
    case Grade::kNone:
      return hie::v1::MATCH_GRADE_NONE;
  }
  return hie::v1::MATCH_GRADE_UNSPECIFIED;
}

// The caller, if its organisation may act: practices must be enrolled and active;
// the exchange's own services and operators are members by their role.
absl::StatusOr<Peer> ActivePeer(const grpc::CallbackServerContext& context,
                                const Directory& directory) {
  absl::StatusOr<Peer> peer = PeerFromContext(context);
  if (!peer.ok()) return peer;
  if (peer->role == pki::Role::kNode) {
    if (absl::Status s = directory.CheckActive(peer->org_id); !s.ok()) return s;
  }
  return peer;
}

// Records an operator's decision or a membership change in the MPI's audit chain.
absl::Status Audit(const MpiState& state, const grpc::CallbackServerContext& context,
                   hie::v1::AuditAction action, const std::string& outcome,
                   const std::string& detail, const hie::v1::LocalPatientRef* patient,
                   const std::string& euid) {
  absl::StatusOr<Peer> peer = PeerFromContext(context);
  if (!peer.ok()) return peer.status();
  hie::v1::AuditEntry entry;
  entry.set_action(action);
  entry.set_actor_org(peer->org_id);
  entry.mutable_user()->set_user_id(peer->name);
  entry.mutable_user()->set_role(std::string(pki::RoleName(peer->role)));
  if (patient != nullptr) *entry.mutable_patient() = *patient;
  entry.set_euid(euid);
  entry.set_outcome(outcome);
  entry.set_detail(detail);
  return state.audit->Append(std::move(entry)).status();
}

// Finishes `reactor` with `result`'s status, or with OK after `fill(*result)`.
template <typename T, typename Fill>
grpc::ServerUnaryReactor* Answer(grpc::ServerUnaryReactor* reactor, const absl::StatusOr<T>& result,
                                 Fill fill) {
  if (!result.ok()) {
    reactor->Finish(ToGrpcStatus(result.status()));
  } else {
    fill(*result);
    reactor->Finish(grpc::Status::OK);
  }
  return reactor;
}

RegistrationRef Ref(const hie::v1::LocalPatientRef& r) { return {r.org_id(), r.local_id()}; }

void FillCrossReference(const CrossReferenceResult& xref, hie::v1::CrossReference* out) {
  out->set_euid(xref.euid);
  for (const auto& r : xref.registrations) {
    auto* linked = out->add_registrations();
    linked->mutable_patient()->set_org_id(r.org_id);
    linked->mutable_patient()->set_local_id(r.local_id);
    linked->set_grade(hie::v1::MATCH_GRADE_CERTAIN);
  }
}

// Audits a successful operator decision on persons, then answers with the cluster.
template <typename Response>
grpc::ServerUnaryReactor* AnswerDecision(const MpiState& state,
                                         grpc::CallbackServerContext& context,
                                         absl::StatusOr<CrossReferenceResult> result,
                                         const std::string& outcome, const std::string& detail,
                                         const hie::v1::LocalPatientRef* patient,
                                         Response* response) {
  if (result.ok()) {
    absl::Status audited =
        Audit(state, context, hie::v1::AUDIT_ACTION_LINK, outcome, detail, patient, result->euid);
    if (!audited.ok()) result = audited;
  }
  return Answer(context.DefaultReactor(), result, [&](const CrossReferenceResult& x) {
    FillCrossReference(x, response->add_clusters());
  });
}

void FillModelReport(const PatientIndex::FittedModel& fitted, hie::v1::MatchModelReport* out) {
  if (fitted.fitted_at != absl::InfinitePast()) {
    *out->mutable_fitted_at() = ToProtoTime(fitted.fitted_at);
  }
  out->set_registrations(fitted.registrations);
  out->set_sampled(fitted.sampled);
  out->set_candidate_pairs(fitted.candidate_pairs);
  out->set_random_pairs(fitted.random_pairs);
  out->set_em_iterations(fitted.em_iterations);
  out->set_match_prior(fitted.model.prior());
  for (int f = 0; f < kFieldCount; ++f) {
    for (int l = 0; l + 1 < kLevelCount; ++l) {
      auto field = static_cast<Field>(f);
      auto level = static_cast<Level>(l);
      auto* w = out->add_levels();
      w->set_field(FieldName(field));
      w->set_level(LevelName(level));
      w->set_m(fitted.model.m(field, level));
      w->set_u(fitted.model.u(field, level));
      w->set_weight(fitted.model.Weight(field, level));
    }
  }
}

void FillRegisterResponse(const RegisterResult& r, hie::v1::RegisterPatientResponse* out) {
  out->set_euid(r.euid);
  out->set_version(r.version);
  out->set_grade(ToProto(r.grade));
  out->set_score(r.score);
  out->set_review_id(r.review_id);
}

}  // namespace

grpc::ServerUnaryReactor* MasterPatientIndexService::RegisterPatient(
    grpc::CallbackServerContext* context, const hie::v1::RegisterPatientRequest* request,
    hie::v1::RegisterPatientResponse* response) {
  auto* reactor = context->DefaultReactor();
  absl::StatusOr<Peer> peer = ActivePeer(*context, *state_->directory);
  if (!peer.ok()) {
    reactor->Finish(ToGrpcStatus(peer.status()));
    return reactor;
  }
  if (absl::Status s = CheckLocalId(request->local_id()); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  // The registering organisation is the caller's, from its certificate.
  const Person person = PersonFromDemographics(request->demographics());
  WatchedPlacement placed =
      PlaceWatched(*state_->monitor, peer->org_id, [&](const RegisterOptions& options) {
        return state_->index->Register(peer->org_id, request->local_id(), person, options);
      });
  return AnswerRegistration(*context, *peer, request->local_id(), std::move(placed), response);
}

grpc::ServerUnaryReactor* MasterPatientIndexService::AnswerRegistration(
    grpc::CallbackServerContext& context, const Peer& peer, const std::string& local_id,
    WatchedPlacement placed, hie::v1::RegisterPatientResponse* response) {
  absl::StatusOr<RegisterResult>& result = placed.result;
  const std::optional<RegistrationMonitor::Alert>& alert = placed.alert;
  std::optional<PlacementAudit> audit =
      result.ok() ? AuditOfPlacement(*result, state_->index->thresholds()) : std::nullopt;
  if (audit.has_value()) {
    hie::v1::LocalPatientRef patient;
    patient.set_org_id(peer.org_id);
    patient.set_local_id(local_id);
    absl::Status audited = Audit(*state_, context, hie::v1::AUDIT_ACTION_LINK, audit->outcome,
                                 audit->detail, &patient, result->euid);
    if (audited.ok() && alert.has_value()) {
      std::string detail = RegistrationMonitor::Describe(*alert);
      LogWarning("registration alert: ", detail);
      // Filed under the registration that crossed the threshold.
      audited = Audit(*state_, context, hie::v1::AUDIT_ACTION_ALERT, "registration rate", detail,
                      &patient, result->euid);
    }
    if (!audited.ok()) result = audited;
  }
  const bool node = peer.role == pki::Role::kNode;
  return Answer(context.DefaultReactor(), result, [&](const RegisterResult& r) {
    FillRegisterResponse(r, response);
    if (node) response->set_score(0);
  });
}

grpc::ServerUnaryReactor* MasterPatientIndexService::RemovePatient(
    grpc::CallbackServerContext* context, const hie::v1::RemovePatientRequest* request,
    hie::v1::RemovePatientResponse* response) {
  auto* reactor = context->DefaultReactor();
  absl::StatusOr<Peer> peer = ActivePeer(*context, *state_->directory);
  if (!peer.ok()) {
    reactor->Finish(ToGrpcStatus(peer.status()));
    return reactor;
  }
  absl::Status removed = state_->index->Remove(peer->org_id, request->local_id());
  if (removed.ok()) {
    // A removal is audited like a link: it changes who the registration belongs to.
    hie::v1::LocalPatientRef ref;
    ref.set_org_id(peer->org_id);
    ref.set_local_id(request->local_id());
    removed = Audit(*state_, *context, hie::v1::AUDIT_ACTION_LINK, "removed",
                    absl::StrCat("registration ", peer->org_id, "/", request->local_id(),
                                 " removed by its organisation"),
                    &ref, "");
  }
  reactor->Finish(ToGrpcStatus(removed));
  return reactor;
}

grpc::ServerUnaryReactor* MasterPatientIndexService::GetCrossReference(
    grpc::CallbackServerContext* context, const hie::v1::GetCrossReferenceRequest* request,
    hie::v1::CrossReference* response) {
  auto* reactor = context->DefaultReactor();
  absl::StatusOr<Peer> peer = ActivePeer(*context, *state_->directory);
  if (!peer.ok()) {
    reactor->Finish(ToGrpcStatus(peer.status()));
    return reactor;
  }
  // A practice sees its own registrations of the person only; the consent service
  // and operators see every holder.
  const bool node = peer->role == pki::Role::kNode;
  absl::StatusOr<CrossReferenceResult> xref;
  if (request->has_local()) {
    xref = node ? state_->index->MemberCrossReference(peer->org_id, Ref(request->local()))
                : state_->index->CrossReference(request->local().org_id(),
                                                request->local().local_id());
  } else if (!request->euid().empty()) {
    xref = node ? state_->index->MemberCrossReferenceByEuid(peer->org_id, request->euid())
                : state_->index->CrossReferenceByEuid(request->euid());
  } else {
    xref = absl::InvalidArgumentError("name the patient by local reference or EUID");
  }
  return Answer(reactor, xref,
                [&](const CrossReferenceResult& x) { FillCrossReference(x, response); });
}

grpc::ServerUnaryReactor* MasterPatientIndexService::UpdatePatient(
    grpc::CallbackServerContext* context, const hie::v1::UpdatePatientRequest* request,
    hie::v1::RegisterPatientResponse* response) {
  auto* reactor = context->DefaultReactor();
  absl::StatusOr<Peer> peer = ActivePeer(*context, *state_->directory);
  if (!peer.ok()) {
    reactor->Finish(ToGrpcStatus(peer.status()));
    return reactor;
  }
  const Person person = PersonFromDemographics(request->demographics());
  WatchedPlacement placed =
      PlaceWatched(*state_->monitor, peer->org_id, [&](const RegisterOptions& options) {
        return state_->index->Update(peer->org_id, request->local_id(), person,
                                     request->expected_version(), options);
      });
  return AnswerRegistration(*context, *peer, request->local_id(), std::move(placed), response);
}

grpc::ServerUnaryReactor* MasterPatientIndexService::SearchPatients(
    grpc::CallbackServerContext* context, const hie::v1::SearchPatientsRequest* request,
    hie::v1::SearchPatientsResponse* response) {
  auto* reactor = context->DefaultReactor();
  absl::StatusOr<Peer> peer = ActivePeer(*context, *state_->directory);
  if (!peer.ok()) {
    reactor->Finish(ToGrpcStatus(peer.status()));
    return reactor;
  }
  int max = request->max_results() == 0 ? 10 : request->max_results();
  if (max < 1 || max > 100) {
    reactor->Finish(ToGrpcStatus(absl::InvalidArgumentError("max_results must be 1-100")));
    return reactor;
  }
  Person person = PersonFromDemographics(request->demographics());
  if (person.given.empty() && person.family.empty()) {
    reactor->Finish(ToGrpcStatus(absl::InvalidArgumentError("demographics need a name")));
    return reactor;
  }
  Grade min_grade = Grade::kPossible;
  switch (request->min_grade()) {
    case hie::v1::MATCH_GRADE_CERTAIN:
      min_grade = Grade::kCertain;
      break;
    case hie::v1::MATCH_GRADE_PROBABLE:
      min_grade = Grade::kProbable;
      break;
    default:
      break;
  }
  PatientIndex::SearchResult found =
      state_->index->Search(person, static_cast<size_t>(max), min_grade,
                            peer->role == pki::Role::kNode ? peer->org_id : "");
  // How many registrations were scored counts registrations like the patient's: a
  // practice is not told (it would tell how many hold someone).
  if (peer->role != pki::Role::kNode) {
    response->set_candidates_scored(static_cast<int32_t>(found.candidates_scored));
  }
  response->set_candidates_truncated(found.candidates_truncated);
  for (const auto& c : found.candidates) {
    auto* out = response->add_candidates();
    out->set_euid(c.euid);
    // The score moves with each field that agrees: a practice searching with a guessed
    // identifier would learn from it whether the guess is right. It gets the grade only.
    if (peer->role != pki::Role::kNode) out->set_score(c.score);
    out->set_grade(ToProto(c.grade));
    // Names and birth date only: a search reveals candidates, never their holders.
    auto stored = state_->index->GetPerson(c.best.org_id, c.best.local_id);
    if (stored.ok()) {
      hie::v1::Demographics d = DemographicsFromPerson(*stored);
      auto* shown = out->mutable_demographics();
      *shown->mutable_names() = d.names();
      *shown->mutable_birth_date() = d.birth_date();
    }
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* MasterPatientIndexService::Merge(grpc::CallbackServerContext* context,
                                                           const hie::v1::MergeRequest* request,
                                                           hie::v1::LinkResponse* response) {
  return AnswerDecision(
      *state_, *context,
      state_->index->Merge(request->from_euid(), request->into_euid(), request->reason()), "merge",
      absl::StrCat(request->reason(), " (", request->from_euid(), " into ", request->into_euid(),
                   ")"),
      nullptr, response);
}

grpc::ServerUnaryReactor* MasterPatientIndexService::Link(grpc::CallbackServerContext* context,
                                                          const hie::v1::LinkRequest* request,
                                                          hie::v1::LinkResponse* response) {
  return AnswerDecision(
      *state_, *context,
      state_->index->Link(Ref(request->a()), Ref(request->b()), request->reason()), "link",
      absl::StrCat(request->reason(), " (with ", request->b().org_id(), "/",
                   request->b().local_id(), ")"),
      &request->a(), response);
}

grpc::ServerUnaryReactor* MasterPatientIndexService::Unlink(grpc::CallbackServerContext* context,
                                                            const hie::v1::UnlinkRequest* request,
                                                            hie::v1::LinkResponse* response) {
  return AnswerDecision(
      *state_, *context,
      state_->index->Unlink(Ref(request->a()), Ref(request->b()), request->reason()), "unlink",
      absl::StrCat(request->reason(), " (from ", request->a().org_id(), "/",
                   request->a().local_id(), ")"),
      &request->b(), response);
}

grpc::ServerUnaryReactor* MasterPatientIndexService::ListReviews(
    grpc::CallbackServerContext* context, const hie::v1::ListReviewsRequest* request,
    hie::v1::ListReviewsResponse* response) {
  int page_size = request->page_size() == 0 ? 50 : request->page_size();
  if (page_size < 1 || page_size > 500) {
    return Answer(context->DefaultReactor(),
                  absl::StatusOr<int>(absl::InvalidArgumentError("page_size must be 1-500")),
                  [](int) {});
  }
  return Answer(context->DefaultReactor(), state_->index->ListReviews(),
                [&](const std::vector<PatientIndex::ReviewItem>& items) {
                  response->set_total_open(static_cast<int64_t>(items.size()));
                  for (const auto& item : items) {
                    if (!request->page_token().empty() && item.review_id <= request->page_token()) {
                      continue;
                    }
                    if (response->items_size() == page_size) {
                      response->set_next_page_token(response->items(page_size - 1).review_id());
                      break;
                    }
                    auto* out = response->add_items();
                    out->set_review_id(item.review_id);
                    out->mutable_a()->set_org_id(item.a.org_id);
                    out->mutable_a()->set_local_id(item.a.local_id);
                    out->mutable_b()->set_org_id(item.b.org_id);
                    out->mutable_b()->set_local_id(item.b.local_id);
                    out->set_score(item.score);
                    out->set_reason(!item.reason.empty()             ? item.reason
                                    : item.a.org_id == item.b.org_id ? "same organisation"
                                                                     : "between thresholds");
                  }
                });
}

grpc::ServerUnaryReactor* MasterPatientIndexService::ResolveReview(
    grpc::CallbackServerContext* context, const hie::v1::ResolveReviewRequest* request,
    hie::v1::ResolveReviewResponse* response) {
  if (request->decision() == hie::v1::ResolveReviewRequest::DECISION_UNSPECIFIED) {
    return Answer(context->DefaultReactor(),
                  absl::StatusOr<int>(absl::InvalidArgumentError(
                      "decision must be DECISION_LINK or DECISION_KEEP_APART")),
                  [](int) {});
  }
  bool same = request->decision() == hie::v1::ResolveReviewRequest::DECISION_LINK;
  return AnswerDecision(*state_, *context,
                        state_->index->ResolveReview(request->review_id(), same, request->reason()),
                        same ? "review: link" : "review: keep apart",
                        absl::StrCat(request->reason(), " (review ", request->review_id(), ")"),
                        nullptr, response);
}

grpc::ServerUnaryReactor* MasterPatientIndexService::ExplainMatch(
    grpc::CallbackServerContext* context, const hie::v1::ExplainMatchRequest* request,
    hie::v1::MatchExplanation* response) {
  return Answer(context->DefaultReactor(),
                state_->index->Explain(Ref(request->a()), Ref(request->b())),
                [&](const PatientIndex::Explanation& e) {
                  for (const auto& f : e.score.fields) {
                    auto* out = response->add_fields();
                    out->set_field(FieldName(f.field));
                    out->set_level(LevelName(f.level));
                    out->set_weight(f.weight);
                  }
                  response->set_total(e.score.total);
                  response->set_upper_threshold(state_->index->thresholds().upper);
                  response->set_lower_threshold(state_->index->thresholds().lower);
                  response->set_grade(ToProto(e.decision.grade));
                  response->set_decided_by(e.manual.empty() ? e.decision.decided_by : e.manual);
                });
}

grpc::ServerUnaryReactor* DirectoryService::AnswerMembership(
    grpc::CallbackServerContext& context, absl::StatusOr<hie::v1::Organization> result,
    const std::string& outcome, const std::string& detail, hie::v1::Organization* response) {
  if (result.ok()) {
    absl::Status audited =
        Audit(*state_, context, hie::v1::AUDIT_ACTION_MEMBERSHIP, outcome, detail, nullptr, "");
    if (!audited.ok()) result = audited;
  }
  return Answer(context.DefaultReactor(), result,
                [&](const hie::v1::Organization& org) { *response = org; });
}

grpc::ServerUnaryReactor* DirectoryService::EnrollOrganization(
    grpc::CallbackServerContext* context, const hie::v1::EnrollOrganizationRequest* request,
    hie::v1::Organization* response) {
  return AnswerMembership(*context, state_->directory->Enroll(*request), "enroll",
                          absl::StrCat("enrolled ", request->org_id()), response);
}

grpc::ServerUnaryReactor* DirectoryService::SuspendOrganization(
    grpc::CallbackServerContext* context, const hie::v1::SuspendOrganizationRequest* request,
    hie::v1::Organization* response) {
  return AnswerMembership(
      *context, state_->directory->Suspend(request->org_id(), request->reason()), "suspend",
      absl::StrCat(request->org_id(), ": ", request->reason()), response);
}

grpc::ServerUnaryReactor* DirectoryService::ReinstateOrganization(
    grpc::CallbackServerContext* context, const hie::v1::ReinstateOrganizationRequest* request,
    hie::v1::Organization* response) {
  return AnswerMembership(
      *context, state_->directory->Reinstate(request->org_id(), request->reason()), "reinstate",
      absl::StrCat(request->org_id(), ": ", request->reason()), response);
}

grpc::ServerUnaryReactor* DirectoryService::SetEndpoint(grpc::CallbackServerContext* context,
                                                        const hie::v1::SetEndpointRequest* request,
                                                        hie::v1::Organization* response) {
  return AnswerMembership(
      *context, state_->directory->SetEndpoint(request->org_id(), request->endpoint()),
      "set endpoint", absl::StrCat(request->org_id(), " -> ", request->endpoint()), response);
}

grpc::ServerUnaryReactor* DirectoryService::GetOrganization(
    grpc::CallbackServerContext* context, const hie::v1::GetOrganizationRequest* request,
    hie::v1::Organization* response) {
  return Answer(context->DefaultReactor(), state_->directory->Get(request->org_id()),
                [&](const hie::v1::Organization& org) { *response = org; });
}

grpc::ServerUnaryReactor* DirectoryService::ListOrganizations(
    grpc::CallbackServerContext* context, const hie::v1::ListOrganizationsRequest* request,
    hie::v1::ListOrganizationsResponse* response) {
  int page_size = request->page_size();
  if (page_size < 0 || page_size > 1000) {
    return Answer(context->DefaultReactor(),
                  absl::StatusOr<int>(absl::InvalidArgumentError("page_size must be 0-1000")),
                  [](int) {});
  }
  if (page_size == 0) page_size = 100;
  // The page token is the last org id of the previous page.
  std::vector<hie::v1::Organization> all = state_->directory->List(request->state());
  for (const auto& org : all) {
    if (!request->page_token().empty() && org.org_id() <= request->page_token()) continue;
    if (response->organizations_size() == page_size) {
      response->set_next_page_token(response->organizations(page_size - 1).org_id());
      break;
    }
    *response->add_organizations() = org;
  }
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* MasterPatientIndexService::GetMatchModel(
    grpc::CallbackServerContext* context, const hie::v1::GetMatchModelRequest*,
    hie::v1::MatchModelReport* response) {
  FillModelReport(state_->index->Model(), response);
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* MasterPatientIndexService::FitMatchModel(
    grpc::CallbackServerContext* context, const hie::v1::FitMatchModelRequest* request,
    hie::v1::MatchModelReport* response) {
  absl::StatusOr<PatientIndex::FittedModel> fitted =
      request->reason().empty() ? absl::InvalidArgumentError("a reason is required")
                                : state_->index->FitModel(PatientIndex::FitOptions{});
  if (fitted.ok()) {
    absl::Status audited =
        Audit(*state_, *context, hie::v1::AUDIT_ACTION_MATCH_MODEL, "fitted",
              absl::StrCat(request->reason(), " (", fitted->registrations, " registrations, ",
                           fitted->candidate_pairs, " candidate pairs)"),
              nullptr, "");
    if (!audited.ok()) fitted = audited;
  }
  return Answer(context->DefaultReactor(), fitted,
                [&](const PatientIndex::FittedModel& f) { FillModelReport(f, response); });
}

}  // namespace hie::mpi
