// Reading a certificate's identity: exactly one hie://org/<id> URI SAN, or refusal.
#include "common/pki/identity.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/pki/ca.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::pki {
namespace {

namespace fs = std::filesystem;
using ::hie::testing::IsOk;
using ::hie::testing::StatusIs;
using ::testing::HasSubstr;

class IdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "hie-identity-test-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    auto ca = CertificateAuthority::Init(dir_, CaInitOptions{});
    ASSERT_THAT(ca, IsOk());
    ca_ = std::move(*ca);
  }
  void TearDown() override { fs::remove_all(dir_); }

  IssueOptions Options(const std::string& org = "org-a") {
    IssueOptions options;
    options.org_id = org;
    options.name = "test";
    return options;
  }

  std::string dir_;
  std::unique_ptr<CertificateAuthority> ca_;
};

TEST_F(IdentityTest, RoleNamesRoundTrip) {
  for (Role role : {Role::kNode, Role::kOperator, Role::kMpi, Role::kConsent}) {
    auto parsed = ParseRole(RoleName(role));
    ASSERT_THAT(parsed, IsOk());
    EXPECT_EQ(*parsed, role);
  }
  EXPECT_THAT(ParseRole("admin"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(IdentityTest, OrgIdRules) {
  EXPECT_TRUE(IsValidOrgId("org-a"));
  EXPECT_TRUE(IsValidOrgId("7th-street-clinic"));
  EXPECT_TRUE(IsValidOrgId(std::string(63, 'a')));
  EXPECT_FALSE(IsValidOrgId(std::string(64, 'a')));
  EXPECT_FALSE(IsValidOrgId(""));
  EXPECT_FALSE(IsValidOrgId("-a"));
  EXPECT_FALSE(IsValidOrgId("Org"));
  EXPECT_FALSE(IsValidOrgId("org.a"));
}

TEST_F(IdentityTest, NoOrgUriIsRefused) {
  IssueOptions options = Options();
  options.omit_org_uri_for_test = true;
  auto issued = ca_->Issue(options);
  ASSERT_THAT(issued, IsOk());
  EXPECT_THAT(ReadCertIdentity(issued->cert_pem),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("no hie://org/")));
}

TEST_F(IdentityTest, TwoOrgUrisAreRefused) {
  IssueOptions options = Options();
  options.extra_uri_sans_for_test = {"hie://org/org-b"};
  auto issued = ca_->Issue(options);
  ASSERT_THAT(issued, IsOk());
  EXPECT_THAT(ReadCertIdentity(issued->cert_pem),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("exactly one")));
}

TEST_F(IdentityTest, HieUriOfAnotherFormIsRefused) {
  IssueOptions options = Options();
  options.omit_org_uri_for_test = true;
  options.extra_uri_sans_for_test = {"hie://user/org-a"};
  auto issued = ca_->Issue(options);
  ASSERT_THAT(issued, IsOk());
  EXPECT_THAT(ReadCertIdentity(issued->cert_pem),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("not of the form")));
}

TEST_F(IdentityTest, InvalidOrgIdInTheUriIsRefused) {
  IssueOptions options = Options();
  options.omit_org_uri_for_test = true;
  options.extra_uri_sans_for_test = {"hie://org/ORG_A"};
  auto issued = ca_->Issue(options);
  ASSERT_THAT(issued, IsOk());
  EXPECT_THAT(ReadCertIdentity(issued->cert_pem),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("invalid org id")));
}

TEST_F(IdentityTest, OtherUrisBesideTheOrgUriAreAllowed) {
  IssueOptions options = Options();
  options.extra_uri_sans_for_test = {"https://clinic.example/node"};
  auto issued = ca_->Issue(options);
  ASSERT_THAT(issued, IsOk());
  auto identity = ReadCertIdentity(issued->cert_pem);
  ASSERT_THAT(identity, IsOk());
  EXPECT_EQ(identity->org_id, "org-a");
}

TEST_F(IdentityTest, GarbageIsNotACertificate) {
  EXPECT_THAT(ReadCertIdentity("hello"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(IdentityTest, CheckKeyPairFindsAForeignKey) {
  auto a = ca_->Issue(Options("org-a"));
  auto b = ca_->Issue(Options("org-b"));
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_THAT(CheckKeyPair(a->cert_pem, b->key_pem),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not match")));
}

TEST_F(IdentityTest, CheckKeyPairFindsAChainOutOfOrder) {
  auto a = ca_->Issue(Options());
  ASSERT_THAT(a, IsOk());
  EXPECT_THAT(CheckKeyPair(a->cert_pem + ca_->ca_cert_pem(), a->key_pem), IsOk());
  // The CA first and the leaf second: the key matches no leaf, or the order is wrong.
  EXPECT_THAT(CheckKeyPair(ca_->ca_cert_pem() + a->cert_pem, a->key_pem),
              StatusIs(absl::StatusCode::kInvalidArgument));
  auto b = ca_->Issue(Options("org-b"));
  ASSERT_THAT(b, IsOk());
  EXPECT_THAT(CheckKeyPair(a->cert_pem + b->cert_pem, a->key_pem),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("out of order")));
}

TEST_F(IdentityTest, VerifyChainRefusesExpiredAndForeign) {
  IssueOptions expired = Options();
  expired.not_before = absl::Now() - absl::Hours(48);
  expired.validity = absl::Hours(24);
  auto old = ca_->Issue(expired);
  ASSERT_THAT(old, IsOk());
  EXPECT_THAT(VerifyChain(old->cert_pem, ca_->ca_cert_pem(), absl::Now()),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("expired")));

  auto other = CertificateAuthority::Init(dir_ + "/other", CaInitOptions{});
  ASSERT_THAT(other, IsOk());
  auto foreign = (*other)->Issue(Options());
  ASSERT_THAT(foreign, IsOk());
  EXPECT_THAT(VerifyChain(foreign->cert_pem, ca_->ca_cert_pem(), absl::Now()),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

}  // namespace
}  // namespace hie::pki
