// CRLs only move forward: the CA numbers every CRL above the last, and of several CRLs
// of the CA in one directory the newest wins, whatever the file names.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/pki/ca.h"
#include "common/pki/identity.h"
#include "common/pki/revocation.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::pki {
namespace {

namespace fs = std::filesystem;
using ::hie::testing::IsOk;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class CrlNumberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "hie-crl-number-test-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    auto ca = CertificateAuthority::Init(dir_ + "/ca", CaInitOptions{});
    ASSERT_THAT(ca, IsOk());
    ca_ = std::move(*ca);
  }
  void TearDown() override { fs::remove_all(dir_); }

  uint64_t CurrentNumber() {
    auto list = RevocationList::Parse(ReadFile(ca_->crl_dir() + "/ca.crl"), ca_->ca_cert_pem(),
                                      absl::Now());
    EXPECT_THAT(list, IsOk());
    return list.ok() ? list->number() : 0;
  }

  std::string dir_;
  std::unique_ptr<CertificateAuthority> ca_;
};

TEST_F(CrlNumberTest, EveryCrlTheCaWritesIsNumberedAboveTheLast) {
  const uint64_t first = CurrentNumber();
  EXPECT_GE(first, 1u);
  ASSERT_THAT(ca_->RefreshCrl(), IsOk());
  EXPECT_EQ(CurrentNumber(), first + 1);
  IssueOptions options;
  options.org_id = "org-a";
  options.name = "node-a";
  auto issued = ca_->Issue(options);
  ASSERT_THAT(issued, IsOk());
  ASSERT_THAT(ca_->Revoke(issued->cert_pem), IsOk());
  EXPECT_EQ(CurrentNumber(), first + 2);
  // Reopened (a new hiectl run), the CA goes on from there.
  auto reopened = CertificateAuthority::Open(dir_ + "/ca");
  ASSERT_THAT(reopened, IsOk());
  ASSERT_THAT((*reopened)->RefreshCrl(), IsOk());
  EXPECT_EQ(CurrentNumber(), first + 3);
  // Even if its counter file is lost, it never goes below the CRL it published.
  fs::remove(dir_ + "/ca/crlnumber");
  ASSERT_THAT((*reopened)->RefreshCrl(), IsOk());
  EXPECT_EQ(CurrentNumber(), first + 4);
}

TEST_F(CrlNumberTest, OfTwoCrlsInTheDirectoryTheNewestWinsWhateverTheirNames) {
  IssueOptions options;
  options.org_id = "org-a";
  options.name = "node-a";
  auto issued = ca_->Issue(options);
  ASSERT_THAT(issued, IsOk());
  const std::string before = ReadFile(ca_->crl_dir() + "/ca.crl");
  ASSERT_THAT(ca_->Revoke(issued->cert_pem), IsOk());
  const std::string after = ReadFile(ca_->crl_dir() + "/ca.crl");
  auto serial = ReadCertIdentity(issued->cert_pem);
  ASSERT_THAT(serial, IsOk());
  // The older CRL under names that sort before and after the newer one.
  for (const std::string& name : {"0-old.crl", "zz-old.crl"}) {
    fs::remove_all(dir_ + "/crls");
    fs::create_directories(dir_ + "/crls");
    std::ofstream(dir_ + "/crls/" + name) << before;
    std::ofstream(dir_ + "/crls/m-current.crl") << after;
    auto list = RevocationList::LoadDir(dir_ + "/crls", ca_->ca_cert_pem(), absl::Now());
    ASSERT_THAT(list, IsOk());
    EXPECT_TRUE(list->IsRevoked(serial->serial_hex)) << name;
  }
}

// A CA whose last CRL number is the largest it can write refuses to write another (it
// would wrap to 0, below every floor) with a clear error, and the CRL in place stays.
TEST_F(CrlNumberTest, AtTheLargestCrlNumberTheCaRefusesToWriteAnother) {
  std::ofstream(dir_ + "/ca/crlnumber", std::ios::trunc) << "18446744073709551615\n";
  const std::string before = ReadFile(ca_->crl_dir() + "/ca.crl");
  absl::Status refreshed = ca_->RefreshCrl();
  EXPECT_EQ(refreshed.code(), absl::StatusCode::kFailedPrecondition) << refreshed;
  EXPECT_THAT(std::string(refreshed.message()), ::testing::HasSubstr("highest this CA can write"));
  EXPECT_EQ(ReadFile(ca_->crl_dir() + "/ca.crl"), before);
  EXPECT_EQ(ReadFile(dir_ + "/ca/crlnumber"), "18446744073709551615\n");
}

}  // namespace
}  // namespace hie::pki
