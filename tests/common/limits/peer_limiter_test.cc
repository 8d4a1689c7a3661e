#include "common/limits/peer_limiter.h"

#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie {
namespace {

using ::hie::testing::FakeClock;
using ::hie::testing::IsOk;
using ::hie::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(TokenBucketTest, StartsFullRefillsAtItsRateAndNeverOverflows) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  TokenBucket bucket(/*rate_per_second=*/2, /*capacity=*/3, t0);
  EXPECT_TRUE(bucket.TryTake(t0));
  EXPECT_TRUE(bucket.TryTake(t0));
  EXPECT_TRUE(bucket.TryTake(t0));
  EXPECT_FALSE(bucket.TryTake(t0));
  EXPECT_FALSE(bucket.TryTake(t0 + absl::Milliseconds(400)));  // 0.8 of a token
  EXPECT_TRUE(bucket.TryTake(t0 + absl::Milliseconds(500)));
  EXPECT_FALSE(bucket.TryTake(t0 + absl::Milliseconds(500)));
  // A long idle spell fills the bucket to its capacity, no more.
  const absl::Time later = t0 + absl::Hours(1);
  EXPECT_TRUE(bucket.Full(later));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.TryTake(later));
  EXPECT_FALSE(bucket.TryTake(later));
}

TEST(TokenBucketTest, TimeGoingBackwardsAddsNothing) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  TokenBucket bucket(1, 1, t0);
  EXPECT_TRUE(bucket.TryTake(t0));
  EXPECT_FALSE(bucket.TryTake(t0 - absl::Hours(1)));
  EXPECT_FALSE(bucket.TryTake(t0 + absl::Milliseconds(999)));
  EXPECT_TRUE(bucket.TryTake(t0 + absl::Seconds(1)));
}

TEST(PeerLimiterTest, ConcurrencyIsCappedPerPeerAndFreedWhenCallsEnd) {
  FakeClock clock;
  auto limiter = PeerLimiter::Create({.max_concurrent_calls = 2}, &clock);
  for (int i = 0; i < 2; ++i) {
    ASSERT_THAT(limiter->Admit("org-a"), IsOk());
    limiter->CallStarted("org-a");
  }
  EXPECT_THAT(limiter->Admit("org-a"),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       AllOf(HasSubstr("org-a"), HasSubstr("max_concurrent_calls = 2"))));
  // Another peer is not affected by org-a's calls.
  EXPECT_THAT(limiter->Admit("org-b"), IsOk());
  limiter->CallFinished("org-a");
  EXPECT_EQ(limiter->InFlight("org-a"), 1);
  EXPECT_THAT(limiter->Admit("org-a"), IsOk());
}

TEST(PeerLimiterTest, RateIsATokenBucketPerPeer) {
  FakeClock clock;
  auto limiter =
      PeerLimiter::Create({.max_concurrent_calls = 0, .calls_per_second = 10, .burst = 5}, &clock);
  for (int i = 0; i < 5; ++i) EXPECT_THAT(limiter->Admit("org-a"), IsOk()) << i;
  EXPECT_THAT(limiter->Admit("org-a"),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       AllOf(HasSubstr("org-a"), HasSubstr("calls_per_second = 10"),
                             HasSubstr("burst = 5"))));
  for (int i = 0; i < 5; ++i) EXPECT_THAT(limiter->Admit("org-b"), IsOk()) << i;
  clock.Advance(absl::Milliseconds(100));  // one token
  EXPECT_THAT(limiter->Admit("org-a"), IsOk());
  EXPECT_FALSE(limiter->Admit("org-a").ok());
}

TEST(PeerLimiterTest, BurstDefaultsToTheRateRoundedUp) {
  FakeClock clock;
  auto limiter = PeerLimiter::Create({.calls_per_second = 2.5}, &clock);
  EXPECT_EQ(limiter->limits().burst, 3);
  for (int i = 0; i < 3; ++i) EXPECT_THAT(limiter->Admit("org-a"), IsOk());
  EXPECT_FALSE(limiter->Admit("org-a").ok());
  auto slow = PeerLimiter::Create({.calls_per_second = 0.1}, &clock);
  EXPECT_EQ(slow->limits().burst, 1);
}

TEST(PeerLimiterTest, ZeroMeansUnlimited) {
  FakeClock clock;
  auto limiter = PeerLimiter::Create({.max_concurrent_calls = 0, .calls_per_second = 0}, &clock);
  for (int i = 0; i < 10000; ++i) {
    ASSERT_THAT(limiter->Admit("org-a"), IsOk());
    limiter->CallStarted("org-a");
  }
  EXPECT_EQ(limiter->InFlight("org-a"), 10000);
}

TEST(PeerLimiterTest, IdlePeersAreForgottenButBusyOnesKeepTheirCounts) {
  FakeClock clock;
  auto limiter = PeerLimiter::Create({.max_concurrent_calls = 1}, &clock);
  limiter->CallStarted("busy");
  for (int i = 0; i < 5000; ++i) ASSERT_THAT(limiter->Admit("peer-" + std::to_string(i)), IsOk());
  EXPECT_EQ(limiter->InFlight("busy"), 1);
  EXPECT_FALSE(limiter->Admit("busy").ok());
  // An unbalanced CallFinished never drives a count below zero.
  limiter->CallFinished("never-started");
  EXPECT_EQ(limiter->InFlight("never-started"), 0);
}

}  // namespace
}  // namespace hie
