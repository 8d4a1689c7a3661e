// SMART system scopes, v1 and v2 forms: what a granted set allows, and what a request
// is granted from what a client may have.
#include "common/auth/scope.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::auth {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

struct AllowsCase {
  const char* scope;
  const char* type;
  const char* interaction;
  bool allowed;
};

class ScopeAllowsTest : public ::testing::TestWithParam<AllowsCase> {};

TEST_P(ScopeAllowsTest, Decides) {
  const AllowsCase& c = GetParam();
  EXPECT_EQ(ScopeAllows({c.scope}, c.type, c.interaction), c.allowed)
      << c.scope << " " << c.type << " " << c.interaction;
}

INSTANTIATE_TEST_SUITE_P(Table, ScopeAllowsTest,
                         ::testing::Values(
                             // SMART v1
                             AllowsCase{"system/Patient.read", "Patient", "read", true},
                             AllowsCase{"system/Patient.read", "Patient", "search", true},
                             AllowsCase{"system/Patient.read", "Patient", "create", false},
                             AllowsCase{"system/Patient.read", "Observation", "read", false},
                             AllowsCase{"system/*.read", "Observation", "read", true},
                             AllowsCase{"system/*.read", "Observation", "search", true},
                             AllowsCase{"system/*.read", "Observation", "update", false},
                             AllowsCase{"system/*.write", "Observation", "create", true},
                             AllowsCase{"system/*.write", "Observation", "update", true},
                             AllowsCase{"system/*.write", "Observation", "delete", true},
                             AllowsCase{"system/*.write", "Observation", "read", false},
                             AllowsCase{"system/*.*", "Encounter", "delete", true},
                             AllowsCase{"system/*.*", "Encounter", "search", true},
                             AllowsCase{"system/Patient.*", "Patient", "update", true},
                             // SMART v2
                             AllowsCase{"system/Patient.rs", "Patient", "read", true},
                             AllowsCase{"system/Patient.rs", "Patient", "search", true},
                             AllowsCase{"system/Patient.rs", "Patient", "update", false},
                             AllowsCase{"system/Patient.r", "Patient", "search", false},
                             AllowsCase{"system/Patient.s", "Patient", "read", false},
                             AllowsCase{"system/*.cruds", "Condition", "delete", true},
                             AllowsCase{"system/*.cud", "Condition", "read", false},
                             AllowsCase{"system/*.c", "Condition", "create", true},
                             AllowsCase{"system/Observation.rs", "Patient", "read", false},
                             // Not system scopes, or not well formed: nothing.
                             AllowsCase{"patient/*.read", "Patient", "read", false},
                             AllowsCase{"user/*.read", "Patient", "read", false},
                             AllowsCase{"system/Patient.sr", "Patient", "read", false},
                             AllowsCase{"system/Patient.rr", "Patient", "read", false},
                             AllowsCase{"system/Patient.x", "Patient", "read", false},
                             AllowsCase{"system/Patient.", "Patient", "read", false},
                             AllowsCase{"system/patient.read", "patient", "read", false},
                             AllowsCase{"system/Patient.rs?_id=1", "Patient", "read", false},
                             AllowsCase{"system/Patient.read.x", "Patient", "read", false},
                             AllowsCase{"system/*.read", "*", "read", false},
                             AllowsCase{"system/*.read", "Patient", "vread", false},
                             AllowsCase{"system/*.*", "Patient", "", false},
                             AllowsCase{"openid", "Patient", "read", false},
                             AllowsCase{"", "Patient", "read", false}));

TEST(ScopeAllowsTest, AnyGrantedScopeSuffices) {
  std::vector<std::string> granted = {"system/Patient.rs", "system/Observation.c"};
  EXPECT_TRUE(ScopeAllows(granted, "Observation", "create"));
  EXPECT_TRUE(ScopeAllows(granted, "Patient", "search"));
  EXPECT_FALSE(ScopeAllows(granted, "Observation", "read"));
  EXPECT_FALSE(ScopeAllows({}, "Patient", "read"));
}

TEST(IsSystemScopeTest, Forms) {
  for (const char* ok : {"system/*.read", "system/Patient.write", "system/*.*", "system/Patient.rs",
                         "system/*.cruds", "system/Observation.cud", "system/Patient.d"}) {
    EXPECT_TRUE(IsSystemScope(ok)) << ok;
  }
  for (const char* bad : {"system/*", "system/.read", "patient/*.read", "system/*.", "system/*.rx",
                          "system/*.srs", "launch", "system/Pat ient.read", "system/*.rs?x=1"}) {
    EXPECT_FALSE(IsSystemScope(bad)) << bad;
  }
}

TEST(GrantScopesTest, CoveredRequestsAreGrantedAsWritten) {
  std::vector<std::string> allowed = {"system/*.read"};
  EXPECT_THAT(GrantScopes("system/Patient.read system/Observation.rs", allowed),
              ElementsAre("system/Patient.read", "system/Observation.rs"));
  EXPECT_THAT(GrantScopes("system/*.read", allowed), ElementsAre("system/*.read"));
  EXPECT_THAT(GrantScopes("system/*.rs", {"system/*.*"}), ElementsAre("system/*.rs"));
}

TEST(GrantScopesTest, WiderRequestsAreNarrowedToWhatIsAllowed) {
  EXPECT_THAT(GrantScopes("system/*.read", {"system/Patient.read", "system/Observation.rs"}),
              ElementsAre("system/Patient.read", "system/Observation.read"));
  EXPECT_THAT(GrantScopes("system/*.*", {"system/*.read"}), ElementsAre("system/*.read"));
  EXPECT_THAT(GrantScopes("system/Patient.cruds", {"system/*.rs"}),
              ElementsAre("system/Patient.rs"));
  EXPECT_THAT(GrantScopes("system/Patient.read", {"system/Patient.r"}),
              ElementsAre("system/Patient.r"));
  EXPECT_THAT(GrantScopes("system/*.write", {"system/*.cruds"}), ElementsAre("system/*.write"));
}

TEST(GrantScopesTest, NothingAllowedGrantsNothing) {
  std::vector<std::string> allowed = {"system/Patient.read"};
  EXPECT_THAT(GrantScopes("system/Observation.read", allowed), IsEmpty());
  EXPECT_THAT(GrantScopes("system/Patient.write", allowed), IsEmpty());
  EXPECT_THAT(GrantScopes("patient/Patient.read openid launch", allowed), IsEmpty());
  EXPECT_THAT(GrantScopes("", allowed), IsEmpty());
  EXPECT_THAT(GrantScopes("system/*.read", {}), IsEmpty());
}

TEST(GrantScopesTest, RepeatsAndRedundantScopesAreDropped) {
  std::vector<std::string> allowed = {"system/*.read"};
  EXPECT_THAT(GrantScopes("system/Patient.read  system/Patient.read system/*.read openid", allowed),
              ElementsAre("system/*.read"));
  EXPECT_THAT(GrantScopes("system/Patient.rs system/Patient.read", allowed),
              ElementsAre("system/Patient.rs"));
}

}  // namespace
}  // namespace hie::auth
