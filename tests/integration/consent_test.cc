// hie-consent against a real hie-mpi: Authorize resolves, decides per holder, signs and
// audits; directives are written only by the patient's practices; refusals are distinct.
#include <chrono>

#include "common/status/error_detail.h"
#include "consent/domain/grant.h"
#include "proto/hie/v1/audit.grpc.pb.h"
#include "proto/hie/v1/consent.grpc.pb.h"
#include "tests/consent/consent_json.h"
#include "tests/integration/daemon_fixture.h"

namespace hie::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace ::hie::consent::testing;  // NOLINT: Consent JSON builders

class ConsentDaemonTest : public DaemonFixture {
 protected:
  void SetUp() override {
    DaemonFixture::SetUp();
    Issue("org-s", "node-s", pki::Role::kNode);
    Issue("org-z", "node-z", pki::Role::kNode);
    mpi_port_ = StartDaemon("mpi");
    ASSERT_GT(mpi_port_, 0);
    mpi_address_ = absl::StrCat("127.0.0.1:", mpi_port_);
    EnrollWith("org-a", false);
    EnrollWith("org-b", false);
    EnrollWith("org-s", true);  // a substance-use programme, say
    hie::v1::RegisterPatientResponse response;
    ASSERT_TRUE(Register(MpiAs("node-a", mpi_port_).get(), "A1", Jane(), &response).ok());
    ASSERT_TRUE(Register(MpiAs("node-b", mpi_port_).get(), "B1", Jane(), &response).ok());
    ASSERT_TRUE(Register(MpiAs("node-s", mpi_port_).get(), "S1", Jane(), &response).ok());
    consent_port_ = StartDaemon("consent");
    ASSERT_GT(consent_port_, 0);
  }

