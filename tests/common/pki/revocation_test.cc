// Revocation lists as the exchange loads them: verified, current, never assumed empty.
#include "common/pki/revocation.h"

#include <filesystem>
#include <fstream>
#include <sstream>

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

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class RevocationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "hie-revocation-test-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    auto ca = CertificateAuthority::Init(dir_ + "/ca", CaInitOptions{});
    ASSERT_THAT(ca, IsOk());
    ca_ = std::move(*ca);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string dir_;
  std::unique_ptr<CertificateAuthority> ca_;
};

TEST_F(RevocationTest, EmptyDirectoryIsNotFoundNotNothingRevoked) {
  fs::create_directories(dir_ + "/empty");
  EXPECT_THAT(RevocationList::LoadDir(dir_ + "/empty", ca_->ca_cert_pem(), absl::Now()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("never taken as")));
}

TEST_F(RevocationTest, CrlOfAnotherCaIsIgnored) {
  CaInitOptions options;
  options.common_name = "another exchange's CA";
  auto other = CertificateAuthority::Init(dir_ + "/other", options);
  ASSERT_THAT(other, IsOk());
  fs::create_directories(dir_ + "/crls");
  fs::copy_file((*other)->crl_dir() + "/ca.crl", dir_ + "/crls/other.crl");
  EXPECT_THAT(RevocationList::LoadDir(dir_ + "/crls", ca_->ca_cert_pem(), absl::Now()),
              StatusIs(absl::StatusCode::kNotFound));
  fs::copy_file(ca_->crl_dir() + "/ca.crl", dir_ + "/crls/ours.crl");
  EXPECT_THAT(RevocationList::LoadDir(dir_ + "/crls", ca_->ca_cert_pem(), absl::Now()), IsOk());
}

TEST_F(RevocationTest, ForgedSignatureIsRefused) {
  // A CRL with our CA's name signed by another key: make another CA with the same name.
  auto impostor = CertificateAuthority::Init(dir_ + "/impostor", CaInitOptions{});
  ASSERT_THAT(impostor, IsOk());
  std::string forged = ReadFile((*impostor)->crl_dir() + "/ca.crl");
  EXPECT_THAT(RevocationList::Parse(forged, ca_->ca_cert_pem(), absl::Now()),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("signature")));
}

TEST_F(RevocationTest, GarbageIsInvalid) {
  EXPECT_THAT(RevocationList::Parse("not a crl", ca_->ca_cert_pem(), absl::Now()),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(RevocationTest, CrlIsCurrentOnlyBetweenItsUpdates) {
  std::string crl = ReadFile(ca_->crl_dir() + "/ca.crl");
  EXPECT_THAT(RevocationList::Parse(crl, ca_->ca_cert_pem(), absl::Now()), IsOk());
  EXPECT_THAT(RevocationList::Parse(crl, ca_->ca_cert_pem(), absl::Now() - absl::Hours(1)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not yet valid")));
  EXPECT_THAT(RevocationList::Parse(crl, ca_->ca_cert_pem(), absl::Now() + absl::Hours(24 * 8)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("expired")));
}

}  // namespace
}  // namespace hie::pki
