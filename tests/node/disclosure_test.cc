// The holder's answer to a fetch (Discloser): what it sends under a grant, what it
// withholds or names, and that every refusal and every disclosure is in its audit
// before anything leaves.
#include "node/domain/disclosure.h"

#include <unistd.h>

#include <filesystem>
#include <optional>

#include "absl/synchronization/mutex.h"
#include "common/crypto/signing.h"
#include "common/status/error_detail.h"
#include "common/store/kv_store.h"
#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "consent/domain/grant.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::node {
namespace {

using ::hie::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

hie::v1::RecordEnvelope Record(const std::string& type, const std::string& id,
                               const std::string& json, std::vector<std::string> sensitivity = {}) {
  hie::v1::RecordEnvelope r;
  r.set_resource_type(type);
  r.set_resource_id(id);
  r.set_patient_local_id("b-77");
  r.set_fhir_json(json);
  for (auto& s : sensitivity) r.add_sensitivity(std::move(s));
  return r;
}

class FakeAudit final : public AuditSink {
 public:
  absl::Status Append(hie::v1::AuditEntry entry) override {
    absl::MutexLock lock(&mu_);
    if (entry.action() == refuse_action) return absl::InternalError("the disk is full");
    entries.push_back(std::move(entry));
    return absl::OkStatus();
  }

  hie::v1::AuditAction refuse_action = hie::v1::AUDIT_ACTION_UNSPECIFIED;
  std::vector<hie::v1::AuditEntry> entries;

 private:
  absl::Mutex mu_;
};

class FixedVerifiers final : public GrantVerifiers {
 public:
  absl::StatusOr<std::shared_ptr<const consent::GrantVerifier>> VerifierFor(
      const std::string& key_id) override {
    if (verifier == nullptr) return absl::UnavailableError("the consent service is down");
    return verifier;
  }
  std::shared_ptr<const consent::GrantVerifier> verifier;
};

class ScriptedDirectives final : public DirectiveCheck {
 public:
  absl::Status Check(const hie::v1::DisclosureGrant& grant) override { return answer; }
  absl::Status answer = absl::OkStatus();
};

class DiscloserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "hie-discloser-" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
    auto kv = store::KvStore::Open(dir_);
    ASSERT_OK(kv.status());
    kv_ = *std::move(kv);
    records_ = std::make_unique<RecordStore>(kv_.get(), &clock_);
    ASSERT_OK(records_
                  ->Put({Record("Patient", "b-77", R"({"resourceType":"Patient","id":"b-77"})"),
                         Record("Condition", "eth", R"({"resourceType":"Condition","id":"eth"})",
                                {"ETH"}),
                         Record("Media", "scan", std::string(200, ' '))})
                  .status());
    auto key = crypto::SigningKey::Generate();
    ASSERT_OK(key.status());
    key_.emplace(*std::move(key));
    crypto::KeyRing ring;
    ring.Add(key_->verifying_key());
    verifiers_.verifier = std::make_shared<const consent::GrantVerifier>(std::move(ring), &clock_);
    grant_.set_euid("E-1");
    grant_.set_requester_org("org-a");
    grant_.set_purpose("TREAT");
    grant_.set_query_id("q-1");
    grant_.mutable_user()->set_user_id("dr.lee");
    grant_.add_withheld_categories("ETH");
    hie::v1::GrantHolder* holder = grant_.add_holders();
    holder->set_org_id("org-b");
    holder->set_local_id("b-77");
    discloser_.emplace("org-b", /*max_record_bytes=*/100, records_.get(), kv_.get(), &audit_,
                       &verifiers_, &directives_, &clock_);
  }
  void TearDown() override {
    discloser_.reset();
    records_.reset();
    kv_.reset();
    std::filesystem::remove_all(dir_);
  }

  FetchInput Fetch(const std::string& peer_org = "org-a") {
    consent::GrantSigner signer(&*key_, &clock_, absl::Minutes(5));
    auto signed_grant = signer.Sign(grant_);
    EXPECT_OK(signed_grant.status());
    FetchInput input;
    input.peer_org = peer_org;
    input.grant = *signed_grant;
    return input;
  }

  hie::testing::FakeClock clock_;
  std::string dir_;
  std::unique_ptr<store::KvStore> kv_;
  std::unique_ptr<RecordStore> records_;
  std::optional<crypto::SigningKey> key_;
  hie::v1::DisclosureGrant grant_;
  FakeAudit audit_;
  FixedVerifiers verifiers_;
  ScriptedDirectives directives_;
  std::optional<Discloser> discloser_;
};

