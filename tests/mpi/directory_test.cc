// The directory of member organisations: enrolment rules, states, persistence.
#include "mpi/directory/directory.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::mpi {
namespace {

namespace fs = std::filesystem;
using ::hie::testing::IsOk;
using ::hie::testing::StatusIs;
using ::testing::HasSubstr;

class DirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "hie-directory-test-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    Reopen();
  }
  void TearDown() override {
    directory_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  void Reopen() {
    directory_.reset();
    store_.reset();
    ASSERT_OK_AND_ASSIGN(store_, store::KvStore::Open(dir_));
    ASSERT_OK_AND_ASSIGN(directory_, Directory::Open(store_.get(), Clock::Real()));
  }
  hie::v1::EnrollOrganizationRequest Request(const std::string& org) {
    hie::v1::EnrollOrganizationRequest r;
    r.set_org_id(org);
    r.set_display_name("Clinic " + org);
    r.set_endpoint("node." + org + ".example:7443");
    return r;
  }

  std::string dir_;
  std::unique_ptr<store::KvStore> store_;
  std::unique_ptr<Directory> directory_;
};

TEST_F(DirectoryTest, EnrollSuspendReinstate) {
  EXPECT_THAT(directory_->CheckActive("org-a"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("not enrolled")));
  auto request = Request("org-a");
  request.set_sensitive(true);
  ASSERT_OK_AND_ASSIGN(hie::v1::Organization org, directory_->Enroll(request));
  EXPECT_EQ(org.state(), hie::v1::Organization::STATE_ACTIVE);
  EXPECT_TRUE(org.sensitive());
  EXPECT_OK(directory_->CheckActive("org-a"));
  EXPECT_THAT(directory_->Enroll(request), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(directory_->Suspend("org-a", ""), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(directory_->Suspend("org-a", "unpaid"), IsOk());
  EXPECT_THAT(directory_->CheckActive("org-a"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("suspended: unpaid")));
  ASSERT_THAT(directory_->Reinstate("org-a", "paid"), IsOk());
  EXPECT_OK(directory_->CheckActive("org-a"));
  EXPECT_THAT(directory_->Suspend("org-x", "r"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(DirectoryTest, BadEnrolmentsAreRefused) {
  auto bad_id = Request("Org_A");
  EXPECT_THAT(directory_->Enroll(bad_id), StatusIs(absl::StatusCode::kInvalidArgument));
  auto bad_endpoint = Request("org-a");
  bad_endpoint.set_endpoint("no-port");
  EXPECT_THAT(directory_->Enroll(bad_endpoint),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("host:port")));
  auto no_name = Request("org-a");
  no_name.clear_display_name();
  EXPECT_THAT(directory_->Enroll(no_name), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(DirectoryTest, SurvivesAReopenAndListsInOrder) {
  ASSERT_THAT(directory_->Enroll(Request("org-b")), IsOk());
  ASSERT_THAT(directory_->Enroll(Request("org-a")), IsOk());
  ASSERT_THAT(directory_->Suspend("org-b", "audit"), IsOk());
  Reopen();
  auto all = directory_->List(hie::v1::Organization::STATE_UNSPECIFIED);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].org_id(), "org-a");
  EXPECT_EQ(all[1].state(), hie::v1::Organization::STATE_SUSPENDED);
  EXPECT_EQ(directory_->List(hie::v1::Organization::STATE_ACTIVE).size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto moved, directory_->SetEndpoint("org-a", "10.0.0.5:7443"));
  EXPECT_EQ(moved.endpoint(), "10.0.0.5:7443");
}

}  // namespace
}  // namespace hie::mpi
