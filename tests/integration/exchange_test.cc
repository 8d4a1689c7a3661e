// The flow across parties with every daemon real: the consent service grants, a holder
// checks the grant on its own and discloses what it allows, and audits it.
#include <chrono>

#include "proto/hie/v1/audit.grpc.pb.h"
#include "tests/integration/exchange_fixture.h"

namespace hie::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

TEST_F(ExchangeTest, HolderDisclosesWhatTheGrantAllowsOnceAndAuditsIt) {
  hie::v1::SignedGrant grant = Grant();
  std::vector<hie::v1::RecordEnvelope> records;
  hie::v1::FetchSummary summary;
  grpc::Status status = Fetch("node-a", grant, &records, &summary);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<std::string> ids;
  for (const auto& r : records) {
    ids.push_back(r.resource_type() + "/" + r.resource_id());
    EXPECT_EQ(r.source_org(), "org-b");
  }
  // The substance-use condition (ETH, withheld by default) never leaves its holder.
  EXPECT_THAT(ids, ElementsAre("Observation/o1", "Patient/B1"));
  EXPECT_EQ(summary.records_sent(), 2);
  EXPECT_EQ(summary.records_withheld(), 1);

  // The same grant again is a replay.
  records.clear();
  status = Fetch("node-a", grant, &records, &summary);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("already used"));
  EXPECT_TRUE(records.empty());

  // Another org presenting org-a's grant, and an altered grant, are refused.
  hie::v1::SignedGrant fresh = Grant();
  status = Fetch("node-b", fresh, &records, &summary);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  hie::v1::SignedGrant forged = fresh;
  hie::v1::DisclosureGrant inner;
  ASSERT_TRUE(inner.ParseFromString(forged.grant()));
  inner.clear_withheld_categories();  // try to get the ETH records too
  forged.set_grant(inner.SerializeAsString());
  status = Fetch("node-a", forged, &records, &summary);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(records.empty());

  // The holder's own audit: the disclosure to org-a for query q-42, and the refusals.
  auto audit = hie::v1::AuditLog::NewStub(ChannelAs("operator", holder_port_));
  grpc::ClientContext context;
  hie::v1::QueryByPatientRequest query;
  query.mutable_local()->set_org_id("org-b");
  query.mutable_local()->set_local_id("B1");
  query.set_action(hie::v1::AUDIT_ACTION_DISCLOSE);
  auto reader = audit->QueryByPatient(&context, query);
  hie::v1::AuditEntry entry;
  int disclosures = 0;
  while (reader->Read(&entry)) {
    ++disclosures;
    EXPECT_EQ(entry.counterpart_org(), "org-a");
    EXPECT_EQ(entry.query_id(), "q-42");
    EXPECT_EQ(entry.user().user_id(), "dr.lee");
    EXPECT_THAT(entry.detail(), HasSubstr("sent 2, withheld 1"));
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(disclosures, 1);
  hie::v1::VerifyAuditResponse verified;
  grpc::ClientContext verify_context;
  ASSERT_TRUE(audit->Verify(&verify_context, {}, &verified).ok());
  EXPECT_TRUE(verified.ok());
  EXPECT_GE(verified.entries_checked(), 4u);  // one disclosure, three refusals
}

TEST_F(FederatedQueryTest, GathersOwnAndHoldersRecordsIntoOneBundle) {
  QueryOutcome q = Query("TREAT");
  ASSERT_TRUE(q.status.ok()) << q.status.error_message();
  ASSERT_EQ(q.holders.size(), 2u);
  std::map<std::string, hie::v1::HolderStatus> by_org;
  for (const auto& h : q.holders) by_org[h.org_id()] = h;
  EXPECT_TRUE(by_org["org-a"].local());
  EXPECT_EQ(by_org["org-a"].records(), 2);
  EXPECT_EQ(by_org["org-b"].state(), hie::v1::HolderStatus::STATE_OK);
  EXPECT_EQ(by_org["org-b"].records(), 2);
  EXPECT_EQ(by_org["org-b"].withheld(), 1);
  EXPECT_EQ(q.result.entries(), 4);
  EXPECT_THAT(q.result.withheld_categories(), ElementsAre("42CFRPart2", "ETH"));
  EXPECT_THAT(q.bundle_json,
              HasSubstr("\"system\": \"http://hie.example/source-org\", \"code\": \"org-b\""));
  EXPECT_THAT(q.bundle_json, Not(HasSubstr("7200002")));  // the withheld condition
  EXPECT_FALSE(q.result.query_id().empty());
}

