#include "common/grpc/audit_service.h"

#include <algorithm>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/grpc/audit_witness.h"
#include "common/grpc/peer_identity.h"
#include "common/grpc/status_convert.h"
#include "common/grpc/vector_writer.h"
#include "google/protobuf/util/time_util.h"

namespace hie {

grpc::ServerUnaryReactor* AuditLogService::Append(grpc::CallbackServerContext* context,
                                                  const hie::v1::AppendAuditRequest* request,
                                                  hie::v1::AuditEntry* response) {
  auto* reactor = context->DefaultReactor();
  absl::StatusOr<Peer> peer = PeerFromContext(*context);
  if (!peer.ok()) {
    reactor->Finish(ToGrpcStatus(peer.status()));
    return reactor;
  }
  hie::v1::AuditEntry entry = request->entry();
  entry.set_actor_org(peer->org_id);
  absl::StatusOr<hie::v1::AuditEntry> appended = log_->Append(std::move(entry));
  if (!appended.ok()) {
    reactor->Finish(ToGrpcStatus(appended.status()));
    return reactor;
  }
  *response = *std::move(appended);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<hie::v1::AuditEntry>* AuditLogService::QueryByPatient(
    grpc::CallbackServerContext* context, const hie::v1::QueryByPatientRequest* request) {
  using Writer = VectorWriter<hie::v1::AuditEntry>;
  absl::StatusOr<Peer> peer = PeerFromContext(*context);
  if (!peer.ok()) return new Writer(ToGrpcStatus(peer.status()));
  audit::PatientKey key;
  if (request->has_local()) {
    if (request->local().org_id().empty() || request->local().local_id().empty()) {
      return new Writer(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                     "local.org_id and local.local_id are both required"));
    }
    key = audit::PatientKey::Local(request->local().org_id(), request->local().local_id());
  } else if (!request->euid().empty()) {
    key = audit::PatientKey::Euid(request->euid());
  } else {
    return new Writer(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "name the patient: local or euid"));
  }
  if (peer->role == pki::Role::kNode && key.org_id != peer->org_id) {
    return new Writer(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                   absl::StrCat("a practice may ask about its own patients only (",
                                                peer->org_id, "'s local ids)")));
  }
  std::vector<audit::PatientKey> keys = {key};
  if (resolver_) {
    absl::StatusOr<std::vector<audit::PatientKey>> resolved = resolver_(key);
    if (!resolved.ok()) return new Writer(ToGrpcStatus(resolved.status()));
    keys = *std::move(resolved);
  }
  std::vector<hie::v1::AuditEntry> entries;
  std::set<uint64_t> seen;
  int64_t since = request->has_since()
                      ? google::protobuf::util::TimeUtil::TimestampToNanoseconds(request->since())
                      : 0;
  for (const audit::PatientKey& k : keys) {
    absl::StatusOr<std::vector<hie::v1::AuditEntry>> found = log_->QueryByPatient(k);
    if (!found.ok()) return new Writer(ToGrpcStatus(found.status()));
    for (auto& e : *found) {
      if (request->action() != hie::v1::AUDIT_ACTION_UNSPECIFIED &&
          e.action() != request->action()) {
        continue;
      }
      if (since != 0 &&
          google::protobuf::util::TimeUtil::TimestampToNanoseconds(e.time()) < since) {
        continue;
      }
      if (!seen.insert(e.sequence()).second) continue;
      if (view_) {
        std::optional<hie::v1::AuditEntry> visible = view_(*peer, std::move(e));
        if (visible.has_value()) entries.push_back(*std::move(visible));
      } else {
        entries.push_back(std::move(e));
      }
    }
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.sequence() < b.sequence(); });
  return new Writer(std::move(entries));
}

namespace {

constexpr absl::Duration kWitnessDeadline = absl::Seconds(5);

void FillVerifyResponse(const audit::VerifyReport& report, hie::v1::VerifyAuditResponse* response) {
  response->set_ok(report.ok);
  response->set_entries_checked(report.entries_checked);
  response->set_first_bad_sequence(report.first_bad_sequence);
  response->set_problem(report.ok ? "" : report.problem + ": " + report.detail);
  response->set_head_hash(report.head_hash);
  response->set_witnessed_size(report.witnessed_size);
}

}  // namespace

