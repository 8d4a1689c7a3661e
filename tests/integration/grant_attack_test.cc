// Attacks on the grant's promises, on real daemons (MPI, consent service, holder org-b
// with patient B1 = org-a's A1): a grant is single-use (across a restart of the holder,
// and however many other grants it serves), it stops within 10 seconds of a change to
// the patient's directives, and break-the-glass is for the policy's clinicians and does
// not override a patient's opt-out unless the policy says so. Each test asserts the
// refusal and the audit entry it leaves.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

#include "absl/strings/cord.h"
#include "common/status/error_detail.h"
#include "proto/hie/v1/audit.grpc.pb.h"
#include "tests/consent/consent_json.h"
#include "tests/integration/exchange_fixture.h"

namespace hie::testing {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<grpc::ClientContext> Context(int seconds = 10) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return context;
}

hie::v1::ErrorReason Reason(const grpc::Status& status) {
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  if (!status.error_details().empty()) {
    out.SetPayload(kErrorDetailsTypeUrl, absl::Cord(status.error_details()));
  }
  auto detail = GetErrorDetail(out);
  return detail ? detail->reason() : hie::v1::ERROR_REASON_UNSPECIFIED;
}

class GrantAttackTest : public ExchangeTest {
 protected:
  void SetUp() override {
    ExchangeTest::SetUp();
    if (HasFatalFailure()) return;
    consent_a_ = hie::v1::ConsentService::NewStub(ChannelAs("node-a", consent_port_));
    ConnectHolder();
  }

  void ConnectHolder() {
    holder_ = hie::v1::PeerRecords::NewStub(ChannelAs("node-a", holder_port_));
  }