TEST_F(FederatedQueryTest, ADeadHolderCostsOnlyItsOwnResults) {
  ASSERT_TRUE(processes_.at("node-b").Stop(SIGKILL, absl::Seconds(5)).ok());
  QueryOutcome q = Query("TREAT", 1500);
  ASSERT_TRUE(q.status.ok()) << q.status.error_message();
  std::map<std::string, hie::v1::HolderStatus> by_org;
  for (const auto& h : q.holders) by_org[h.org_id()] = h;
  EXPECT_THAT(by_org["org-b"].state(), ::testing::AnyOf(hie::v1::HolderStatus::STATE_UNREACHABLE,
                                                        hie::v1::HolderStatus::STATE_TIMED_OUT));
  EXPECT_EQ(q.result.entries(), 2);  // this practice's own records
  EXPECT_LT(q.elapsed, absl::Seconds(5));
}

TEST_F(FederatedQueryTest, AFrozenHolderIsCutAtTheDeadline) {
  ASSERT_EQ(kill(processes_.at("node-b").pid(), SIGSTOP), 0);
  QueryOutcome q = Query("TREAT", 1000);
  kill(processes_.at("node-b").pid(), SIGCONT);
  ASSERT_TRUE(q.status.ok()) << q.status.error_message();
  std::map<std::string, hie::v1::HolderStatus> by_org;
  for (const auto& h : q.holders) by_org[h.org_id()] = h;
  EXPECT_EQ(by_org["org-b"].state(), hie::v1::HolderStatus::STATE_TIMED_OUT);
  EXPECT_LT(q.elapsed, absl::Seconds(3));
}

TEST_F(FederatedQueryTest, HiectlQueryPrintsTheSummaryAndWritesTheBundle) {
  std::string bundle = Path("answer.json");
  CommandResult q = HiectlAs(
      "node-a", requester_port_,
      {"query", "--patient", "A1", "--purpose", "TREAT", "--user", "dr.lee", "--bundle", bundle});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_THAT(q.out, HasSubstr("org-b"));
  EXPECT_THAT(q.out, HasSubstr("1 Observation, 1 Patient"));
  EXPECT_THAT(q.out, HasSubstr("withheld by consent: 42CFRPart2, ETH"));
  EXPECT_THAT(ReadWholeFile(bundle), HasSubstr("\"resourceType\": \"Bundle\""));
  CommandResult json = HiectlAs("node-a", requester_port_,
                                {"query", "--patient", "A1", "--purpose", "TREAT", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr("\"entries\": 4"));
  CommandResult denied =
      HiectlAs("node-a", requester_port_, {"query", "--patient", "A1", "--purpose", "HMARKT"});
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_THAT(denied.err, HasSubstr("consent denies"));
}

TEST_F(FederatedQueryTest, AnOptedOutPatientIsDeniedWithTheDirectiveNamed) {
  std::string optout = Path("optout.json");
  std::ofstream(optout) << R"({"resourceType":"Consent","id":"optout-a1","status":"active",
    "scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
    "category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],
    "dateTime":"2025-01-01","policyRule":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"OPTOUT"}]}})";
  CommandResult filed =
      HiectlAs("node-a", consent_port_,
               {"consent", "put", "--org", "org-a", "--patient", "A1", "--file", optout});
  ASSERT_EQ(filed.exit_code, 0) << filed.err;
  QueryOutcome q = Query("TREAT");
  EXPECT_EQ(q.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(q.status.error_message(), HasSubstr("consent optout-a1"));
  EXPECT_TRUE(q.holders.empty());
}