void AuditLogService::EnableWitnessing(std::unique_ptr<audit::Checkpointer> checkpointer,
                                       std::vector<WitnessSource> witnesses) {
  checkpointer_ = std::move(checkpointer);
  witnesses_ = std::move(witnesses);
}

grpc::ServerUnaryReactor* AuditLogService::Verify(grpc::CallbackServerContext* context,
                                                  const hie::v1::VerifyAuditRequest* request,
                                                  hie::v1::VerifyAuditResponse* response) {
  auto* reactor = context->DefaultReactor();
  if (witnesses_.empty()) {
    absl::StatusOr<audit::VerifyReport> report = log_->Verify();
    if (!report.ok()) {
      reactor->Finish(ToGrpcStatus(report.status()));
      return reactor;
    }
    FillVerifyResponse(*report, response);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  // Outbound calls and a whole-chain walk do not belong on a reactor thread. The
  // witnesses are asked now, never the local store: a rewritten store cannot vouch for
  // itself. Operators only (see each daemon's table), so a thread per call is bounded.
  // The witnesses are asked at once, each within half the caller's remaining time (at
  // most kWitnessDeadline): a witness that hangs (frozen, or a black hole in between)
  // must leave time to answer "unverified" rather than let the caller's deadline pass.
  absl::Duration remaining = absl::FromChrono(context->deadline()) - absl::Now();
  absl::Duration ask_for = std::clamp(remaining / 2, absl::Milliseconds(200), kWitnessDeadline);
  std::thread([this, reactor, response, ask_for] {
    std::vector<hie::v1::AuditCheckpoint> witnessed;
    std::vector<absl::StatusOr<WitnessedCheckpoints>> answers(witnesses_.size(),
                                                              absl::UnavailableError("not asked"));
    {
      std::vector<std::thread> askers;
      for (size_t i = 0; i < witnesses_.size(); ++i) {
        askers.emplace_back([this, i, ask_for, &answers] {
          const WitnessSource& w = witnesses_[i];
          answers[i] = FetchWitnessedCheckpoints(w.channel, ask_for, w.self, w.ca_pem);
        });
      }
      for (std::thread& t : askers) t.join();
    }
    for (size_t i = 0; i < witnesses_.size(); ++i) {
      const WitnessSource& w = witnesses_[i];
      hie::v1::WitnessReport* out = response->add_witnesses();
      out->set_name(w.name);
      out->set_address(w.address);
      const absl::StatusOr<WitnessedCheckpoints>& held = answers[i];
      if (!held.ok()) {
        out->set_error(std::string(held.status().message()));
        continue;
      }
      out->set_reachable(true);
      out->set_checkpoints(held->checkpoints.size());
      if (held->ignored > 0) {
        out->set_error(
            absl::StrCat(held->ignored, " checkpoints ignored: not signed by this daemon's key"));
      }
      for (const auto& c : held->checkpoints) {
        out->set_witnessed_size(std::max(out->witnessed_size(), c.size()));
      }
      witnessed.insert(witnessed.end(), held->checkpoints.begin(), held->checkpoints.end());
    }
    absl::StatusOr<audit::VerifyReport> report = log_->VerifyAgainst(witnessed);
    if (!report.ok()) {
      reactor->Finish(ToGrpcStatus(report.status()));
      return;
    }
    FillVerifyResponse(*report, response);
    // A witness that does not answer leaves the chain unverified, never intact: a store
    // cut while the daemon was stopped passes its own walk, and only the witnesses can
    // show the cut. An attacker who keeps them unreachable must not get "intact".
    std::vector<std::string> unreachable;
    for (const auto& w : response->witnesses()) {
      if (!w.reachable()) unreachable.push_back(w.name());
    }
    if (report->ok && !unreachable.empty()) {
      response->set_ok(false);
      response->set_first_bad_sequence(0);
      response->set_problem(absl::StrCat(kUnverifiedProblem, ": witness ",
                                         absl::StrJoin(unreachable, ", "),
                                         " did not answer; the chain was checked on its own only"));
    }
    reactor->Finish(grpc::Status::OK);
  }).detach();
  return reactor;
}

}  // namespace hie