  // org-a asks for A1's records as `role` for `purpose`; the response.
  hie::v1::AuthorizeResponse Ask(const std::string& purpose = "TREAT",
                                 const std::string& role = "physician",
                                 const std::string& reason = "") {
    hie::v1::AuthorizeRequest request;
    request.set_local_patient_id("A1");
    request.set_purpose(purpose);
    request.mutable_user()->set_user_id("u.kim");
    request.mutable_user()->set_role(role);
    request.set_break_glass_reason(reason);
    hie::v1::AuthorizeResponse response;
    grpc::Status s = consent_a_->Authorize(Context().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  hie::v1::SignedGrant NewGrant() {
    hie::v1::AuthorizeResponse response = Ask();
    EXPECT_TRUE(response.has_grant()) << response.denial().reason();
    return response.grant();
  }

  // FetchRecords at the holder as org-a; the number of records received in `records`.
  grpc::Status FetchOnce(const hie::v1::SignedGrant& grant, int* records = nullptr) {
    auto context = Context();
    hie::v1::FetchRecordsRequest request;
    *request.mutable_grant() = grant;
    auto reader = holder_->FetchRecords(context.get(), request);
    hie::v1::FetchRecordsResponse message;
    int n = 0;
    while (reader->Read(&message)) n += message.has_record() ? 1 : 0;
    if (records != nullptr) *records = n;
    return reader->Finish();
  }

  // The patient's practice org-b files an opt-out (a base deny) for B1.
  void OptOut() {
    hie::v1::PutDirectiveRequest request;
    request.mutable_patient()->set_org_id("org-b");
    request.mutable_patient()->set_local_id("B1");
    request.set_consent_json(consent::testing::Consent(
        "optout-b1", "2026-01-01", consent::testing::ProvisionJson("deny", {})));
    hie::v1::Directive stored;
    grpc::Status s = hie::v1::ConsentService::NewStub(ChannelAs("node-b", consent_port_))
                         ->PutDirective(Context().get(), request, &stored);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // The audit entries of `action` for org-b's B1, as org-b asks `port` (the holder or
  // the consent service).
  std::vector<hie::v1::AuditEntry> AuditOfB1(int port, hie::v1::AuditAction action) {
    auto audit = hie::v1::AuditLog::NewStub(ChannelAs("node-b", port));
    hie::v1::QueryByPatientRequest query;
    query.mutable_local()->set_org_id("org-b");
    query.mutable_local()->set_local_id("B1");
    query.set_action(action);
    auto context = Context();
    auto reader = audit->QueryByPatient(context.get(), query);
    std::vector<hie::v1::AuditEntry> out;
    hie::v1::AuditEntry entry;
    while (reader->Read(&entry)) out.push_back(entry);
    grpc::Status s = reader->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  static bool AnyDetail(const std::vector<hie::v1::AuditEntry>& entries, const std::string& text) {
    for (const auto& e : entries) {
      if (e.detail().find(text) != std::string::npos) return true;
    }
    return false;
  }

  std::unique_ptr<hie::v1::ConsentService::Stub> consent_a_;
  std::unique_ptr<hie::v1::PeerRecords::Stub> holder_;
};

TEST_F(GrantAttackTest, UsedGrantIsRefusedAfterTheHolderRestarts) {
  hie::v1::SignedGrant grant = NewGrant();
  int records = 0;
  ASSERT_TRUE(FetchOnce(grant, &records).ok());
  EXPECT_GT(records, 0);

  // The holder restarts (same data directory); the attacker replays the grant.
  ASSERT_TRUE(processes_.at("node-b").Stop(SIGTERM, absl::Seconds(20)).ok());
  processes_.erase("node-b");
  holder_port_ = StartDaemon("node-b");
  ASSERT_GT(holder_port_, 0);
  ConnectHolder();
  grpc::Status replay = FetchOnce(grant, &records);
  EXPECT_EQ(replay.error_code(), grpc::StatusCode::PERMISSION_DENIED) << replay.error_message();
  EXPECT_THAT(replay.error_message(), HasSubstr("already used"));
  EXPECT_EQ(records, 0);
  EXPECT_TRUE(AnyDetail(AuditOfB1(holder_port_, hie::v1::AUDIT_ACTION_REFUSE), "already used"));
  // A fresh grant still works: the holder is serving.
  EXPECT_TRUE(FetchOnce(NewGrant()).ok());
}

TEST_F(GrantAttackTest, HolderThatCannotReadTheDirectiveFeedRefusesRatherThanServes) {
  std::vector<hie::v1::SignedGrant> grants;
  for (int i = 0; i < 60; ++i) grants.push_back(NewGrant());
  ASSERT_TRUE(FetchOnce(grants.back()).ok());  // the holder knows the keys and the feed
  grants.pop_back();
  // The consent service goes away: the holder can no longer learn of directive changes,
  // so after its staleness bound (8 s) it must stop serving even valid grants.
  absl::Time stopped = absl::Now();
  ASSERT_TRUE(processes_.at("consent").Stop(SIGTERM, absl::Seconds(20)).ok());
  grpc::Status refused;
  for (const auto& grant : grants) {
    grpc::Status s = FetchOnce(grant);
    if (!s.ok()) {
      refused = s;
      break;
    }
    if (absl::Now() - stopped > absl::Seconds(60)) break;
    absl::SleepFor(absl::Milliseconds(500));
  }
  std::cout << "[ measured ] the holder stopped serving " << absl::FormatDuration(absl::Now() - stopped)
            << " after the consent service stopped\n";
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();
  EXPECT_EQ(Reason(refused), hie::v1::ERROR_REASON_DEPENDENCY_UNAVAILABLE);
  EXPECT_THAT(refused.error_message(), HasSubstr("directives changed"));
  EXPECT_TRUE(AnyDetail(AuditOfB1(holder_port_, hie::v1::AUDIT_ACTION_REFUSE),
                        "cannot tell whether the patient's directives changed"));
}

class ShortGrantAttackTest : public GrantAttackTest {
 protected:
  std::string ConsentExtraConfig() override { return "grants { validity_seconds: 30 }\n"; }
};

TEST_F(ShortGrantAttackTest, UsedGrantIsRefusedAfterItsExpiryWhateverTheNumberOfOthers) {
  hie::v1::SignedGrant first = NewGrant();
  hie::v1::DisclosureGrant parsed;
  ASSERT_TRUE(parsed.ParseFromString(first.grant()));
  absl::Time expires = absl::FromUnixSeconds(parsed.expires_at().seconds());
  ASSERT_TRUE(FetchOnce(first).ok());

  // 1,100 other grants used at the same holder (more than the 1,024 an in-memory
  // registry used to hold before dropping expired nonces), four at a time.
  constexpr int kOthers = 1100;
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  absl::Time start = absl::Now();
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      auto consent = hie::v1::ConsentService::NewStub(ChannelAs("node-a", consent_port_));
      auto holder = hie::v1::PeerRecords::NewStub(ChannelAs("node-a", holder_port_));
      while (next.fetch_add(1) < kOthers) {
        hie::v1::AuthorizeRequest request;
        request.set_local_patient_id("A1");
        request.set_purpose("TREAT");
        request.mutable_user()->set_user_id("u.kim");
        hie::v1::AuthorizeResponse response;
        if (!consent->Authorize(Context().get(), request, &response).ok() ||
            !response.has_grant()) {
          ++failures;
          continue;
        }
        auto context = Context();
        hie::v1::FetchRecordsRequest fetch;
        *fetch.mutable_grant() = response.grant();
        fetch.add_resource_types("Patient");
        auto reader = holder->FetchRecords(context.get(), fetch);
        hie::v1::FetchRecordsResponse message;
        while (reader->Read(&message)) {
        }
        if (!reader->Finish().ok()) ++failures;
      }
    });
  }
  for (auto& t : workers) t.join();
  std::cout << "[ measured ] " << kOthers << " other grants authorized and used in "
            << absl::FormatDuration(absl::Now() - start) << "\n";
  EXPECT_EQ(failures.load(), 0);

  // Past the first grant's expiry, but within the 30 s of clock skew the holder's
  // verifier still accepts: the replay must meet the used nonce, not a signature check.
  while (absl::Now() < expires + absl::Seconds(2)) absl::SleepFor(absl::Milliseconds(200));
  ASSERT_TRUE(FetchOnce(NewGrant()).ok());  // one more, after the expiry
  absl::Time replayed_at = absl::Now();
  grpc::Status replay = FetchOnce(first);
  EXPECT_EQ(replay.error_code(), grpc::StatusCode::PERMISSION_DENIED) << replay.error_message();
  if (replayed_at < expires + absl::Seconds(30)) {
    // Within the skew the verifier alone would have accepted it.
    EXPECT_THAT(replay.error_message(), HasSubstr("already used"));
    EXPECT_TRUE(AnyDetail(AuditOfB1(holder_port_, hie::v1::AUDIT_ACTION_REFUSE), "already used"));
  } else {
    ADD_FAILURE() << "the machine was too slow to replay within the skew window ("
                  << absl::FormatDuration(replayed_at - expires) << " after expiry)";
  }
}

TEST_F(GrantAttackTest, GrantIssuedBeforeAnOptOutIsRefusedWithinTenSeconds) {
  // The attacker stocks up on grants while the patient still permits TREAT.
  std::vector<hie::v1::SignedGrant> grants;
  for (int i = 0; i < 80; ++i) grants.push_back(NewGrant());
  ASSERT_TRUE(FetchOnce(grants.back()).ok());
  grants.pop_back();

  ASSERT_NO_FATAL_FAILURE(OptOut());
  absl::Time opted_out = absl::Now();
  // New requests are denied at once.
  EXPECT_TRUE(Ask().has_denial());

  // Each poll spends one stocked grant; the first refused one ends it.
  grpc::Status refused;
  absl::Time refused_at;
  for (const auto& grant : grants) {
    grpc::Status s = FetchOnce(grant);
    if (!s.ok()) {
      refused = s;
      refused_at = absl::Now();
      break;
    }
    if (absl::Now() - opted_out > absl::Seconds(30)) break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  ASSERT_FALSE(refused.ok()) << "grants issued before the opt-out kept fetching";
  absl::Duration delay = refused_at - opted_out;
  std::cout << "[ measured ] grant issued before the opt-out refused "
            << absl::FormatDuration(delay) << " after it\n";
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED) << refused.error_message();
  EXPECT_EQ(Reason(refused), hie::v1::ERROR_REASON_GRANT_REVOKED) << refused.error_message();
  EXPECT_LE(delay, absl::Seconds(10));
  EXPECT_TRUE(AnyDetail(AuditOfB1(holder_port_, hie::v1::AUDIT_ACTION_REFUSE), "grant revoked"));
  // Every other stocked grant is refused too.
  grpc::Status last = FetchOnce(grants.front());
  EXPECT_EQ(Reason(last), hie::v1::ERROR_REASON_GRANT_REVOKED) << last.error_message();
}

// The MPI merges the patient into another person between the grant and the opt-out:
// the grant was decided under an EUID that no longer exists, and is still stopped.
TEST_F(GrantAttackTest, GrantIssuedBeforeAMergeAndAnOptOutIsStillRefused) {
  // Grants stocked while the patient permits TREAT, under the EUID she has now.
  std::vector<hie::v1::SignedGrant> grants;
  for (int i = 0; i < 80; ++i) grants.push_back(NewGrant());
  int mpi_port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(mpi_address_.substr(mpi_address_.rfind(':') + 1), &mpi_port));
  hie::v1::Demographics other = Robert();
  hie::v1::RegisterPatientResponse jane, bob;
  ASSERT_TRUE(Register(MpiAs("node-b", mpi_port).get(), "B1", Jane(), &jane).ok());
  ASSERT_TRUE(Register(MpiAs("node-b", mpi_port).get(), "B2", other, &bob).ok());
  ASSERT_NE(jane.euid(), bob.euid());
  {
    // The operator merges her person into another: her EUID is retired.
    auto mpi = hie::v1::MasterPatientIndex::NewStub(ChannelAs("operator", mpi_port));
    hie::v1::MergeRequest merge;
    merge.set_from_euid(jane.euid());
    merge.set_into_euid(bob.euid());
    merge.set_reason("duplicate person");
    hie::v1::LinkResponse merged;
    grpc::Status s = mpi->Merge(Context().get(), merge, &merged);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  ASSERT_NO_FATAL_FAILURE(OptOut());
  absl::Time opted_out = absl::Now();
  grpc::Status refused;
  for (const auto& grant : grants) {
    grpc::Status s = FetchOnce(grant);
    if (!s.ok()) {
      refused = s;
      break;
    }
    if (absl::Now() - opted_out > absl::Seconds(30)) break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  ASSERT_FALSE(refused.ok()) << "grants decided before the merge outlived the opt-out";
  EXPECT_EQ(Reason(refused), hie::v1::ERROR_REASON_GRANT_REVOKED) << refused.error_message();
  EXPECT_LE(absl::Now() - opted_out, absl::Seconds(10));
}

TEST_F(GrantAttackTest, StudentBreakingTheGlassIsDeniedAndAudited) {
  ASSERT_NO_FATAL_FAILURE(OptOut());
  hie::v1::AuthorizeResponse response = Ask("ETREAT", "student", "curious");
  ASSERT_TRUE(response.has_denial());
  EXPECT_THAT(response.denial().reason(), HasSubstr("not for role \"student\""));
  // The patient's other practice sees the denied attempt in the accounting.
  std::vector<hie::v1::AuditEntry> decisions =
      AuditOfB1(consent_port_, hie::v1::AUDIT_ACTION_AUTHORIZE);
  ASSERT_FALSE(decisions.empty());
  EXPECT_EQ(decisions.back().outcome(), "deny");
  EXPECT_EQ(decisions.back().user().role(), "student");
  EXPECT_THAT(decisions.back().detail(), HasSubstr("student"));
  EXPECT_TRUE(AuditOfB1(consent_port_, hie::v1::AUDIT_ACTION_BREAK_GLASS).empty());
}

TEST_F(GrantAttackTest, PhysicianBreakingTheGlassCannotOverrideAnOptOutByDefault) {
  ASSERT_NO_FATAL_FAILURE(OptOut());
  hie::v1::AuthorizeResponse response = Ask("ETREAT", "physician", "unconscious in ED");
  ASSERT_TRUE(response.has_denial());
  EXPECT_THAT(response.denial().reason(), HasSubstr("does not override the patient's own"));
  EXPECT_EQ(response.denial().directive_id(), "optout-b1");
  std::vector<hie::v1::AuditEntry> decisions =
      AuditOfB1(consent_port_, hie::v1::AUDIT_ACTION_AUTHORIZE);
  ASSERT_FALSE(decisions.empty());
  EXPECT_EQ(decisions.back().outcome(), "deny");
  EXPECT_TRUE(AuditOfB1(consent_port_, hie::v1::AUDIT_ACTION_BREAK_GLASS).empty());
}

class GlassOverOptOutTest : public GrantAttackTest {
 protected:
  std::string ConsentExtraConfig() override {
    return "policy { break_glass_overrides_directives: true }\n";
  }
};

TEST_F(GlassOverOptOutTest, PhysicianOverridesAnOptOutOnlyWithAnAlertThePracticesSee) {
  ASSERT_NO_FATAL_FAILURE(OptOut());
  // A student still cannot.
  EXPECT_TRUE(Ask("ETREAT", "student", "curious").has_denial());
  hie::v1::AuthorizeResponse response = Ask("ETREAT", "physician", "unconscious in ED");
  ASSERT_TRUE(response.has_grant()) << response.denial().reason();
  hie::v1::DisclosureGrant grant;
  ASSERT_TRUE(grant.ParseFromString(response.grant().grant()));
  EXPECT_TRUE(grant.break_glass());
  ASSERT_TRUE(FetchOnce(response.grant()).ok());

  // The alert: in the consent service's audit, found by the patient's other practice,
  // in its log; and the holder audits the disclosure as break-the-glass.
  std::vector<hie::v1::AuditEntry> alerts =
      AuditOfB1(consent_port_, hie::v1::AUDIT_ACTION_BREAK_GLASS);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].outcome(), "alert");
  EXPECT_THAT(alerts[0].detail(), HasSubstr("unconscious in ED"));
  EXPECT_THAT(ReadWholeFile(Log("consent")), HasSubstr("ALERT break-the-glass: user u.kim"));
  EXPECT_EQ(AuditOfB1(holder_port_, hie::v1::AUDIT_ACTION_BREAK_GLASS).size(), 1u);
}

