// Per-RPC authorization: our own small table of method x caller role, deny by default.
// (Debian's gRPC 1.51 ships the authorization-policy header but no library behind it.)
//
// The table is checked for every call before any handler runs (see peer_identity.h),
// so a method missing from the table is refused, never silently open.
#ifndef HIE_COMMON_GRPC_AUTHORIZATION_H_
#define HIE_COMMON_GRPC_AUTHORIZATION_H_

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/pki/identity.h"

namespace hie {

// Immutable after construction; thread-safe to share.
class AuthorizationPolicy {
 public:
  // Methods are full gRPC paths: "/hie.v1.MasterPatientIndex/CrossReference".
  AuthorizationPolicy& Allow(absl::string_view method, std::initializer_list<pki::Role> roles);

  // Adds the methods every daemon serves to every authenticated member: the standard
  // health check and server reflection.
  AuthorizationPolicy& AllowInfrastructure();

  // OK if `role` may call `method`. Errors: PermissionDenied naming the method and role
  // (an unknown method is denied like any other).
  absl::Status Check(absl::string_view method, pki::Role role) const;

  // Whether the table mentions `method` at all.
  bool Knows(absl::string_view method) const { return allowed_.contains(method); }

  // Every method the table mentions, sorted (for tests that compare against services).
  std::vector<std::string> Methods() const;

 private:
  absl::flat_hash_map<std::string, uint32_t> allowed_;  // method -> bit set of roles
};

}  // namespace hie

#endif  // HIE_COMMON_GRPC_AUTHORIZATION_H_
