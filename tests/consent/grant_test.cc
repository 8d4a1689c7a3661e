#include "consent/domain/grant.h"

#include "common/status/error_detail.h"
#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::consent {
namespace {

using ::hie::testing::StatusIs;

class GrantTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(key_, crypto::SigningKey::Generate());
    crypto::KeyRing ring;
    ring.Add(key_->verifying_key());
    verifier_.emplace(std::move(ring), &clock_);
    grant_.set_euid("E1");
    grant_.set_requester_org("org-a");
    grant_.set_purpose("TREAT");
    grant_.add_holders()->set_org_id("org-b");
    grant_.add_holders()->set_org_id("org-c");
  }

  hie::v1::SignedGrant Sign() {
    GrantSigner signer(&*key_, &clock_, absl::Minutes(5));
    auto signed_grant = signer.Sign(grant_);
    EXPECT_OK(signed_grant);
    return *signed_grant;
  }

  hie::v1::ErrorReason Reason(const absl::Status& status) {
    auto detail = GetErrorDetail(status);
    return detail ? detail->reason() : hie::v1::ERROR_REASON_UNSPECIFIED;
  }

  hie::testing::FakeClock clock_;
  std::optional<crypto::SigningKey> key_;
  std::optional<GrantVerifier> verifier_;
  hie::v1::DisclosureGrant grant_;
};

TEST_F(GrantTest, SignedGrantVerifiesForEachNamedHolder) {
  hie::v1::SignedGrant signed_grant = Sign();
  EXPECT_EQ(signed_grant.key_id(), key_->key_id());
  ASSERT_OK_AND_ASSIGN(hie::v1::DisclosureGrant grant,
                       verifier_->Verify(signed_grant, "org-a", "org-b"));
  EXPECT_EQ(grant.euid(), "E1");
  EXPECT_EQ(grant.nonce().size(), 32u);
  EXPECT_OK(verifier_->Verify(signed_grant, "org-a", "org-c"));
  EXPECT_NE(Sign().grant(), signed_grant.grant()) << "every grant has its own nonce";
}

TEST_F(GrantTest, AlteredGrantIsRefused) {
  hie::v1::SignedGrant signed_grant = Sign();
  hie::v1::DisclosureGrant grant;
  ASSERT_TRUE(grant.ParseFromString(signed_grant.grant()));
  grant.add_holders()->set_org_id("org-evil");
  signed_grant.set_grant(grant.SerializeAsString());
  auto result = verifier_->Verify(signed_grant, "org-a", "org-evil");
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(Reason(result.status()), hie::v1::ERROR_REASON_GRANT_INVALID_SIGNATURE);
}

TEST_F(GrantTest, ForgedByAnotherKeyIsRefused) {
  ASSERT_OK_AND_ASSIGN(crypto::SigningKey forger, crypto::SigningKey::Generate());
  GrantSigner signer(&forger, &clock_, absl::Minutes(5));
  ASSERT_OK_AND_ASSIGN(hie::v1::SignedGrant forged, signer.Sign(grant_));
  EXPECT_EQ(Reason(verifier_->Verify(forged, "org-a", "org-b").status()),
            hie::v1::ERROR_REASON_GRANT_INVALID_SIGNATURE);
  // Claiming the real key id does not help.
  forged.set_key_id(key_->key_id());
  EXPECT_EQ(Reason(verifier_->Verify(forged, "org-a", "org-b").status()),
            hie::v1::ERROR_REASON_GRANT_INVALID_SIGNATURE);
  // Nor does a signature over the grant without the context prefix.
  hie::v1::SignedGrant unprefixed = Sign();
  ASSERT_OK_AND_ASSIGN(std::string bare, key_->Sign(unprefixed.grant()));
  unprefixed.set_signature(bare);
  EXPECT_EQ(Reason(verifier_->Verify(unprefixed, "org-a", "org-b").status()),
            hie::v1::ERROR_REASON_GRANT_INVALID_SIGNATURE);
}

TEST_F(GrantTest, ExpiredGrantIsRefusedAfterSkew) {
  hie::v1::SignedGrant signed_grant = Sign();
  clock_.Advance(absl::Minutes(5) + absl::Seconds(20));  // within the 30 s skew
  EXPECT_OK(verifier_->Verify(signed_grant, "org-a", "org-b"));
  clock_.Advance(absl::Seconds(20));
  auto result = verifier_->Verify(signed_grant, "org-a", "org-b");
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(Reason(result.status()), hie::v1::ERROR_REASON_GRANT_EXPIRED);
}

TEST_F(GrantTest, GrantFromTheFutureIsRefused) {
  clock_.Advance(absl::Minutes(10));
  hie::v1::SignedGrant signed_grant = Sign();
  clock_.Advance(-absl::Minutes(10));
  EXPECT_EQ(Reason(verifier_->Verify(signed_grant, "org-a", "org-b").status()),
            hie::v1::ERROR_REASON_GRANT_EXPIRED);
}

TEST_F(GrantTest, WrongRequesterAndWrongHolderAreRefused) {
  hie::v1::SignedGrant signed_grant = Sign();
  auto stolen = verifier_->Verify(signed_grant, "org-c", "org-b");
  EXPECT_THAT(stolen, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(Reason(stolen.status()), hie::v1::ERROR_REASON_GRANT_WRONG_REQUESTER);
  auto other_holder = verifier_->Verify(signed_grant, "org-a", "org-d");
  EXPECT_THAT(other_holder, StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(Reason(other_holder.status()), hie::v1::ERROR_REASON_GRANT_WRONG_HOLDER);
}

TEST_F(GrantTest, UnknownKeyAndGarbageAreRefused) {
  hie::v1::SignedGrant signed_grant = Sign();
  signed_grant.set_key_id("0000000000000000");
  EXPECT_EQ(Reason(verifier_->Verify(signed_grant, "org-a", "org-b").status()),
            hie::v1::ERROR_REASON_GRANT_INVALID_SIGNATURE);
  hie::v1::SignedGrant garbage;
  garbage.set_key_id(key_->key_id());
  garbage.set_grant("\xff\xff\xff");
  garbage.set_signature(std::string(64, 'x'));
  EXPECT_THAT(verifier_->Verify(garbage, "org-a", "org-b"),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

}  // namespace
}  // namespace hie::consent
