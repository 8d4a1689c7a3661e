// The Users gRPC service: the practice admin (or an operator) adds, lists, disables and
// resets the local accounts of the node's web app. Translation only: the node's
// Accounts (node/domain/accounts.h) decide; the password hashing they do runs on the
// service's own thread, never on gRPC's.
#ifndef HIE_NODE_SERVICE_USERS_SERVICE_H_
#define HIE_NODE_SERVICE_USERS_SERVICE_H_

#include <deque>
#include <functional>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "node/service/ingest_service.h"
#include "proto/hie/v1/node.grpc.pb.h"

namespace hie::node {

// Callers: the node's own org and operators; another practice is refused
// (PERMISSION_DENIED). The accounts are always this node's.
class UsersService final : public hie::v1::Users::CallbackService {
 public:
  explicit UsersService(std::shared_ptr<NodeState> state);
  // Finishes the calls in hand; calls still queued are answered UNAVAILABLE.
  ~UsersService() override;

  grpc::ServerUnaryReactor* AddUser(grpc::CallbackServerContext* context,
                                    const hie::v1::AddUserRequest* request,
                                    hie::v1::User* response) override;
  grpc::ServerUnaryReactor* SetDisabled(grpc::CallbackServerContext* context,
                                        const hie::v1::SetUserDisabledRequest* request,
                                        hie::v1::User* response) override;
  grpc::ServerUnaryReactor* ResetPassword(grpc::CallbackServerContext* context,
                                          const hie::v1::ResetUserPasswordRequest* request,
                                          hie::v1::ResetUserPasswordResponse* response) override;
  grpc::ServerUnaryReactor* RemoveTotp(grpc::CallbackServerContext* context,
                                       const hie::v1::RemoveUserTotpRequest* request,
                                       hie::v1::User* response) override;
  grpc::ServerUnaryReactor* ListUsers(grpc::CallbackServerContext* context,
                                      const hie::v1::ListUsersRequest* request,
                                      hie::v1::ListUsersResponse* response) override;

 private:
  // Checks the caller, then runs `work` on the service's thread and finishes the call
  // with its status; RESOURCE_EXHAUSTED at once if too many calls wait.
  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* context,
                                std::function<absl::Status()> work);
  void Loop();

  std::shared_ptr<NodeState> state_;
  absl::Mutex mu_;
  std::deque<std::function<void(bool run)>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace hie::node

#endif  // HIE_NODE_SERVICE_USERS_SERVICE_H_
