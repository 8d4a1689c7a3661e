// The directive feed: ordered, durable across a reopen, never reusing a sequence after
// a purge, and naming patients only by a hash of their EUID.
#include "consent/domain/directive_feed.h"

#include <unistd.h>

#include <filesystem>

#include "common/crypto/hash.h"
#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::consent {
namespace {

class DirectiveFeedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "hie-directive-feed-" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
  hie::testing::FakeClock clock_;
};

TEST_F(DirectiveFeedTest, ChangesAreOrderedDurableAndNameAKeyedHashOnly) {
  std::string key_of_e1;
  {
    ASSERT_OK_AND_ASSIGN(auto kv, store::KvStore::Open(dir_));
    ASSERT_OK_AND_ASSIGN(auto feed, DirectiveFeed::Open(kv.get(), &clock_));
    EXPECT_EQ(feed->LastSequence(), 0);
    ASSERT_OK_AND_ASSIGN(auto first, feed->Append("E-1"));
    ASSERT_OK_AND_ASSIGN(auto second, feed->Append("E-2"));
    EXPECT_EQ(first.sequence(), 1);
    EXPECT_EQ(second.sequence(), 2);
    key_of_e1 = feed->PatientKey("E-1");
    EXPECT_EQ(first.patient_key(), key_of_e1);
    EXPECT_EQ(key_of_e1.size(), 64u);
    EXPECT_NE(key_of_e1, crypto::Sha256Hex("E-1"));  // keyed: not computable from the EUID
    EXPECT_NE(feed->PatientKey("E-1"), feed->PatientKey("E-2"));
  }
  {
    // Another consent service (another secret) keys the same EUID differently.
    std::string other_dir = dir_ + "-other";
    std::filesystem::remove_all(other_dir);
    ASSERT_OK_AND_ASSIGN(auto kv, store::KvStore::Open(other_dir));
    ASSERT_OK_AND_ASSIGN(auto other, DirectiveFeed::Open(kv.get(), &clock_));
    EXPECT_NE(other->PatientKey("E-1"), key_of_e1);
    kv.reset();
    std::filesystem::remove_all(other_dir);
  }
  ASSERT_OK_AND_ASSIGN(auto kv, store::KvStore::Open(dir_));
  ASSERT_OK_AND_ASSIGN(auto feed, DirectiveFeed::Open(kv.get(), &clock_));
  EXPECT_EQ(feed->LastSequence(), 2);
  EXPECT_EQ(feed->PatientKey("E-1"), key_of_e1);  // the secret is kept
  ASSERT_OK_AND_ASSIGN(auto all, feed->After(0, 1000));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].patient_key(), feed->PatientKey("E-2"));
  ASSERT_OK_AND_ASSIGN(auto later, feed->After(1, 1000));
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].sequence(), 2);
  ASSERT_OK_AND_ASSIGN(auto page, feed->After(0, 1));
  EXPECT_EQ(page.size(), 1u);
}

TEST_F(DirectiveFeedTest, OldChangesArePurgedButSequencesNeverGoBack) {
  {
    ASSERT_OK_AND_ASSIGN(auto kv, store::KvStore::Open(dir_));
    ASSERT_OK_AND_ASSIGN(auto feed, DirectiveFeed::Open(kv.get(), &clock_));
    ASSERT_OK(feed->Append("E-1").status());
    clock_.Advance(kDirectiveChangeRetention - absl::Minutes(1));
    ASSERT_OK(feed->Append("E-2").status());
    clock_.Advance(absl::Minutes(2));
    ASSERT_OK_AND_ASSIGN(int64_t purged, feed->Purge());
    EXPECT_EQ(purged, 1);
    ASSERT_OK_AND_ASSIGN(auto kept, feed->After(0, 1000));
    ASSERT_EQ(kept.size(), 1u);
    EXPECT_EQ(kept[0].sequence(), 2);
    clock_.Advance(kDirectiveChangeRetention);
    ASSERT_OK_AND_ASSIGN(purged, feed->Purge());
    EXPECT_EQ(purged, 1);
  }
  ASSERT_OK_AND_ASSIGN(auto kv, store::KvStore::Open(dir_));
  ASSERT_OK_AND_ASSIGN(auto feed, DirectiveFeed::Open(kv.get(), &clock_));
  EXPECT_EQ(feed->LastSequence(), 2);
  ASSERT_OK_AND_ASSIGN(auto next, feed->Append("E-3"));
  EXPECT_EQ(next.sequence(), 3);
}

}  // namespace
}  // namespace hie::consent
