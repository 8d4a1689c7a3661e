#include "common/grpc/audit_witness.h"

#include <chrono>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "common/grpc/audit_service.h"
#include "common/grpc/peer_identity.h"
#include "common/grpc/status_convert.h"
#include "common/grpc/vector_writer.h"
#include "common/pki/identity.h"
#include "grpcpp/create_channel.h"

namespace hie {
namespace {

constexpr absl::Duration kDepositDeadline = absl::Seconds(10);

std::chrono::system_clock::time_point DeadlineIn(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace

grpc::ServerUnaryReactor* AuditWitnessService::Deposit(
    grpc::CallbackServerContext* context, const hie::v1::DepositCheckpointRequest* request,
    hie::v1::DepositCheckpointResponse* response) {
  auto* reactor = context->DefaultReactor();
  absl::StatusOr<Peer> peer = PeerFromContext(*context);
  std::vector<grpc::string_ref> pems =
      context->auth_context()->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (!peer.ok() || pems.empty()) {
    reactor->Finish(ToGrpcStatus(peer.ok() ? absl::UnauthenticatedError("no client certificate")
                                           : peer.status()));
    return reactor;
  }
  audit::Party caller{peer->org_id, std::string(pki::RoleName(peer->role))};
  absl::StatusOr<uint64_t> held = store_->Deposit(
      caller, absl::string_view(pems.front().data(), pems.front().size()), request->checkpoint());
  if (!held.ok()) {
    reactor->Finish(ToGrpcStatus(held.status()));
    return reactor;
  }
  response->set_witnessed_size(*held);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<hie::v1::SignedCheckpoint>* AuditWitnessService::ListCheckpoints(
    grpc::CallbackServerContext* context, const hie::v1::ListCheckpointsRequest* request) {
  using Writer = VectorWriter<hie::v1::SignedCheckpoint>;
  absl::StatusOr<Peer> peer = PeerFromContext(*context);
  if (!peer.ok()) return new Writer(ToGrpcStatus(peer.status()));
  audit::Party party{peer->org_id, std::string(pki::RoleName(peer->role))};
  if (peer->role == pki::Role::kOperator) {
    if (request->org_id().empty() || request->role().empty()) {
      return new Writer(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "name the party: org_id and role"));
    }
    party = {request->org_id(), request->role()};
  }
  absl::StatusOr<std::vector<hie::v1::SignedCheckpoint>> held = store_->List(party);
  if (!held.ok()) return new Writer(ToGrpcStatus(held.status()));
  return new Writer(*std::move(held));
}

absl::StatusOr<WitnessedCheckpoints> FetchWitnessedCheckpoints(
    const std::shared_ptr<grpc::Channel>& channel, absl::Duration deadline,
    const audit::Party& self, const std::string& ca_pem) {
  auto stub = hie::v1::AuditWitness::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(deadline));
  auto reader = stub->ListCheckpoints(&context, {});
  WitnessedCheckpoints out;
  hie::v1::SignedCheckpoint held;
  while (reader->Read(&held)) {
    absl::StatusOr<hie::v1::AuditCheckpoint> parsed = audit::ParseCheckpoint(held.checkpoint());
    if (!parsed.ok() || parsed->org_id() != self.org_id || parsed->role() != self.role) {
      ++out.ignored;
      continue;
    }
    absl::StatusOr<pki::CertIdentity> signer = pki::ReadCertIdentity(held.signer_certificate());
    absl::Time made =
        absl::FromUnixSeconds(parsed->time().seconds()) + absl::Nanoseconds(parsed->time().nanos());
    if (!signer.ok() || signer->org_id != self.org_id || pki::RoleName(signer->role) != self.role ||
        !pki::VerifyChain(held.signer_certificate(), ca_pem, made).ok() ||
        !audit::VerifyWithCertificate(held.signer_certificate(), held.checkpoint(),
                                      held.signature())
             .ok()) {
      ++out.ignored;
      continue;
    }
    out.checkpoints.push_back(*std::move(parsed));
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return FromGrpc(status);
  return out;
}

absl::StatusOr<audit::CheckpointerOptions> ValidateAuditCheckpointConfig(
    const ConfigFile& file, const hie::v1::ServerConfig& server, const ServerSettings& settings) {
  audit::CheckpointerOptions options;
  const hie::v1::AuditCheckpointConfig& c = server.audit_checkpoints();
  if (c.has_interval_seconds()) {
    if (c.interval_seconds() < 1 || c.interval_seconds() > 86400) {
      return file.FieldError("server.audit_checkpoints.interval_seconds", "must be 1..86400");
    }
    options.interval = absl::Seconds(c.interval_seconds());
  }
  if (c.has_every_entries()) {
    if (c.every_entries() < 1 || c.every_entries() > audit::kMaxEntriesPerCheckpoint) {
      return file.FieldError("server.audit_checkpoints.every_entries",
                             absl::StrCat("must be 1..", audit::kMaxEntriesPerCheckpoint));
    }
    options.every_entries = c.every_entries();
  }
  options.key_file = settings.tls.key_file;
  options.ca_file = settings.tls.ca_file;
  return options;
}

absl::Status EnableAuditWitnessing(std::vector<std::unique_ptr<grpc::Service>>* services,
                                   const std::shared_ptr<TlsContext>& tls,
                                   audit::CheckpointerOptions options,
                                   const std::vector<WitnessPeer>& witnesses, bool serve_witness) {
  AuditLogService* audit_service = nullptr;
  for (auto& service : *services) {
    if (auto* s = dynamic_cast<AuditLogService*>(service.get())) audit_service = s;
  }
  if (audit_service == nullptr) {
    return absl::FailedPreconditionError("no audit log service to witness");
  }
  pki::CertIdentity self = tls->self();
  options.self = {self.org_id, std::string(pki::RoleName(self.role))};
  std::ifstream ca_in(options.ca_file, std::ios::binary);
  std::string ca_pem((std::istreambuf_iterator<char>(ca_in)), std::istreambuf_iterator<char>());
  if (ca_pem.empty()) {
    return absl::FailedPreconditionError("cannot read the CA certificate " + options.ca_file);
  }
  std::vector<audit::Witness> deposit_to;
  std::vector<AuditLogService::WitnessSource> verify_with;
  for (const WitnessPeer& w : witnesses) {
    std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(
        w.peer.address, tls->ChannelCredentials({.org_id = w.peer.expected_org, .role = w.role}));
    auto stub =
        std::shared_ptr<hie::v1::AuditWitness::Stub>(hie::v1::AuditWitness::NewStub(channel));
    deposit_to.push_back(
        {w.name, w.peer.address, [stub](const hie::v1::SignedCheckpoint& checkpoint) {
           grpc::ClientContext context;
           context.set_deadline(DeadlineIn(kDepositDeadline));
           hie::v1::DepositCheckpointRequest request;
           *request.mutable_checkpoint() = checkpoint;
           hie::v1::DepositCheckpointResponse response;
           return FromGrpc(stub->Deposit(&context, request, &response));
         }});
    verify_with.push_back({w.name, w.peer.address, channel, options.self, ca_pem});
  }
  audit::AuditLog* log = audit_service->log();
  absl::StatusOr<std::unique_ptr<audit::Checkpointer>> checkpointer =
      audit::Checkpointer::Start(log, Clock::Real(), std::move(options), std::move(deposit_to));
  if (!checkpointer.ok()) return checkpointer.status();
  std::shared_ptr<void> keepalive = audit_service->keepalive();
  audit_service->EnableWitnessing(*std::move(checkpointer), std::move(verify_with));
  if (serve_witness) {
    auto store = std::make_shared<audit::WitnessStore>(log->store(), log, Clock::Real());
    // The witness store lives as long as the service; the log's owner through `keepalive`.
    auto hold =
        std::make_shared<std::pair<std::shared_ptr<void>, std::shared_ptr<void>>>(keepalive, store);
    services->push_back(std::make_unique<AuditWitnessService>(store.get(), hold));
  }
  return absl::OkStatus();
}

}  // namespace hie