TEST_F(GrantAttackTest, DirectiveForAnotherPracticesPatientIsRefusedAuditedAndBounded) {
  auto consent = hie::v1::ConsentService::NewStub(ChannelAs("node-a", consent_port_));
  hie::v1::PutDirectiveRequest request;
  request.mutable_patient()->set_org_id("org-b");
  request.mutable_patient()->set_local_id("B1");
  request.set_consent_json(consent::testing::Consent("forged", "2026-01-01",
                                                     consent::testing::ProvisionJson("deny", {})));
  // A flood of 150 refused calls.
  for (int i = 0; i < 150; ++i) {
    hie::v1::Directive stored;
    grpc::Status s = consent->PutDirective(Context().get(), request, &stored);
    ASSERT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  }
  // The patient's practice finds the attempts; the chain holds at most the rate limit.
  std::vector<hie::v1::AuditEntry> refusals =
      AuditOfB1(consent_port_, hie::v1::AUDIT_ACTION_REFUSE);
  ASSERT_FALSE(refusals.empty());
  EXPECT_LE(refusals.size(), 120u);  // 60 a minute; the flood may straddle two minutes
  EXPECT_EQ(refusals[0].actor_org(), "org-a");
  EXPECT_THAT(refusals[0].detail(), HasSubstr("PutDirective"));
  // Nothing was filed.
  EXPECT_TRUE(Ask().has_grant());
}

}  // namespace
}  // namespace hie::testing
