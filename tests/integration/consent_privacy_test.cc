// Attacks on what the consent service reveals to a practice about the other holders of
// its patient: a sensitive programme (enrolled sensitive, holding the patient, having
// filed her directive) must not be named to another practice by the audit accounting
// (AuditLog.QueryByPatient) nor by the directive list (ListDirectives), while the
// practice still sees who looked at its patient. Real hie-mpi and hie-consent on
// loopback.
#include <chrono>

#include "proto/hie/v1/audit.grpc.pb.h"
#include "proto/hie/v1/consent.grpc.pb.h"
#include "tests/consent/consent_json.h"
#include "tests/integration/daemon_fixture.h"

namespace hie::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace ::hie::consent::testing;  // NOLINT: Consent JSON builders

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return context;
}

class ConsentPrivacyTest : public DaemonFixture {
 protected:
  void SetUp() override {
    DaemonFixture::SetUp();
    Issue("org-s", "node-s", pki::Role::kNode);
    mpi_port_ = StartDaemon("mpi");
    ASSERT_GT(mpi_port_, 0);
    mpi_address_ = absl::StrCat("127.0.0.1:", mpi_port_);
    EnrollWith("org-a", false);
    EnrollWith("org-b", false);
    EnrollWith("org-s", true);  // a substance-use programme
    hie::v1::RegisterPatientResponse response;
    ASSERT_TRUE(Register(MpiAs("node-a", mpi_port_).get(), "A1", Jane(), &response).ok());
    ASSERT_TRUE(Register(MpiAs("node-b", mpi_port_).get(), "B1", Jane(), &response).ok());
    ASSERT_TRUE(Register(MpiAs("node-s", mpi_port_).get(), "S-77", Jane(), &response).ok());
    consent_port_ = StartDaemon("consent");
    ASSERT_GT(consent_port_, 0);
  }

