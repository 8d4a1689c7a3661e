// A patient's accounting of disclosures: what a holder sends for the patient's own
// request (and under which checks), and how the requesting practice merges every
// holder's entries with its own, naming the holders that could not answer.
#include "node/domain/accounting.h"

#include <unistd.h>

#include <filesystem>

#include "common/crypto/signing.h"
#include "common/store/kv_store.h"
#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "common/time/proto_time.h"
#include "consent/domain/grant.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::node {
namespace {

using ::hie::testing::StatusIs;
using ::testing::ElementsAre;

class FixedVerifiers final : public GrantVerifiers {
 public:
  absl::StatusOr<std::shared_ptr<const consent::GrantVerifier>> VerifierFor(
      const std::string&) override {
    return verifier;
  }
  std::shared_ptr<const consent::GrantVerifier> verifier;
};

hie::v1::AuditEntry Entry(hie::v1::AuditAction action, const std::string& org,
                          const std::string& local, const std::string& actor,
                          const std::string& user, const std::string& outcome = "ok") {
  hie::v1::AuditEntry entry;
  entry.set_action(action);
  entry.set_actor_org(actor);
  entry.mutable_user()->set_user_id(user);
  entry.mutable_patient()->set_org_id(org);
  entry.mutable_patient()->set_local_id(local);
  entry.set_purpose("TREAT");
  entry.set_outcome(outcome);
  return entry;
}

class AccountingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "hie-accounting-" + std::to_string(getpid());
    std::filesystem::remove_all(dir_);
    auto kv = store::KvStore::Open(dir_);
    ASSERT_OK(kv.status());
    kv_ = *std::move(kv);
    auto log = audit::AuditLog::Open(kv_.get(), &clock_);
    ASSERT_OK(log.status());
    log_ = *std::move(log);
    sink_ = AuditSink::ForLog(log_.get());
    records_ = std::make_unique<RecordStore>(kv_.get(), &clock_);
    auto key = crypto::SigningKey::Generate();
    ASSERT_OK(key.status());
    key_.emplace(*std::move(key));
    crypto::KeyRing ring;
    ring.Add(key_->verifying_key());
    verifiers_.verifier = std::make_shared<const consent::GrantVerifier>(std::move(ring), &clock_);
    discloser_.emplace("org-b", 1000, records_.get(), kv_.get(), sink_.get(), &verifiers_, nullptr,
                       &clock_);
    holder_.emplace(&*discloser_, log_.get(), sink_.get());
  }
  void TearDown() override {
    holder_.reset();
    discloser_.reset();
    records_.reset();
    sink_.reset();
    log_.reset();
    kv_.reset();
    std::filesystem::remove_all(dir_);
  }

  hie::v1::SignedGrant Grant(const std::string& purpose, const std::string& nonce) {
    hie::v1::DisclosureGrant grant;
    grant.set_euid("E-1");
    grant.set_requester_org("org-a");
    grant.set_purpose(purpose);
    grant.set_nonce(nonce);
    grant.mutable_user()->set_user_id("jane");
    hie::v1::GrantHolder* holder = grant.add_holders();
    holder->set_org_id("org-b");
    holder->set_local_id("b-77");
    consent::GrantSigner signer(&*key_, &clock_, absl::Minutes(5));
    auto signed_grant = signer.Sign(grant);
    EXPECT_OK(signed_grant.status());
    return *signed_grant;
  }

  hie::testing::FakeClock clock_;
  std::string dir_;
  std::unique_ptr<store::KvStore> kv_;
  std::unique_ptr<audit::AuditLog> log_;
  std::unique_ptr<AuditSink> sink_;
  std::unique_ptr<RecordStore> records_;
  std::optional<crypto::SigningKey> key_;
  FixedVerifiers verifiers_;
  std::optional<Discloser> discloser_;
  std::optional<AccountingHolder> holder_;
};