TEST_F(FederatedQueryTest, ADenyIsPermissionDeniedWithTheReason) {
  QueryOutcome q = Query("HMARKT");
  EXPECT_EQ(q.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(q.status.error_message(), HasSubstr("consent denies"));
  EXPECT_TRUE(q.holders.empty());
}

// Three practices, each with its own registration of one patient under slightly
// different demographics: the nodes register them through their outboxes, the MPI links
// them, and a query at one practice gathers from the other two.
class ThreePracticesTest : public DaemonFixture {};

TEST_F(ThreePracticesTest, APatientRegisteredDifferentlyAtThreePracticesIsFoundAtAll) {
  Issue("org-c", "node-c", pki::Role::kNode);
  int mpi = StartDaemon("mpi");
  ASSERT_GT(mpi, 0);
  mpi_address_ = absl::StrCat("127.0.0.1:", mpi);
  int consent = StartDaemon("consent");
  ASSERT_GT(consent, 0);
  consent_address_ = absl::StrCat("127.0.0.1:", consent);
  std::map<std::string, int> ports;
  for (const char* name : {"node", "node-b", "node-c"}) {
    ports[name] = StartDaemon(name);
    ASSERT_GT(ports[name], 0);
  }
  for (const auto& [org, name] : std::vector<std::pair<std::string, std::string>>{
           {"org-a", "node"}, {"org-b", "node-b"}, {"org-c", "node-c"}}) {
    Enroll(mpi, org, absl::StrCat("127.0.0.1:", ports[name]));
  }
  // The same woman as three front desks typed her in.
  const std::map<std::string, std::pair<std::string, std::string>> registrations = {
      {"node",
       {"GP-17",
        R"("name":[{"family":"Oyelaran","given":["Jane"]}],"gender":"female","birthDate":"1984-06-02",
           "telecom":[{"system":"phone","value":"(217) 555-0143"}],
           "address":[{"line":["12 Main Street"],"city":"Springfield","postalCode":"62701"}])"}},
      {"node-b",
       {"H-88812",
        R"("name":[{"family":"OYELARAN","given":["JANE","A"]}],"gender":"female","birthDate":"1984-06-02",
           "telecom":[{"system":"phone","value":"217-555-0143"}],
           "address":[{"line":["12 Main St."],"city":"Springfield","postalCode":"62701"}])"}},
      {"node-c",
       {"sp-0042",
        R"("name":[{"family":"Oyelaran","given":["Jane"]}],"gender":"female","birthDate":"1984-06-02",
           "telecom":[{"system":"phone","value":"2175550143"}],
           "address":[{"line":["40 Oak Avenue","Apt 3"],"city":"Springfield","postalCode":"62704"}])"}}};
  for (const auto& [name, registration] : registrations) {
    const auto& [id, demographics] = registration;
    std::string path = Path(name + "-patient.json");
    std::ofstream(path)
        << R"({"resourceType":"Bundle","type":"transaction","entry":[)"
        << R"({"fullUrl":"urn:uuid:p","resource":{"resourceType":"Patient","id":")" << id << R"(",)"
        << demographics << R"(},"request":{"method":"PUT","url":"Patient"}},)"
        << R"({"fullUrl":"urn:uuid:o","resource":{"resourceType":"Observation","id":")" << id
        << R"(-obs","status":"final","code":{"text":"seen at )" << name
        << R"("},"subject":{"reference":"urn:uuid:p"}},"request":{"method":"PUT","url":"Observation"}}]})";
    std::string who = name == "node" ? "node-a" : name;
    CommandResult imported = HiectlAs(who, ports[name], {"import", path});
    ASSERT_EQ(imported.exit_code, 0) << imported.out << imported.err;
  }
  // The outboxes deliver; the MPI links all three for certain.
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  int certain = 0;
  while (absl::Now() < deadline && certain < 3) {
    hie::v1::CrossReference xref;
    certain = 0;
    if (Xref(MpiAs("operator", mpi).get(), "org-a", "GP-17", &xref).ok()) {
      for (const auto& r : xref.registrations())
        certain += r.grade() == hie::v1::MATCH_GRADE_CERTAIN;
    }
    if (certain < 3) absl::SleepFor(absl::Milliseconds(250));
  }
  ASSERT_EQ(certain, 3);
  CommandResult q = HiectlAs("node-a", ports["node"],
                             {"query", "--patient", "GP-17", "--purpose", "TREAT", "--json"});
  ASSERT_EQ(q.exit_code, 0) << q.err;
  EXPECT_THAT(
      q.out, HasSubstr("\"org\": \"org-b\", \"local\": false, \"status\": \"ok\", \"records\": 2"));
  EXPECT_THAT(
      q.out, HasSubstr("\"org\": \"org-c\", \"local\": false, \"status\": \"ok\", \"records\": 2"));
  EXPECT_THAT(q.out, HasSubstr("\"entries\": 6"));
}

}  // namespace
}  // namespace hie::testing