  void EnrollWith(const std::string& org, bool sensitive) {
    auto directory = DirectoryAs("operator", mpi_port_);
    grpc::ClientContext context;
    hie::v1::EnrollOrganizationRequest request;
    request.set_org_id(org);
    request.set_display_name("Practice " + org);
    request.set_endpoint(absl::StrCat("127.0.0.1:9", org.size()));
    request.set_sensitive(sensitive);
    hie::v1::Organization out;
    grpc::Status s = directory->EnrollOrganization(&context, request, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  std::unique_ptr<hie::v1::ConsentService::Stub> ConsentAs(const std::string& who) {
    return hie::v1::ConsentService::NewStub(ChannelAs(who, consent_port_));
  }

  static std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return context;
  }

  grpc::Status Authorize(const std::string& who, const std::string& local,
                         const std::string& purpose, hie::v1::AuthorizeResponse* response,
                         const std::string& reason = "") {
    hie::v1::AuthorizeRequest request;
    request.set_local_patient_id(local);
    request.set_purpose(purpose);
    request.mutable_user()->set_user_id("dr.lee");
    request.mutable_user()->set_role("physician");
    request.set_query_id("q-1");
    request.set_break_glass_reason(reason);
    return ConsentAs(who)->Authorize(Context().get(), request, response);
  }

  grpc::Status Put(const std::string& who, const std::string& org, const std::string& local,
                   const std::string& json, hie::v1::Directive* out) {
    hie::v1::PutDirectiveRequest request;
    request.mutable_patient()->set_org_id(org);
    request.mutable_patient()->set_local_id(local);
    request.set_consent_json(json);
    return ConsentAs(who)->PutDirective(Context().get(), request, out);
  }

  // The grant, verified as holder `holder` would with the service's published keys.
  hie::v1::DisclosureGrant VerifiedGrant(const hie::v1::AuthorizeResponse& response,
                                         const std::string& holder) {
    hie::v1::GetPublicKeysResponse keys;
    EXPECT_TRUE(ConsentAs("node-b")
                    ->GetPublicKeys(Context().get(), hie::v1::GetPublicKeysRequest(), &keys)
                    .ok());
    crypto::KeyRing ring;
    for (const auto& key : keys.keys()) ring.Add(*crypto::VerifyingKey::FromRaw(key.ed25519()));
    consent::GrantVerifier verifier(std::move(ring), Clock::Real());
    auto grant = verifier.Verify(response.grant(), "org-a", holder);
    EXPECT_TRUE(grant.ok()) << grant.status();
    return grant.ok() ? *grant : hie::v1::DisclosureGrant();
  }

  static std::vector<std::string> Holders(const hie::v1::DisclosureGrant& grant) {
    std::vector<std::string> out;
    for (const auto& h : grant.holders()) out.push_back(h.org_id());
    return out;
  }

  static hie::v1::ErrorReason Reason(const grpc::Status& status) {
    auto detail = GetErrorDetail(FromGrpcStatusForTest(status));
    return detail ? detail->reason() : hie::v1::ERROR_REASON_UNSPECIFIED;
  }

  static absl::Status FromGrpcStatusForTest(const grpc::Status& status) {
    absl::Status out(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
    if (!status.error_details().empty()) {
      out.SetPayload(kErrorDetailsTypeUrl, absl::Cord(status.error_details()));
    }
    return out;
  }

  int mpi_port_ = 0;
  int consent_port_ = 0;
};

TEST_F(ConsentDaemonTest, AuthorizeNamesAllowedHoldersAndSignsAVerifiableGrant) {
  hie::v1::AuthorizeResponse response;
  ASSERT_TRUE(Authorize("node-a", "A1", "TREAT", &response).ok());
  ASSERT_TRUE(response.has_grant()) << response.denial().reason();
  EXPECT_EQ(response.query_id(), "q-1");
  hie::v1::DisclosureGrant grant = VerifiedGrant(response, "org-b");
  // The sensitive programme is not named: the patient's consent does not cover it.
  EXPECT_THAT(Holders(grant), ElementsAre("org-b"));
  EXPECT_EQ(grant.holders(0).local_id(), "B1");
  EXPECT_EQ(grant.holders(0).endpoint(), "127.0.0.1:95");
  EXPECT_THAT(grant.withheld_categories(), ElementsAre("42CFRPart2", "ETH"));
  EXPECT_EQ(grant.requester_org(), "org-a");
  EXPECT_EQ(grant.user().user_id(), "dr.lee");
  EXPECT_FALSE(grant.euid().empty());
  EXPECT_FALSE(grant.break_glass());
}

TEST_F(ConsentDaemonTest, DirectivesDecideAndOnlyThePatientsPracticesWriteThem) {
  hie::v1::Directive deny;
  // Another practice cannot file for org-a's patient, and an unenrolled one cannot file.
  grpc::Status foreign =
      Put("node-b", "org-a", "A1", Consent("", "2025-01-01", ProvisionJson("deny", {})), &deny);
  EXPECT_EQ(foreign.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status unenrolled =
      Put("node-z", "org-z", "Z1", Consent("", "2025-01-01", ProvisionJson("deny", {})), &deny);
  EXPECT_EQ(unenrolled.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Reason(unenrolled), hie::v1::ERROR_REASON_ORG_NOT_ACTIVE);
  // An invalid directive is refused with its path.
  grpc::Status invalid =
      Put("node-a", "org-a", "A1",
          Consent("x", "2025-01-01",
                  ProvisionJson("permit", {}, {ProvisionJson("deny", {Purposes({"NOPE"})})})),
          &deny);
  EXPECT_EQ(invalid.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(invalid.error_message(), HasSubstr("Consent.provision.provision[0].purpose[0].code"));
  EXPECT_EQ(Reason(invalid), hie::v1::ERROR_REASON_INVALID_RESOURCE);

  // The patient opts out at org-a: org-a's own requests are denied, naming the directive.
  ASSERT_TRUE(
      Put("node-a", "org-a", "A1", Consent("", "2025-01-01", ProvisionJson("deny", {})), &deny)
          .ok());
  EXPECT_EQ(deny.version(), 1);
  EXPECT_FALSE(deny.directive_id().empty());
  hie::v1::AuthorizeResponse response;
  ASSERT_TRUE(Authorize("node-a", "A1", "TREAT", &response).ok());
  ASSERT_TRUE(response.has_denial());
  EXPECT_EQ(response.denial().directive_id(), deny.directive_id());
  EXPECT_THAT(response.denial().reason(), HasSubstr("denies TREAT"));

  // Break-the-glass: without a reason a deny; with one still a deny, for the default
  // policy does not let it override the patient's own opt-out (grant_attack_test
  // covers a policy that does).
  ASSERT_TRUE(Authorize("node-a", "A1", "ETREAT", &response).ok());
  EXPECT_TRUE(response.has_denial());
  ASSERT_TRUE(
      Authorize("node-a", "A1", "ETREAT", &response, "unconscious, suspected overdose").ok());
  ASSERT_TRUE(response.has_denial());
  EXPECT_THAT(response.denial().reason(), HasSubstr("does not override the patient's own"));

  // The practice that filed it revokes it (the patient's other practice may not:
  // consent_privacy_test); the revocation takes effect on the next decision.
  hie::v1::RevokeDirectiveRequest revoke;
  revoke.set_directive_id(deny.directive_id());
  revoke.set_reason("patient changed their mind");
  hie::v1::Directive revoked;
  ASSERT_TRUE(ConsentAs("node-a")->RevokeDirective(Context().get(), revoke, &revoked).ok());
  EXPECT_EQ(revoked.version(), 2);
  EXPECT_EQ(revoked.status(), "inactive");
  EXPECT_THAT(revoked.consent_json(), HasSubstr("\"status\":\"inactive\""));
  ASSERT_TRUE(Authorize("node-a", "A1", "TREAT", &response).ok());
  EXPECT_TRUE(response.has_grant());

  // A consent that names the sensitive programme as a custodian lets it be named, and
  // releases ETH.
  hie::v1::Directive release;
  ASSERT_TRUE(
      Put("node-b", "org-b", "B1",
          Consent("", "2026-01-01",
                  ProvisionJson("permit", {},
                                {ProvisionJson("permit", {Actors({OrgActor("org-s", "CST")})}),
                                 ProvisionJson("permit", {Labels({"ETH"})})})),
          &release)
          .ok());
  ASSERT_TRUE(Authorize("node-a", "A1", "TREAT", &response).ok());
  ASSERT_TRUE(response.has_grant());
  hie::v1::DisclosureGrant grant = VerifiedGrant(response, "org-s");
  EXPECT_THAT(Holders(grant), ElementsAre("org-b", "org-s"));
  // Releasing ETH does not release Part 2: only a consent naming 42CFRPart2 does.
  EXPECT_THAT(grant.withheld_categories(), ElementsAre("42CFRPart2"));

  // Every version is kept; the patient's directives are listed from any of their
  // practices.
  hie::v1::ListDirectivesRequest list;
  list.mutable_patient()->set_org_id("org-a");
  list.mutable_patient()->set_local_id("A1");
  list.set_include_history(true);
  hie::v1::ListDirectivesResponse listed;
  ASSERT_TRUE(ConsentAs("node-a")->ListDirectives(Context().get(), list, &listed).ok());
  EXPECT_EQ(listed.directives_size(), 3);

  // The accounting: every decision and directive change for the patient, in order, and
  // the break-the-glass alert; another practice cannot ask about org-a's patient.
  auto audit = hie::v1::AuditLog::NewStub(ChannelAs("node-a", consent_port_));
  hie::v1::QueryByPatientRequest query;
  query.mutable_local()->set_org_id("org-a");
  query.mutable_local()->set_local_id("A1");
  auto context = Context();
  auto reader = audit->QueryByPatient(context.get(), query);
  hie::v1::AuditEntry entry;
  std::map<hie::v1::AuditAction, int> counts;
  uint64_t last = 0;
  while (reader->Read(&entry)) {
    EXPECT_GT(entry.sequence(), last);
    last = entry.sequence();
    ++counts[entry.action()];
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(counts[hie::v1::AUDIT_ACTION_AUTHORIZE], 5);
  EXPECT_EQ(counts[hie::v1::AUDIT_ACTION_BREAK_GLASS], 0);
  // org-a's directive filed and revoked; org-b's own directive for B1 is not shown to
  // org-a (another holder's entries do not name it: consent_privacy_test).
  EXPECT_EQ(counts[hie::v1::AUDIT_ACTION_DIRECTIVE], 2);
  auto other = hie::v1::AuditLog::NewStub(ChannelAs("node-b", consent_port_));
  auto other_context = Context();
  auto refused = other->QueryByPatient(other_context.get(), query);
  while (refused->Read(&entry)) {
  }
  EXPECT_EQ(refused->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  hie::v1::VerifyAuditResponse verified;
  ASSERT_TRUE(hie::v1::AuditLog::NewStub(ChannelAs("operator", consent_port_))
                  ->Verify(Context().get(), hie::v1::VerifyAuditRequest(), &verified)
                  .ok());
  EXPECT_TRUE(verified.ok());
  // 5 decisions, 3 directive changes, and the 2 refused PutDirective calls above.
  EXPECT_EQ(verified.entries_checked(), 10u);
}

TEST_F(ConsentDaemonTest, RefusalsAreDistinct) {
  hie::v1::AuthorizeResponse response;
  grpc::Status unknown = Authorize("node-a", "NOBODY", "TREAT", &response);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Reason(unknown), hie::v1::ERROR_REASON_PATIENT_UNKNOWN);
  EXPECT_EQ(Authorize("node-a", "A1", "SHOPPING", &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Authorize("node-z", "Z1", "TREAT", &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // Operators do not query records.
  EXPECT_EQ(Authorize("operator", "A1", "TREAT", &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // A suspension reaches Authorize within the directory cache's two seconds.
  auto directory = DirectoryAs("operator", mpi_port_);
  hie::v1::SuspendOrganizationRequest suspend;
  suspend.set_org_id("org-a");
  suspend.set_reason("unpaid dues");
  hie::v1::Organization org;
  ASSERT_TRUE(directory->SuspendOrganization(Context().get(), suspend, &org).ok());
  absl::SleepFor(absl::Milliseconds(2500));
  grpc::Status suspended = Authorize("node-a", "A1", "TREAT", &response);
  EXPECT_EQ(suspended.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Reason(suspended), hie::v1::ERROR_REASON_ORG_NOT_ACTIVE);
  EXPECT_THAT(suspended.error_message(), HasSubstr("suspended"));

  // No MPI, no decision: fail closed with UNAVAILABLE.
  ASSERT_TRUE(processes_.at("mpi").Stop(SIGTERM, absl::Seconds(10)).ok());
  grpc::Status down = Authorize("node-b", "B1", "TREAT", &response);
  EXPECT_EQ(down.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Reason(down), hie::v1::ERROR_REASON_DEPENDENCY_UNAVAILABLE);
}

TEST_F(ConsentDaemonTest, RotatedKeysKeepVerifyingOldGrants) {
  hie::v1::AuthorizeResponse before;
  ASSERT_TRUE(Authorize("node-a", "A1", "TREAT", &before).ok());
  hie::v1::PublicKey rotated;
  ASSERT_TRUE(ConsentAs("operator")
                  ->RotateSigningKey(Context().get(), hie::v1::RotateSigningKeyRequest(), &rotated)
                  .ok());
  EXPECT_NE(rotated.key_id(), before.grant().key_id());
  EXPECT_EQ(ConsentAs("node-a")
                ->RotateSigningKey(Context().get(), hie::v1::RotateSigningKeyRequest(), &rotated)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  hie::v1::AuthorizeResponse after;
  ASSERT_TRUE(Authorize("node-a", "A1", "TREAT", &after).ok());
  EXPECT_EQ(after.grant().key_id(), rotated.key_id());
  // Both verify with the published keys.
  EXPECT_EQ(VerifiedGrant(before, "org-b").query_id(), "q-1");
  EXPECT_EQ(VerifiedGrant(after, "org-b").query_id(), "q-1");
}

}  // namespace
}  // namespace hie::testing

namespace hie::testing {
namespace {

TEST_F(ConsentDaemonTest, HiectlConsentAndAuditCommands) {
  // Offline evaluation with the service's engine.
  std::string optout = Path("optout.json");
  std::ofstream(optout) << consent::testing::Consent(
      "optout", "2025-01-01",
      consent::testing::ProvisionJson(
          "permit", {},
          {consent::testing::ProvisionJson("deny", {consent::testing::Purposes({"HPAYMT"})})}));
  CommandResult evaluated =
      Hiectl({"consent", "evaluate", "--policy", "opt-in", "--consent", optout, "--requester",
              "org-b", "--purpose", "HPAYMT", "--json"});
  EXPECT_EQ(evaluated.exit_code, 0) << evaluated.err;
  EXPECT_THAT(evaluated.out, HasSubstr("\"decision\": \"deny\""));
  EXPECT_THAT(evaluated.out, HasSubstr("Consent.provision.provision[0]"));
  evaluated = Hiectl({"consent", "evaluate", "--json", "--purpose", "TREAT", "--requester", "org-b",
                      "--policy", "opt-in", "--consent", optout});
  EXPECT_THAT(evaluated.out,
              HasSubstr("\"decision\": \"permit\", \"withheld\": [\"42CFRPart2\", \"ETH\"]"));
  std::string bad = Path("bad.json");
  std::ofstream(bad) << R"({"resourceType":"Consent","status":"active"})";
  evaluated = Hiectl(
      {"consent", "evaluate", "--consent", bad, "--requester", "org-b", "--purpose", "TREAT"});
  EXPECT_EQ(evaluated.exit_code, 1);
  EXPECT_THAT(evaluated.err, HasSubstr("Consent.scope"));

  // Against the daemon: file, list, authorize, and the accounting as FHIR.
  CommandResult put =
      HiectlAs("node-a", consent_port_,
               {"consent", "put", "--org", "org-a", "--patient", "A1", "--file", optout, "--json"});
  EXPECT_EQ(put.exit_code, 0) << put.err;
  EXPECT_THAT(put.out, HasSubstr("\"directive_id\":\"optout\""));
  CommandResult list =
      HiectlAs("node-b", consent_port_, {"consent", "list", "--org", "org-b", "--patient", "B1"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("optout"));
  CommandResult denied = HiectlAs(
      "node-a", consent_port_,
      {"consent", "authorize", "--patient", "A1", "--purpose", "HPAYMT", "--user", "billing"});
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_THAT(denied.out, HasSubstr("DENY"));
  CommandResult permitted = HiectlAs(
      "node-a", consent_port_,
      {"consent", "authorize", "--patient", "A1", "--purpose", "TREAT", "--user", "dr.lee"});
  EXPECT_EQ(permitted.exit_code, 0) << permitted.err;
  EXPECT_THAT(permitted.out, HasSubstr("holder org-b"));
  EXPECT_THAT(permitted.out, Not(HasSubstr("org-s")));
  CommandResult fhir = HiectlAs("operator", consent_port_,
                                {"audit", "disclosures", "--org", "org-a", "--patient", "A1",
                                 "--action", "authorize", "--fhir"});
  EXPECT_EQ(fhir.exit_code, 0) << fhir.err;
  EXPECT_THAT(fhir.out, HasSubstr("\"resourceType\": \"Bundle\""));
  EXPECT_THAT(fhir.out, HasSubstr("\"total\": 2"));
  EXPECT_THAT(fhir.out, HasSubstr("\"resourceType\": \"AuditEvent\""));
  CommandResult keys = HiectlAs("node-a", consent_port_, {"consent", "keys", "--json"});
  EXPECT_EQ(keys.exit_code, 0) << keys.err;
  EXPECT_THAT(keys.out, HasSubstr("key_id"));
}

}  // namespace
}  // namespace hie::testing