  void EnrollWith(const std::string& org, bool sensitive) {
    auto directory = DirectoryAs("operator", mpi_port_);
    hie::v1::EnrollOrganizationRequest request;
    request.set_org_id(org);
    request.set_display_name("Practice " + org);
    request.set_endpoint(absl::StrCat("127.0.0.1:9", org.size()));
    request.set_sensitive(sensitive);
    hie::v1::Organization out;
    grpc::Status s = directory->EnrollOrganization(Context().get(), request, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  std::unique_ptr<hie::v1::ConsentService::Stub> ConsentAs(const std::string& who) {
    return hie::v1::ConsentService::NewStub(ChannelAs(who, consent_port_));
  }

  grpc::Status Put(const std::string& who, const std::string& org, const std::string& local,
                   const std::string& json, hie::v1::Directive* out) {
    hie::v1::PutDirectiveRequest request;
    request.mutable_patient()->set_org_id(org);
    request.mutable_patient()->set_local_id(local);
    request.set_consent_json(json);
    return ConsentAs(who)->PutDirective(Context().get(), request, out);
  }

  void Authorize(const std::string& who, const std::string& local, const std::string& reason = "") {
    hie::v1::AuthorizeRequest request;
    request.set_local_patient_id(local);
    request.set_purpose(reason.empty() ? "TREAT" : "ETREAT");
    request.mutable_user()->set_user_id("dr." + who);
    request.mutable_user()->set_role("physician");
    request.set_break_glass_reason(reason);
    hie::v1::AuthorizeResponse response;
    grpc::Status s = ConsentAs(who)->Authorize(Context().get(), request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // Everything `who` gets from the consent service's QueryByPatient for org/local.
  std::vector<hie::v1::AuditEntry> Accounting(const std::string& who, const std::string& org,
                                              const std::string& local) {
    auto audit = hie::v1::AuditLog::NewStub(ChannelAs(who, consent_port_));
    hie::v1::QueryByPatientRequest query;
    query.mutable_local()->set_org_id(org);
    query.mutable_local()->set_local_id(local);
    auto context = Context();
    auto reader = audit->QueryByPatient(context.get(), query);
    std::vector<hie::v1::AuditEntry> out;
    hie::v1::AuditEntry entry;
    while (reader->Read(&entry)) out.push_back(entry);
    grpc::Status s = reader->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  static std::string Text(const std::vector<hie::v1::AuditEntry>& entries) {
    std::string all;
    for (const auto& e : entries) all += e.DebugString();
    return all;
  }

  int mpi_port_ = 0;
  int consent_port_ = 0;
};

TEST_F(ConsentPrivacyTest, AuditAccountingNeverNamesASensitiveHolderToAnotherPractice) {
  // The sensitive programme files the patient's directive (a plain permit: it does not
  // name the programme as a custodian, so no grant may name it).
  hie::v1::Directive filed;
  ASSERT_TRUE(
      Put("node-s", "org-s", "S-77", Consent("", "2025-01-01", ProvisionJson("permit", {})), &filed)
          .ok());
  // Two practices look at her; org-b breaks the glass.
  ASSERT_NO_FATAL_FAILURE(Authorize("node-a", "A1"));
  ASSERT_NO_FATAL_FAILURE(Authorize("node-b", "B1", "unconscious in ED"));

  // The control: the operator's accounting has the programme's directive and local id.
  EXPECT_THAT(Text(Accounting("operator", "org-a", "A1")), HasSubstr("S-77"));

  // The attack: org-a asks for its patient's accounting.
  std::vector<hie::v1::AuditEntry> seen = Accounting("node-a", "org-a", "A1");
  EXPECT_THAT(Text(seen), Not(HasSubstr("org-s")));
  EXPECT_THAT(Text(seen), Not(HasSubstr("S-77")));
  EXPECT_THAT(Text(seen), Not(HasSubstr("B1")));
  int own = 0, others = 0, alerts = 0;
  for (const auto& e : seen) {
    EXPECT_NE(e.action(), hie::v1::AUDIT_ACTION_DIRECTIVE) << e.DebugString();
    if (e.actor_org() == "org-a") {
      ++own;
      // Its own decision: the holders its grant names, and only a count of the others.
      EXPECT_EQ(e.patient().local_id(), "A1");
      EXPECT_THAT(e.detail(), HasSubstr("holders: org-b"));
      EXPECT_THAT(e.detail(), HasSubstr("left out: 1"));
    } else {
      // Who looked, when, why, and the outcome; not where the patient is held.
      EXPECT_EQ(e.actor_org(), "org-b");
      EXPECT_EQ(e.user().user_id(), "dr.node-b");
      EXPECT_EQ(e.purpose(), "ETREAT");
      EXPECT_FALSE(e.outcome().empty());
      EXPECT_FALSE(e.has_patient());
      if (e.action() == hie::v1::AUDIT_ACTION_BREAK_GLASS) {
        ++alerts;
        EXPECT_THAT(e.detail(), HasSubstr("unconscious in ED"));
      } else {
        ++others;
        EXPECT_TRUE(e.detail().empty()) << e.detail();
      }
    }
  }
  EXPECT_EQ(own, 1);
  EXPECT_EQ(others, 1);
  EXPECT_EQ(alerts, 1);
}

TEST_F(ConsentPrivacyTest, DirectiveListNeverNamesAnotherPracticesFilingToAPractice) {
  // The sensitive programme files a consent naming itself; org-a files its own.
  hie::v1::Directive theirs, ours;
  ASSERT_TRUE(
      Put("node-s", "org-s", "S-77",
          Consent("", "2025-01-01",
                  ProvisionJson("permit", {},
                                {ProvisionJson("permit", {Actors({OrgActor("org-s", "CST")})})})),
          &theirs)
          .ok());
  ASSERT_TRUE(
      Put("node-a", "org-a", "A1", Consent("", "2025-02-01", ProvisionJson("permit", {})), &ours)
          .ok());

  auto list = [&](const std::string& who) {
    hie::v1::ListDirectivesRequest request;
    request.mutable_patient()->set_org_id("org-a");
    request.mutable_patient()->set_local_id("A1");
    request.set_include_history(true);
    hie::v1::ListDirectivesResponse listed;
    grpc::Status s = ConsentAs(who)->ListDirectives(Context().get(), request, &listed);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return listed;
  };
  // The control: the operator reads both whole.
  EXPECT_THAT(list("operator").DebugString(), HasSubstr("S-77"));

  // The attack: org-a lists its patient's directives.
  hie::v1::ListDirectivesResponse listed = list("node-a");
  EXPECT_THAT(listed.DebugString(), Not(HasSubstr("org-s")));
  EXPECT_THAT(listed.DebugString(), Not(HasSubstr("S-77")));
  ASSERT_EQ(listed.directives_size(), 2);
  int own = 0, others = 0;
  for (const auto& d : listed.directives()) {
    if (d.directive_id() == ours.directive_id()) {
      ++own;
      EXPECT_EQ(d.filed_by_org(), "org-a");
      EXPECT_EQ(d.patient().local_id(), "A1");
      EXPECT_EQ(d.consent_json(), ours.consent_json());
    } else {
      ++others;
      // That she has such a directive, not where.
      EXPECT_EQ(d.directive_id(), theirs.directive_id());
      EXPECT_EQ(d.status(), "active");
      EXPECT_FALSE(d.euid().empty());
      EXPECT_TRUE(d.filed_by_org().empty());
      EXPECT_FALSE(d.has_patient());
      EXPECT_TRUE(d.consent_json().empty());
    }
  }
  EXPECT_EQ(own, 1);
  EXPECT_EQ(others, 1);
}

TEST_F(ConsentPrivacyTest, ConsentDatedInTheFutureCannotOverrideAnOptOut) {
  hie::v1::Directive optout;
  ASSERT_TRUE(
      Put("node-a", "org-a", "A1", Consent("", "2025-01-01", ProvisionJson("deny", {})), &optout)
          .ok());
  // The attack: another of her practices files an opt-in dated 2099, which would be the
  // most recent consent, and so govern, for 73 years.
  for (const char* date_time : {"2099-01-01", "2099-01-01T00:00:00Z"}) {
    hie::v1::Directive forged;
    grpc::Status s =
        Put("node-b", "org-b", "B1", Consent("", date_time, ProvisionJson("permit", {})), &forged);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << date_time;
    EXPECT_THAT(s.error_message(), HasSubstr("Consent.dateTime")) << date_time;
  }
  // Nothing was filed: her opt-out still governs org-a's and org-b's requests.
  for (const auto& [who, local] : {std::pair{"node-a", "A1"}, std::pair{"node-b", "B1"}}) {
    hie::v1::AuthorizeRequest request;
    request.set_local_patient_id(local);
    request.set_purpose("TREAT");
    request.mutable_user()->set_user_id("dr.lee");
    hie::v1::AuthorizeResponse response;
    ASSERT_TRUE(ConsentAs(who)->Authorize(Context().get(), request, &response).ok());
    ASSERT_TRUE(response.has_denial()) << who;
    EXPECT_EQ(response.denial().directive_id(), optout.directive_id());
  }
}

TEST_F(ConsentPrivacyTest, AnotherPracticesDirectiveCannotBeRevoked) {
  // The sensitive programme records the patient's opt-out.
  hie::v1::Directive optout;
  ASSERT_TRUE(
      Put("node-s", "org-s", "S-77", Consent("", "2025-01-01", ProvisionJson("deny", {})), &optout)
          .ok());
  // The attack: org-a, one of her practices, revokes it.
  hie::v1::RevokeDirectiveRequest revoke;
  revoke.set_directive_id(optout.directive_id());
  revoke.set_reason("patient asked at reception");
  hie::v1::Directive revoked;
  grpc::Status s = ConsentAs("node-a")->RevokeDirective(Context().get(), revoke, &revoked);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("revokes only the directives it filed"));
  EXPECT_THAT(s.error_message(), Not(HasSubstr("org-s")));
  EXPECT_THAT(s.error_message(), Not(HasSubstr("S-77")));
  // The filer finds the attempt in its accounting.
  bool found = false;
  for (const auto& e : Accounting("node-s", "org-s", "S-77")) {
    if (e.action() == hie::v1::AUDIT_ACTION_REFUSE && e.actor_org() == "org-a") {
      found = true;
      EXPECT_THAT(e.detail(), HasSubstr("RevokeDirective"));
    }
  }
  EXPECT_TRUE(found);
  // Still in force: org-a's request is denied by it.
  hie::v1::AuthorizeRequest request;
  request.set_local_patient_id("A1");
  request.set_purpose("TREAT");
  request.mutable_user()->set_user_id("dr.lee");
  hie::v1::AuthorizeResponse response;
  ASSERT_TRUE(ConsentAs("node-a")->Authorize(Context().get(), request, &response).ok());
  ASSERT_TRUE(response.has_denial());
  EXPECT_EQ(response.denial().directive_id(), optout.directive_id());
  // The filer and an operator may revoke.
  ASSERT_TRUE(ConsentAs("operator")->RevokeDirective(Context().get(), revoke, &revoked).ok());
  EXPECT_EQ(revoked.status(), "inactive");
  ASSERT_TRUE(Put("node-s", "org-s", "S-77",
                  Consent(optout.directive_id(), "2025-01-01", ProvisionJson("deny", {})), &optout)
                  .ok());
  EXPECT_TRUE(ConsentAs("node-s")->RevokeDirective(Context().get(), revoke, &revoked).ok());
}

}  // namespace
}  // namespace hie::testing
