#include "node/service/users_service.h"

#include "absl/strings/str_cat.h"
#include "common/grpc/peer_identity.h"
#include "common/grpc/status_convert.h"
#include "common/time/proto_time.h"
#include "node/domain/account_audit.h"

namespace hie::node {
namespace {

// Calls waiting for the service's thread; more are refused.
constexpr size_t kMaxQueued = 32;

absl::Status CheckOwnOrgOrOperator(const grpc::CallbackServerContext& context,
                                   const std::string& own_org) {
  absl::StatusOr<Peer> peer = PeerFromContext(context);
  if (!peer.ok()) return peer.status();
  if (peer->role == pki::Role::kOperator || peer->org_id == own_org) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("this node serves ", own_org, "; ", peer->org_id, " may not manage its users"));
}

void ToProto(const Account& account, hie::v1::User* out) {
  out->set_login(account.login);
  out->set_display_name(account.display_name);
  out->set_role(UserRoleToProto(account.role));
  out->set_patient_id(account.patient_id);
  out->set_disabled(account.disabled);
  out->set_must_change_password(account.must_change_password);
  out->set_totp_enabled(account.totp_enabled);
  *out->mutable_created_at() = ToProtoTime(account.created_at);
  if (account.last_sign_in) *out->mutable_last_sign_in_at() = ToProtoTime(*account.last_sign_in);
  out->set_failed_attempts(account.failed_attempts);
  if (account.locked_until) *out->mutable_locked_until() = ToProtoTime(*account.locked_until);
}

// Puts an administrator's change to `login` in the node's audit chain, with the
// certificate that made it as the actor; the change is answered only once it is there.
absl::Status Audit(NodeState& state, const grpc::CallbackServerContext& context, std::string event,
                   const std::string& login, std::string detail = "") {
  absl::StatusOr<Peer> peer = PeerFromContext(context);
  hie::v1::AuditEntry entry =
      AccountAuditEntry({.event = std::move(event),
                         .login = login,
                         .actor = peer.ok() ? absl::StrCat(peer->name, " of ", peer->org_id) : "",
                         .actor_role = peer.ok() ? std::string(pki::RoleName(peer->role)) : "",
                         .detail = absl::StrCat("hiectl", detail.empty() ? "" : ", ", detail)});
  entry.set_actor_org(state.own_org);
  return state.audit->Append(std::move(entry)).status();
}

}  // namespace

UsersService::UsersService(std::shared_ptr<NodeState> state)
    : state_(std::move(state)), thread_([this] { Loop(); }) {}

UsersService::~UsersService() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void UsersService::Loop() {
  for (;;) {
    std::function<void(bool)> job;
    bool run = true;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](UsersService* s)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) { return s->stopping_ || !s->queue_.empty(); },
          this));
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      run = !stopping_;
    }
    job(run);
  }
}

grpc::ServerUnaryReactor* UsersService::Run(grpc::CallbackServerContext* context,
                                            std::function<absl::Status()> work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status s = CheckOwnOrgOrOperator(*context, state_->own_org); !s.ok()) {
    reactor->Finish(ToGrpcStatus(s));
    return reactor;
  }
  absl::MutexLock lock(&mu_);
  if (stopping_ || queue_.size() >= kMaxQueued) {
    reactor->Finish(ToGrpcStatus(absl::ResourceExhaustedError(
        "too many user changes waiting on this node: try again shortly")));
    return reactor;
  }
  queue_.push_back([reactor, work = std::move(work)](bool run) {
    reactor->Finish(ToGrpcStatus(
        run ? work() : absl::UnavailableError("the node is shutting down: try again")));
  });
  return reactor;
}

grpc::ServerUnaryReactor* UsersService::AddUser(grpc::CallbackServerContext* context,
                                                const hie::v1::AddUserRequest* request,
                                                hie::v1::User* response) {
  return Run(context, [this, context, request, response]() -> absl::Status {
    std::optional<UserRole> known = UserRoleFromProto(request->role());
    absl::StatusOr<UserRole> role =
        known ? absl::StatusOr<UserRole>(*known)
              : absl::InvalidArgumentError(
                    "role: must be clinician, front desk, practice admin or patient");
    if (!role.ok()) return role.status();
    NewAccount account{.login = request->login(),
                       .display_name = request->display_name(),
                       .role = *role,
                       .patient_id = request->patient_id(),
                       .must_change_password = !request->password_is_final()};
    absl::StatusOr<Account> created = state_->accounts->Create(account, request->password());
    if (!created.ok()) return created.status();
    ToProto(*created, response);
    return Audit(*state_, *context, "add", created->login,
                 absl::StrCat("role ", UserRoleName(created->role)));
  });
}

grpc::ServerUnaryReactor* UsersService::SetDisabled(grpc::CallbackServerContext* context,
                                                    const hie::v1::SetUserDisabledRequest* request,
                                                    hie::v1::User* response) {
  return Run(context, [this, context, request, response]() -> absl::Status {
    absl::StatusOr<Account> account = request->disabled()
                                          ? state_->accounts->Disable(request->login())
                                          : state_->accounts->Enable(request->login());
    if (!account.ok()) return account.status();
    ToProto(*account, response);
    return Audit(*state_, *context, request->disabled() ? "disable" : "enable", account->login);
  });
}

grpc::ServerUnaryReactor* UsersService::ResetPassword(
    grpc::CallbackServerContext* context, const hie::v1::ResetUserPasswordRequest* request,
    hie::v1::ResetUserPasswordResponse* response) {
  return Run(context, [this, context, request, response]() -> absl::Status {
    absl::StatusOr<std::string> password = state_->accounts->ResetPassword(request->login());
    if (!password.ok()) return password.status();
    absl::StatusOr<Account> account = state_->accounts->Get(request->login());
    if (!account.ok()) return account.status();
    response->set_password(*password);
    ToProto(*account, response->mutable_user());
    return Audit(*state_, *context, "reset", account->login);
  });
}

grpc::ServerUnaryReactor* UsersService::RemoveTotp(grpc::CallbackServerContext* context,
                                                   const hie::v1::RemoveUserTotpRequest* request,
                                                   hie::v1::User* response) {
  return Run(context, [this, context, request, response]() -> absl::Status {
    if (absl::Status s = state_->accounts->RemoveTotp(request->login()); !s.ok()) return s;
    absl::StatusOr<Account> account = state_->accounts->Get(request->login());
    if (!account.ok()) return account.status();
    ToProto(*account, response);
    return Audit(*state_, *context, "remove-totp", account->login);
  });
}

grpc::ServerUnaryReactor* UsersService::ListUsers(grpc::CallbackServerContext* context,
                                                  const hie::v1::ListUsersRequest*,
                                                  hie::v1::ListUsersResponse* response) {
  return Run(context, [this, response]() -> absl::Status {
    absl::StatusOr<std::vector<Account>> accounts = state_->accounts->List();
    if (!accounts.ok()) return accounts.status();
    for (const Account& account : *accounts) ToProto(account, response->add_users());
    return absl::OkStatus();
  });
}

}  // namespace hie::node
