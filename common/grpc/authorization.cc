#include "common/grpc/authorization.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace hie {
namespace {

uint32_t Bit(pki::Role role) { return 1u << static_cast<int>(role); }

}  // namespace

AuthorizationPolicy& AuthorizationPolicy::Allow(absl::string_view method,
                                                std::initializer_list<pki::Role> roles) {
  uint32_t& bits = allowed_[std::string(method)];
  for (pki::Role role : roles) bits |= Bit(role);
  return *this;
}

AuthorizationPolicy& AuthorizationPolicy::AllowInfrastructure() {
  const auto all = {pki::Role::kNode, pki::Role::kOperator, pki::Role::kMpi, pki::Role::kConsent};
  Allow("/grpc.health.v1.Health/Check", all);
  Allow("/grpc.health.v1.Health/Watch", all);
  Allow("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", all);
  return *this;
}

absl::Status AuthorizationPolicy::Check(absl::string_view method, pki::Role role) const {
  auto it = allowed_.find(method);
  if (it != allowed_.end() && (it->second & Bit(role)) != 0) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("role \"", std::string(pki::RoleName(role)), "\" may not call ", method));
}

std::vector<std::string> AuthorizationPolicy::Methods() const {
  std::vector<std::string> out;
  out.reserve(allowed_.size());
  for (const auto& [method, bits] : allowed_) out.push_back(method);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace hie
