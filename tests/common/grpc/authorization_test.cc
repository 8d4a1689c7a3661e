#include "common/grpc/authorization.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie {
namespace {

using ::hie::testing::IsOk;
using ::hie::testing::StatusIs;
using pki::Role;
using ::testing::HasSubstr;

TEST(AuthorizationPolicyTest, DeniesUnknownMethods) {
  AuthorizationPolicy policy;
  policy.Allow("/hie.v1.X/Read", {Role::kNode});
  EXPECT_THAT(policy.Check("/hie.v1.X/Write", Role::kNode),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("/hie.v1.X/Write")));
  EXPECT_THAT(policy.Check("", Role::kOperator), StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(AuthorizationPolicyTest, AllowsOnlyListedRoles) {
  AuthorizationPolicy policy;
  policy.Allow("/hie.v1.X/Read", {Role::kNode, Role::kConsent});
  EXPECT_THAT(policy.Check("/hie.v1.X/Read", Role::kNode), IsOk());
  EXPECT_THAT(policy.Check("/hie.v1.X/Read", Role::kConsent), IsOk());
  EXPECT_THAT(policy.Check("/hie.v1.X/Read", Role::kOperator),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("\"operator\"")));
}

TEST(AuthorizationPolicyTest, MethodNamesMatchExactly) {
  AuthorizationPolicy policy;
  policy.Allow("/hie.v1.X/Read", {Role::kNode});
  EXPECT_THAT(policy.Check("/hie.v1.X/ReadAll", Role::kNode),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(policy.Check("/hie.v1.X/read", Role::kNode),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(AuthorizationPolicyTest, InfrastructureIsOpenToEveryMember) {
  AuthorizationPolicy policy;
  policy.AllowInfrastructure();
  for (Role role : {Role::kNode, Role::kOperator, Role::kMpi, Role::kConsent}) {
    EXPECT_THAT(policy.Check("/grpc.health.v1.Health/Check", role), IsOk());
  }
}

}  // namespace
}  // namespace hie