TEST_F(DiscloserTest, SendsWhatTheGrantAllowsAndAuditsItFirst) {
  ASSERT_OK_AND_ASSIGN(FetchAnswer answer, discloser_->Serve(Fetch()));
  ASSERT_EQ(answer.records.size(), 1u);
  EXPECT_EQ(answer.records[0].resource_type(), "Patient");
  EXPECT_EQ(answer.records[0].source_org(), "org-b");
  EXPECT_EQ(answer.withheld, 1);
  EXPECT_EQ(answer.skipped.count, 1);
  EXPECT_THAT(answer.skipped.references, ElementsAre("Media/scan"));
  ASSERT_EQ(audit_.entries.size(), 1u);
  const hie::v1::AuditEntry& entry = audit_.entries[0];
  EXPECT_EQ(entry.action(), hie::v1::AUDIT_ACTION_DISCLOSE);
  EXPECT_EQ(entry.actor_org(), "org-a");
  EXPECT_EQ(entry.counterpart_org(), "org-a");
  EXPECT_EQ(entry.patient().org_id(), "org-b");
  EXPECT_EQ(entry.patient().local_id(), "b-77");
  EXPECT_EQ(entry.query_id(), "q-1");
  EXPECT_EQ(entry.user().user_id(), "dr.lee");
  EXPECT_EQ(entry.detail(),
            "sent 1, withheld 1, skipped 1 larger than 100 bytes: Media/scan; "
            "categories withheld: ETH");
}

TEST_F(DiscloserTest, ResourceTypesNarrowTheAnswer) {
  FetchInput input = Fetch();
  input.resource_types = {"Condition"};
  ASSERT_OK_AND_ASSIGN(FetchAnswer answer, discloser_->Serve(input));
  EXPECT_THAT(answer.records, IsEmpty());
  EXPECT_EQ(answer.withheld, 1);
}

TEST_F(DiscloserTest, BreakTheGlassIsAuditedAsSuch) {
  grant_.set_break_glass(true);
  grant_.set_break_glass_reason("unconscious in the ED");
  ASSERT_OK(discloser_->Serve(Fetch()).status());
  ASSERT_EQ(audit_.entries.size(), 1u);
  EXPECT_EQ(audit_.entries[0].action(), hie::v1::AUDIT_ACTION_BREAK_GLASS);
  EXPECT_THAT(audit_.entries[0].detail(), HasSubstr("(break-the-glass: unconscious in the ED)"));
}

TEST_F(DiscloserTest, AGrantServesOnceAndTheReplayIsRefusedUnderThePatient) {
  FetchInput input = Fetch();
  ASSERT_OK(discloser_->Serve(input).status());
  EXPECT_THAT(discloser_->Serve(input),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("already used")));
  ASSERT_EQ(audit_.entries.size(), 2u);
  const hie::v1::AuditEntry& refusal = audit_.entries[1];
  EXPECT_EQ(refusal.action(), hie::v1::AUDIT_ACTION_REFUSE);
  EXPECT_EQ(refusal.outcome(), "refused");
  EXPECT_EQ(refusal.patient().local_id(), "b-77");
  EXPECT_EQ(refusal.query_id(), "q-1");
  EXPECT_THAT(refusal.detail(), HasSubstr("FetchRecords: "));
}

TEST_F(DiscloserTest, AnotherPracticesCallIsRefusedWithoutNamingThePatient) {
  absl::StatusOr<FetchAnswer> answer = discloser_->Serve(Fetch("org-x"));
  EXPECT_THAT(answer, StatusIs(absl::StatusCode::kPermissionDenied));
  std::optional<hie::v1::ErrorDetail> detail = GetErrorDetail(answer.status());
  ASSERT_TRUE(detail.has_value());
  EXPECT_EQ(detail->reason(), hie::v1::ERROR_REASON_GRANT_WRONG_REQUESTER);
  ASSERT_EQ(audit_.entries.size(), 1u);
  EXPECT_EQ(audit_.entries[0].action(), hie::v1::AUDIT_ACTION_REFUSE);
  EXPECT_EQ(audit_.entries[0].actor_org(), "org-x");
  EXPECT_FALSE(audit_.entries[0].has_patient());
}

TEST_F(DiscloserTest, AStoppedGrantIsRefusedBeforeItIsSpent) {
  FetchInput input = Fetch();
  directives_.answer = absl::UnavailableError("the directive feed is stale");
  EXPECT_THAT(discloser_->Serve(input), StatusIs(absl::StatusCode::kUnavailable));
  directives_.answer = absl::OkStatus();
  EXPECT_OK(discloser_->Serve(input).status()) << "the refused fetch did not use the grant";
}

TEST_F(DiscloserTest, NothingIsSentWithoutItsAuditEntry) {
  audit_.refuse_action = hie::v1::AUDIT_ACTION_DISCLOSE;
  EXPECT_THAT(discloser_->Serve(Fetch()),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("the disclosure could not be audited, so nothing is sent")));
}

TEST_F(DiscloserTest, UnknownKeysAreADependencyFailureNotARefusal) {
  verifiers_.verifier = nullptr;
  EXPECT_THAT(discloser_->Serve(Fetch()), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(audit_.entries, IsEmpty());
}

}  // namespace
}  // namespace hie::node