TEST_F(AccountingTest, HolderSendsItsDisclosuresOfThePatientOnlyForThePatientsRequest) {
  hie::v1::AuditEntry disclosed =
      Entry(hie::v1::AUDIT_ACTION_DISCLOSE, "org-b", "b-77", "org-c", "dr.who");
  disclosed.set_detail("sent 2, withheld 1; categories withheld: ETH PSY");
  ASSERT_OK(log_->Append(disclosed).status());
  // Another patient's disclosure, and this practice's own query: not sent.
  ASSERT_OK(log_->Append(Entry(hie::v1::AUDIT_ACTION_DISCLOSE, "org-b", "b-1", "org-c", "dr.who"))
                .status());
  ASSERT_OK(
      log_->Append(Entry(hie::v1::AUDIT_ACTION_QUERY, "org-b", "b-77", "org-b", "nurse")).status());

  ASSERT_OK_AND_ASSIGN(AccountingAnswer answer, holder_->Serve("org-a", Grant("PATRQT", "n-1")));
  ASSERT_EQ(answer.entries.size(), 1u);
  EXPECT_EQ(answer.entries[0].user().user_id(), "dr.who");
  std::optional<DisclosureEvent> event = EventOf(answer.entries[0], "org-b");
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->recipient_org, "org-c");
  EXPECT_EQ(event->holder_org, "org-b");
  EXPECT_THAT(event->withheld_categories, ElementsAre("ETH", "PSY"));

  // The answer was audited for the patient's request, and is not sent again later.
  ASSERT_OK_AND_ASSIGN(auto entries,
                       log_->QueryByPatient(audit::PatientKey::Local("org-b", "b-77")));
  const hie::v1::AuditEntry& last = entries.back();
  EXPECT_EQ(last.interaction(), kAccountingInteraction);
  EXPECT_EQ(last.actor_org(), "org-a");
  EXPECT_EQ(last.user().user_id(), "jane");
  const hie::v1::SignedGrant second = Grant("PATRQT", "n-2");
  ASSERT_OK_AND_ASSIGN(answer, holder_->Serve("org-a", second));
  EXPECT_EQ(answer.entries.size(), 1u);

  // A grant serves once; a treatment grant is no patient's request; nor is another
  // requester's use of the grant.
  EXPECT_THAT(holder_->Serve("org-a", second).status(),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(holder_->Serve("org-a", Grant("TREAT", "n-3")).status(),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(holder_->Serve("org-c", Grant("PATRQT", "n-4")).status(),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

class ScriptedConsent final : public ConsentClient {
 public:
  void Authorize(const AuthorizeQuery& query,
                 std::function<void(absl::StatusOr<Authorization>)> done) override {
    asked = query;
    done(answer);
  }
  absl::StatusOr<Authorization> answer;
  AuthorizeQuery asked;
};

class ScriptedHolders final : public AccountingClient {
 public:
  void ListDisclosures(const hie::v1::GrantHolder& holder, const hie::v1::SignedGrant&,
                       absl::Duration,
                       std::function<void(absl::StatusOr<AccountingAnswer>)> done) override {
    done(answers.at(holder.org_id()));
  }
  std::map<std::string, absl::StatusOr<AccountingAnswer>> answers;
};

TEST_F(AccountingTest, MergesEveryHolderWithItsOwnNewestFirstAndNamesAHolderDown) {
  // This practice (org-b here): a query by its own user, started then done.
  ASSERT_OK(
      log_->Append(Entry(hie::v1::AUDIT_ACTION_QUERY, "org-b", "b-77", "org-b", "nurse", "started"))
          .status());
  clock_.Advance(absl::Seconds(1));
  ASSERT_OK(
      log_->Append(Entry(hie::v1::AUDIT_ACTION_QUERY, "org-b", "b-77", "org-b", "nurse")).status());

  auto consent = std::make_unique<ScriptedConsent>();
  ScriptedConsent* consent_ptr = consent.get();
  hie::v1::DisclosureGrant grant;
  for (const char* org : {"org-b", "org-c", "org-d"}) {
    hie::v1::GrantHolder* holder = grant.add_holders();
    holder->set_org_id(org);
    holder->set_local_id("x");
  }
  Authorization authorization;
  grant.SerializeToString(authorization.grant.mutable_grant());
  consent->answer = authorization;
  auto holders = std::make_unique<ScriptedHolders>();
  hie::v1::AuditEntry later =
      Entry(hie::v1::AUDIT_ACTION_BREAK_GLASS, "org-c", "x", "org-e", "dr.er");
  *later.mutable_time() = ToProtoTime(clock_.Now() + absl::Hours(1));
  hie::v1::AuditEntry earlier =
      Entry(hie::v1::AUDIT_ACTION_DISCLOSE, "org-c", "x", "org-a", "dr.a");
  *earlier.mutable_time() = ToProtoTime(clock_.Now() - absl::Hours(1));
  holders->answers.emplace("org-c", AccountingAnswer{.entries = {earlier, later}});
  holders->answers.emplace("org-d", absl::UnavailableError("connection refused"));
  DisclosureAccounting accounting({.own_org = "org-b"}, log_.get(), std::move(consent),
                                  std::move(holders));

  std::optional<absl::StatusOr<AccountingReport>> got;
  accounting.Run({.local_patient_id = "b-77", .patient = {.id = "jane", .role = "patient"}},
                 [&](absl::StatusOr<AccountingReport> report) { got = std::move(report); });
  ASSERT_TRUE(got.has_value());
  ASSERT_OK(got->status());
  const AccountingReport& report = **got;
  EXPECT_EQ(consent_ptr->asked.purpose, "PATRQT");
  EXPECT_EQ(consent_ptr->asked.user.id, "jane");
  ASSERT_EQ(report.events.size(), 3u);
  EXPECT_EQ(report.events[0].user_id, "dr.er");
  EXPECT_TRUE(report.events[0].break_glass);
  EXPECT_EQ(report.events[1].user_id, "nurse");
  EXPECT_EQ(report.events[1].recipient_org, "org-b");
  EXPECT_EQ(report.events[2].user_id, "dr.a");
  EXPECT_EQ(report.events[2].holder_org, "org-c");
  ASSERT_EQ(report.sources.size(), 3u);  // org-b itself is not asked over the wire
  EXPECT_TRUE(report.sources[0].local);
  EXPECT_EQ(report.sources[1].org_id, "org-c");
  EXPECT_EQ(report.sources[1].state, HolderState::kOk);
  EXPECT_EQ(report.sources[2].org_id, "org-d");
  EXPECT_EQ(report.sources[2].state, HolderState::kUnreachable);
  EXPECT_TRUE(report.not_asked.empty());
}

TEST_F(AccountingTest, ADeniedRequestShowsThisPracticesEntriesAndSaysWhy) {
  ASSERT_OK(log_->Append(Entry(hie::v1::AUDIT_ACTION_DISCLOSE, "org-b", "b-77", "org-c", "dr.who"))
                .status());
  auto consent = std::make_unique<ScriptedConsent>();
  Authorization denied;
  denied.denied = true;
  denied.deny_reason = "opt-in policy and no consent on file";
  consent->answer = denied;
  DisclosureAccounting accounting({.own_org = "org-b"}, log_.get(), std::move(consent),
                                  std::make_unique<ScriptedHolders>());
  std::optional<absl::StatusOr<AccountingReport>> got;
  accounting.Run({.local_patient_id = "b-77", .patient = {.id = "jane"}},
                 [&](absl::StatusOr<AccountingReport> report) { got = std::move(report); });
  ASSERT_TRUE(got.has_value());
  ASSERT_OK(got->status());
  EXPECT_EQ((*got)->events.size(), 1u);
  EXPECT_THAT((*got)->not_asked, ::testing::HasSubstr("opt-in policy"));
  accounting.Run({.local_patient_id = "", .patient = {.id = "jane"}},
                 [&](absl::StatusOr<AccountingReport> report) { got = std::move(report); });
  EXPECT_THAT(got->status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace hie::node
