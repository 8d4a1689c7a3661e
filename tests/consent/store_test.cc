// Directive storage and grant keys on a real LevelDB store, across reopening.
#include <filesystem>

#include "common/store/kv_store.h"
#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "consent/domain/directive_store.h"
#include "consent/domain/grant_keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/consent/consent_json.h"

namespace hie::consent {
namespace {

using namespace ::hie::consent::testing;  // NOLINT
using ::hie::testing::StatusIs;
using ::testing::HasSubstr;

class ConsentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("hie-consent-store-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    store_.reset();
    ASSERT_OK_AND_ASSIGN(store_, store::KvStore::Open((dir_ / "store").string()));
  }
  static hie::v1::LocalPatientRef Patient(const std::string& org, const std::string& local) {
    hie::v1::LocalPatientRef ref;
    ref.set_org_id(org);
    ref.set_local_id(local);
    return ref;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::KvStore> store_;
  hie::testing::FakeClock clock_;
};

TEST_F(ConsentStoreTest, VersionsAreKeptAndSurviveReopening) {
  std::string id;
  {
    DirectiveStore directives(store_.get(), &clock_);
    ASSERT_OK_AND_ASSIGN(hie::v1::Directive first,
                         directives.Put(Patient("org-a", "A1"), "E1", "org-a",
                                        Consent("", "2025-01-01", ProvisionJson("deny", {}))));
    id = first.directive_id();
    EXPECT_EQ(id.size(), 32u);  // assigned
    EXPECT_THAT(first.consent_json(), HasSubstr("\"id\":\"" + id + "\""));
    clock_.Advance(absl::Seconds(1));
    ASSERT_OK_AND_ASSIGN(hie::v1::Directive second,
                         directives.Put(Patient("org-a", "A1"), "E1", "org-a",
                                        Consent(id, "2025-02-01", ProvisionJson("permit", {}))));
    EXPECT_EQ(second.version(), 2);
    // The same id for another patient is refused.
    EXPECT_THAT(directives.Put(Patient("org-b", "B1"), "E1", "org-b",
                               Consent(id, "2025-02-01", ProvisionJson("permit", {}))),
                StatusIs(absl::StatusCode::kPermissionDenied));
    // An invalid directive stores nothing.
    EXPECT_THAT(directives.Put(Patient("org-a", "A1"), "E1", "org-a",
                               Consent(id, "2025-02-01", ProvisionJson("sometimes", {}))),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
  Reopen();
  DirectiveStore directives(store_.get(), &clock_);
  ASSERT_OK_AND_ASSIGN(auto current, directives.Current({Patient("org-a", "A1")}));
  ASSERT_EQ(current.size(), 1u);
  EXPECT_EQ(current[0]->stored.version(), 2);
  EXPECT_EQ(current[0]->parsed.provision.type, ProvisionType::kPermit);
  ASSERT_OK_AND_ASSIGN(hie::v1::Directive revoked, directives.Revoke(id, "org-b", "moved away"));
  EXPECT_EQ(revoked.version(), 3);
  EXPECT_EQ(revoked.status(), "inactive");
  EXPECT_THAT(directives.Revoke(id, "org-b", "again"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(directives.Revoke("nope", "org-b", ""), StatusIs(absl::StatusCode::kNotFound));
  // The revocation is what the next decision sees.
  ASSERT_OK_AND_ASSIGN(current, directives.Current({Patient("org-a", "A1")}));
  EXPECT_EQ(current[0]->parsed.status, "inactive");
  ASSERT_OK_AND_ASSIGN(auto history, directives.List({Patient("org-a", "A1")}, true));
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[0].version(), 3);  // newest first
  ASSERT_OK_AND_ASSIGN(auto latest, directives.List({Patient("org-a", "A1")}, false));
  EXPECT_EQ(latest.size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto none, directives.List({Patient("org-c", "C1")}, true));
  EXPECT_TRUE(none.empty());
}

TEST_F(ConsentStoreTest, ConsentDatedInTheFutureIsRefused) {
  DirectiveStore directives(store_.get(), &clock_);
  auto at = [&](absl::Duration ahead) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", clock_.Now() + ahead, absl::UTCTimeZone());
  };
  auto put = [&](const std::string& date_time) {
    return directives.Put(Patient("org-a", "A1"), "E1", "org-a",
                          Consent("", date_time, ProvisionJson("permit", {})));
  };
  EXPECT_THAT(put("2099-01-01"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Consent.dateTime")));
  EXPECT_THAT(put(at(absl::Minutes(10))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is in the future")));
  EXPECT_OK(put(at(absl::Minutes(1))).status());  // clock skew
  EXPECT_OK(put(at(absl::ZeroDuration())).status());
  // Today's date (UTC midnight) is never in the future, wherever the practice is.
  EXPECT_OK(put(absl::FormatTime("%Y-%m-%d", clock_.Now(), absl::UTCTimeZone())).status());
  // Once that time has come, the same consent is accepted.
  const std::string later = at(absl::Hours(1));
  EXPECT_THAT(put(later), StatusIs(absl::StatusCode::kInvalidArgument));
  clock_.Advance(absl::Hours(1));
  EXPECT_OK(put(later).status());
}

TEST_F(ConsentStoreTest, GrantKeysRotateAndRetiredKeysVerifyUntilTheirGrantsExpire) {
  GrantKeyOptions options{.key_dir = (dir_ / "keys").string(),
                          .rotation = absl::Hours(24),
                          .grant_validity = absl::Minutes(5)};
  std::string first_id;
  {
    ASSERT_OK_AND_ASSIGN(auto keys, GrantKeys::Open(store_.get(), &clock_, options));
    ASSERT_OK_AND_ASSIGN(auto key, keys->Current());
    first_id = key->key_id();
    EXPECT_EQ(keys->PublicKeys().size(), 1u);
    EXPECT_EQ(
        std::filesystem::status(dir_ / "keys" / ("grant-" + first_id + ".pem")).permissions() &
            (std::filesystem::perms::group_all | std::filesystem::perms::others_all),
        std::filesystem::perms::none);
  }
  Reopen();
  ASSERT_OK_AND_ASSIGN(auto keys, GrantKeys::Open(store_.get(), &clock_, options));
  ASSERT_OK_AND_ASSIGN(auto same, keys->Current());
  EXPECT_EQ(same->key_id(), first_id) << "a restart keeps the current key";
  // A day later the key rotates by itself; the old one verifies for validity + skew.
  clock_.Advance(absl::Hours(24) + absl::Seconds(1));
  ASSERT_OK_AND_ASSIGN(auto rotated, keys->Current());
  EXPECT_NE(rotated->key_id(), first_id);
  auto published = keys->PublicKeys();
  ASSERT_EQ(published.size(), 2u);
  EXPECT_EQ(published[0].key_id(), rotated->key_id());
  EXPECT_EQ(published[1].key_id(), first_id);
  EXPECT_TRUE(published[1].has_not_after());
  EXPECT_FALSE(std::filesystem::exists(dir_ / "keys" / ("grant-" + first_id + ".pem")))
      << "a retired private key is removed";
  clock_.Advance(absl::Minutes(7));
  EXPECT_EQ(keys->PublicKeys().size(), 1u);
}

}  // namespace
}  // namespace hie::consent
