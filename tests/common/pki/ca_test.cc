// The exchange CA: what it writes, what its certificates say, and what it refuses.
#include "common/pki/ca.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/pki/identity.h"
#include "common/pki/revocation.h"
#include "common/testing/fake_clock.h"
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

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777;
}

class CaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "hie-ca-test-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    auto ca = CertificateAuthority::Init(dir_ + "/ca", CaInitOptions{});
    ASSERT_THAT(ca, IsOk());
    ca_ = std::move(*ca);
  }
  void TearDown() override { fs::remove_all(dir_); }

  IssuedCertificate IssueFor(const std::string& org, Role role = Role::kNode) {
    IssueOptions options;
    options.org_id = org;
    options.name = org + "-server";
    options.role = role;
    auto issued = ca_->Issue(options);
    EXPECT_THAT(issued, IsOk());
    return issued.ok() ? *issued : IssuedCertificate{};
  }

  std::string dir_;
  std::unique_ptr<CertificateAuthority> ca_;
};

TEST_F(CaTest, InitWritesTheCaFilesWithAPrivateKey) {
  EXPECT_TRUE(fs::exists(dir_ + "/ca/ca.crt"));
  EXPECT_EQ(ModeOf(dir_ + "/ca/ca.key"), 0600u);
  EXPECT_THAT(RevocationList::LoadDir(ca_->crl_dir(), ca_->ca_cert_pem(), absl::Now()), IsOk());
}

TEST_F(CaTest, InitRefusesADirectoryThatHoldsACa) {
  EXPECT_THAT(CertificateAuthority::Init(dir_ + "/ca", CaInitOptions{}),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("already holds a CA")));
}

TEST_F(CaTest, OpenFindsNoCaInAnEmptyDirectory) {
  fs::create_directories(dir_ + "/empty");
  EXPECT_THAT(CertificateAuthority::Open(dir_ + "/empty"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("hiectl ca init")));
}

