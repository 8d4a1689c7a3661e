// Invitations to the patient portal: codes are readable and random, only their hash is
// stored, each works once and until its expiry, a patient has a bounded number of live
// ones, and wrong codes spend a node-wide budget.
#include "node/domain/invites.h"

#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/crypto/hash.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/node/manual_clock.h"

namespace hie::node {
namespace {

using ::hie::testing::IsOk;
using ::hie::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

class InvitesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "hie-invites-" + std::to_string(getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    auto kv = store::KvStore::Open(dir_);
    ASSERT_TRUE(kv.ok()) << kv.status();
    kv_ = std::move(*kv);
  }
  void TearDown() override {
    invites_.reset();
    kv_.reset();
    std::filesystem::remove_all(dir_);
  }

  Invites& Make(InviteOptions options = {}) {
    auto invites = Invites::Open(kv_.get(), &clock_, options);
    EXPECT_TRUE(invites.ok()) << invites.status();
    invites_ = std::move(*invites);
    return *invites_;
  }

  // Redeems `code`, remembering the invitation it was for.
  absl::Status Redeem(const std::string& code, absl::Status answer = absl::OkStatus()) {
    return invites_->Redeem(code, [&](const Invite& invite) {
      used_ = invite;
      return answer;
    });
  }

  // Every value in the store, concatenated, and every key.
  std::string Everything() {
    std::string all;
    EXPECT_TRUE(kv_->Scan("", "",
                          [&](absl::string_view key, absl::string_view value) {
                            absl::StrAppend(&all, key, "=", value, "\n");
                            return true;
                          })
                    .ok());
    return all;
  }

  std::string dir_;
  std::unique_ptr<store::KvStore> kv_;
  testing::ManualClock clock_{kStart};
  std::unique_ptr<Invites> invites_;
  Invite used_;
};

TEST_F(InvitesTest, CodesAreReadableRandomAndOnlyTheirHashIsStored) {
  Invites& invites = Make();
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    ASSERT_OK_AND_ASSIGN(IssuedInvite issued, invites.Issue("p-" + std::to_string(i), "desk"));
    // 12 of 32 symbols (60 bits), no I, O, 0 or 1, in groups of four.
    EXPECT_THAT(issued.code, MatchesRegex("[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}"));
    EXPECT_EQ(issued.expires_at, kStart + absl::Hours(72));
    EXPECT_TRUE(seen.insert(issued.code).second);
  }
  const std::string stored = Everything();
  for (const std::string& code : seen) {
    EXPECT_THAT(stored, ::testing::Not(HasSubstr(code)));
    EXPECT_THAT(stored, ::testing::Not(HasSubstr(Invites::NormalizeCode(code))));
    EXPECT_THAT(stored, HasSubstr(crypto::Sha256Hex(Invites::NormalizeCode(code))));
  }
}

TEST_F(InvitesTest, ACodeWorksOnceAsTypedAndTellsWhoItIsFor) {
  Invites& invites = Make();
  ASSERT_OK_AND_ASSIGN(IssuedInvite issued, invites.Issue("p-1", "front.desk"));
  // Typed in lower case, with spaces instead of dashes.
  std::string typed = issued.code;
  for (char& c : typed) c = c == '-' ? ' ' : static_cast<char>(std::tolower(c));
  ASSERT_THAT(Redeem(typed), IsOk());
  EXPECT_EQ(used_.patient_id, "p-1");
  EXPECT_EQ(used_.issued_by, "front.desk");
  EXPECT_EQ(used_.issued_at, kStart);
  EXPECT_THAT(Redeem(issued.code), StatusIs(absl::StatusCode::kUnauthenticated));
  // Nothing is left of it.
  EXPECT_EQ(Everything(), "");
}

TEST_F(InvitesTest, AFailedUseLeavesTheCodeUsable) {
  Invites& invites = Make();
  ASSERT_OK_AND_ASSIGN(IssuedInvite issued, invites.Issue("p-1", "desk"));
  EXPECT_THAT(Redeem(issued.code, absl::AlreadyExistsError("login taken")),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(Redeem(issued.code), IsOk());
}

TEST_F(InvitesTest, AnExpiredCodeIsRefusedAsAWrongOne) {
  Invites& invites = Make();
  ASSERT_OK_AND_ASSIGN(IssuedInvite issued, invites.Issue("p-1", "desk"));
  ASSERT_OK_AND_ASSIGN(IssuedInvite later, invites.Issue("p-2", "desk"));
  clock_.Advance(absl::Hours(72) - absl::Seconds(1));
  EXPECT_THAT(Redeem(later.code), IsOk());
  clock_.Advance(absl::Seconds(1));
  absl::Status expired = Redeem(issued.code);
  absl::Status wrong = Redeem("AAAA-AAAA-AAAA");
  EXPECT_THAT(expired, StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(expired, wrong);
  EXPECT_EQ(Everything(), "");
}

TEST_F(InvitesTest, ANewInvitationReplacesThePatientsOldOne) {
  Invites& invites = Make();
  ASSERT_OK_AND_ASSIGN(IssuedInvite first, invites.Issue("p-1", "desk"));
  ASSERT_OK_AND_ASSIGN(IssuedInvite other, invites.Issue("p-2", "desk"));
  clock_.Advance(absl::Minutes(1));
  ASSERT_OK_AND_ASSIGN(IssuedInvite second, invites.Issue("p-1", "desk"));
  ASSERT_OK_AND_ASSIGN(std::vector<Invite> live, invites.LiveFor("p-1"));
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].issued_at, kStart + absl::Minutes(1));
  EXPECT_THAT(Redeem(first.code), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Redeem(other.code), IsOk());
  EXPECT_THAT(Redeem(second.code), IsOk());
  EXPECT_EQ(used_.patient_id, "p-1");
}

TEST_F(InvitesTest, APatientKeepsAtMostTheLiveInvitationsAllowed) {
  Invites& invites = Make({.max_live_per_patient = 2});
  std::vector<IssuedInvite> issued;
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(IssuedInvite one, invites.Issue("p-1", "desk"));
    issued.push_back(one);
    clock_.Advance(absl::Minutes(1));
  }
  ASSERT_OK_AND_ASSIGN(std::vector<Invite> live, invites.LiveFor("p-1"));
  EXPECT_EQ(live.size(), 2u);
  EXPECT_THAT(Redeem(issued[0].code), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Redeem(issued[1].code), IsOk());
  EXPECT_THAT(Redeem(issued[2].code), IsOk());
}

TEST_F(InvitesTest, WrongCodesSpendTheNodesBudgetUntilTheWindowMovesOn) {
  Invites& invites = Make({.max_wrong_codes = 3, .wrong_code_window = absl::Minutes(10)});
  ASSERT_OK_AND_ASSIGN(IssuedInvite issued, invites.Issue("p-1", "desk"));
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(Redeem("WRONG-CODE-" + std::to_string(i)),
                StatusIs(absl::StatusCode::kUnauthenticated));
  }
  // Spent: even the right code is refused unchecked, and stays usable.
  EXPECT_THAT(Redeem(issued.code), StatusIs(absl::StatusCode::kResourceExhausted));
  clock_.Advance(absl::Minutes(10));
  EXPECT_THAT(Redeem(issued.code), IsOk());
}

TEST_F(InvitesTest, RefusesWhatItCannotIssue) {
  Invites& invites = Make();
  EXPECT_THAT(invites.Issue("", "desk"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(invites.Issue("p-1", ""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Invites::Open(kv_.get(), &clock_, {.max_live_per_patient = 0}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace hie::node
