// The used-grant registry: durable across a restart, never forgetting a nonce while
// the verifier still accepts its grant, whatever the number of others, and bounded.
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/store/kv_store.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node/domain/disclosure.h"

namespace hie::node {
namespace {

using ::hie::testing::StatusIs;

int64_t CountKeys(const store::KvStore& kv) {
  int64_t n = 0;
  EXPECT_OK(kv.Scan("", "", [&](absl::string_view, absl::string_view) {
    ++n;
    return true;
  }));
  return n;
}

class NonceRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "hie-nonces-" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(NonceRegistryTest, AUsedGrantStaysUsedAfterARestart) {
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  absl::Time keep_until = now + absl::Minutes(5) + absl::Seconds(30);
  {
    ASSERT_OK_AND_ASSIGN(auto kv, store::KvStore::Open(dir_));
    NonceRegistry nonces(kv.get());
    EXPECT_OK(nonces.Use("n1", keep_until, now));
    EXPECT_THAT(nonces.Use("n1", keep_until, now), StatusIs(absl::StatusCode::kPermissionDenied));
  }
  ASSERT_OK_AND_ASSIGN(auto kv, store::KvStore::Open(dir_));
  NonceRegistry reopened(kv.get());
  EXPECT_THAT(reopened.Use("n1", keep_until, now + absl::Seconds(1)),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_OK(reopened.Use("n2", keep_until, now + absl::Seconds(1)));
}

TEST_F(NonceRegistryTest, ManyOtherNoncesNeverForgetOneTheVerifierStillAccepts) {
  ASSERT_OK_AND_ASSIGN(auto kv, store::KvStore::Open(dir_));
  NonceRegistry nonces(kv.get());
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  absl::Time expires = now + absl::Seconds(30);
  absl::Time keep_until = expires + absl::Seconds(30);  // the verifier's skew
  ASSERT_OK(nonces.Use("first", keep_until, now));
  // 2,000 other grants, the clock passing the first grant's expiry meanwhile (purges
  // run every few seconds).
  for (int i = 0; i < 2000; ++i) {
    absl::Time t = now + absl::Milliseconds(20 * i);
    ASSERT_OK(nonces.Use(absl::StrCat("other-", i), t + absl::Seconds(60), t));
  }
  absl::Time later = expires + absl::Seconds(3);
  EXPECT_THAT(nonces.Use("first", keep_until, later),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(nonces.Use("first", keep_until, keep_until),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(NonceRegistryTest, NoncesPastTheirKeepingArePurged) {
  ASSERT_OK_AND_ASSIGN(auto kv, store::KvStore::Open(dir_));
  NonceRegistry nonces(kv.get());
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  for (int i = 0; i < 100; ++i) {
    ASSERT_OK(nonces.Use(absl::StrCat("n", i), now + absl::Seconds(i), now));
  }
  EXPECT_EQ(CountKeys(*kv), 200);
  ASSERT_OK_AND_ASSIGN(int64_t purged, nonces.Purge(now + absl::Seconds(49) + absl::Microseconds(1)));
  EXPECT_EQ(purged, 50);
  EXPECT_EQ(CountKeys(*kv), 100);
  // Kept ones are still refused; purged ones would be refused by the verifier.
  EXPECT_THAT(nonces.Use("n50", now + absl::Seconds(50), now + absl::Seconds(50)),
              StatusIs(absl::StatusCode::kPermissionDenied));
  ASSERT_OK_AND_ASSIGN(purged, nonces.Purge(now + absl::Hours(1)));
  EXPECT_EQ(purged, 50);
  EXPECT_EQ(CountKeys(*kv), 0);
}

}  // namespace
}  // namespace hie::node