TEST_F(CaTest, OpenRefusesAKeyThatDoesNotMatch) {
  auto other = CertificateAuthority::Init(dir_ + "/other", CaInitOptions{});
  ASSERT_THAT(other, IsOk());
  fs::copy_file(dir_ + "/other/ca.key", dir_ + "/ca/ca.key", fs::copy_options::overwrite_existing);
  EXPECT_THAT(CertificateAuthority::Open(dir_ + "/ca"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not match")));
}

TEST_F(CaTest, IssuedCertificateCarriesTheIdentityProfile) {
  IssuedCertificate issued = IssueFor("org-a", Role::kNode);
  auto identity = ReadCertIdentity(issued.cert_pem);
  ASSERT_THAT(identity, IsOk());
  EXPECT_EQ(identity->org_id, "org-a");
  EXPECT_EQ(identity->role, Role::kNode);
  EXPECT_EQ(identity->name, "org-a-server");
  EXPECT_EQ(identity->serial_hex, issued.serial_hex);
  EXPECT_TRUE(identity->client_auth);
  EXPECT_TRUE(identity->server_auth);
  EXPECT_GT(identity->not_after, absl::Now() + absl::Hours(24 * 390));
  EXPECT_THAT(CheckKeyPair(issued.cert_pem, issued.key_pem), IsOk());
  EXPECT_THAT(VerifyChain(issued.cert_pem, ca_->ca_cert_pem(), absl::Now()), IsOk());
  EXPECT_TRUE(fs::exists(absl::StrCat(dir_, "/ca/issued/", issued.serial_hex, ".crt")));
}

TEST_F(CaTest, IssueRefusesAnInvalidOrgId) {
  IssueOptions options;
  options.name = "x";
  for (const char* bad : {"", "Org-A", "-org", "org/a", "org a"}) {
    options.org_id = bad;
    EXPECT_THAT(ca_->Issue(options), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST_F(CaTest, ClientOnlyCertificateHasNoServerUse) {
  IssueOptions options;
  options.org_id = "exchange";
  options.name = "operator";
  options.role = Role::kOperator;
  options.server_auth = false;
  auto issued = ca_->Issue(options);
  ASSERT_THAT(issued, IsOk());
  auto identity = ReadCertIdentity(issued->cert_pem);
  ASSERT_THAT(identity, IsOk());
  EXPECT_TRUE(identity->client_auth);
  EXPECT_FALSE(identity->server_auth);
}

TEST_F(CaTest, WriteCertificateFilesMakesTheKey0600) {
  IssuedCertificate issued = IssueFor("org-a");
  ASSERT_THAT(WriteCertificateFiles(issued, dir_ + "/certs/org-a"), IsOk());
  EXPECT_EQ(ModeOf(dir_ + "/certs/org-a.key"), 0600u);
  EXPECT_EQ(ReadFile(dir_ + "/certs/org-a.crt"), issued.cert_pem);
}

TEST_F(CaTest, RevokePutsTheSerialInTheCrlAndPersists) {
  IssuedCertificate a = IssueFor("org-a");
  IssuedCertificate b = IssueFor("org-b");
  ASSERT_THAT(ca_->Revoke(a.cert_pem), IsOk());
  ASSERT_THAT(ca_->Revoke(a.cert_pem), IsOk());  // twice is fine
  auto list = RevocationList::LoadDir(ca_->crl_dir(), ca_->ca_cert_pem(), absl::Now());
  ASSERT_THAT(list, IsOk());
  EXPECT_TRUE(list->IsRevoked(a.serial_hex));
  EXPECT_FALSE(list->IsRevoked(b.serial_hex));
  EXPECT_EQ(list->size(), 1u);

  // A reopened CA keeps the revocation through a refresh.
  auto reopened = CertificateAuthority::Open(dir_ + "/ca");
  ASSERT_THAT(reopened, IsOk());
  ASSERT_THAT((*reopened)->RefreshCrl(), IsOk());
  list = RevocationList::LoadDir(ca_->crl_dir(), ca_->ca_cert_pem(), absl::Now());
  ASSERT_THAT(list, IsOk());
  EXPECT_TRUE(list->IsRevoked(a.serial_hex));
}

TEST_F(CaTest, RevokeRefusesACertificateFromAnotherCa) {
  auto other = CertificateAuthority::Init(dir_ + "/other", CaInitOptions{});
  ASSERT_THAT(other, IsOk());
  IssueOptions options;
  options.org_id = "org-x";
  options.name = "x";
  auto foreign = (*other)->Issue(options);
  ASSERT_THAT(foreign, IsOk());
  EXPECT_THAT(ca_->Revoke(foreign->cert_pem),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not issued by this CA")));
}

TEST_F(CaTest, CrlLifetimeComesFromInitAndSurvivesReopen) {
  CaInitOptions options;
  options.crl_validity = absl::Hours(2);
  testing::FakeClock clock;
  auto ca = CertificateAuthority::Init(dir_ + "/short", options, &clock);
  ASSERT_THAT(ca, IsOk());
  auto list = RevocationList::LoadDir((*ca)->crl_dir(), (*ca)->ca_cert_pem(), clock.Now());
  ASSERT_THAT(list, IsOk());
  EXPECT_LT(list->next_update(), clock.Now() + absl::Hours(2) + absl::Minutes(1));
  auto reopened = CertificateAuthority::Open(dir_ + "/short", &clock);
  ASSERT_THAT(reopened, IsOk());
  clock.Advance(absl::Hours(3));
  EXPECT_THAT(RevocationList::LoadDir((*ca)->crl_dir(), (*ca)->ca_cert_pem(), clock.Now()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("CRL expired")));
  ASSERT_THAT((*reopened)->RefreshCrl(), IsOk());
  EXPECT_THAT(RevocationList::LoadDir((*ca)->crl_dir(), (*ca)->ca_cert_pem(), clock.Now()), IsOk());
}

}  // namespace
}  // namespace hie::pki
