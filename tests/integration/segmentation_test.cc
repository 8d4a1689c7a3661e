// The attack on segmentation (issue "Security first", promise 2): a holder imports
// sensitive records coded the way EMRs code them — a buprenorphine/naloxone prescription
// coded only in RxNorm, an Observation its EMR labelled 42CFRPart2, one with a security
// label nobody here knows, an HIV Condition — and a practice asks for the patient's
// records for treatment. None of the sensitive ones may leave the holder, the holder's
// audit counts them as withheld, a consent that denies R withholds the HIV record, and
// only a consent that names Part 2 releases the Part 2 record.
#include <fstream>

#include "proto/hie/v1/audit.grpc.pb.h"
#include "tests/consent/consent_json.h"
#include "tests/integration/exchange_fixture.h"

namespace hie::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kRxNorm[] = "http://www.nlm.nih.gov/research/umls/rxnorm";

class SegmentationTest : public FederatedQueryTest {
 protected:
  void SetUp() override {
    FederatedQueryTest::SetUp();
    if (HasFatalFailure()) return;
    std::string bundle = Path("sensitive.json");
    std::ofstream(bundle) << absl::StrCat(
        R"({"resourceType":"Bundle","type":"batch","entry":[
      {"resource":{"resourceType":"MedicationRequest","id":"bup","status":"active","intent":"order",
        "subject":{"reference":"Patient/B1"},"authoredOn":"2026-03-01",
        "medicationCodeableConcept":{"coding":[{"system":")",
        kRxNorm, R"(","code":"1010600"}]}},
        "request":{"method":"PUT","url":"MedicationRequest/bup"}},
      {"resource":{"resourceType":"Observation","id":"part2","status":"final","code":{"text":"counselling note"},
        "meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"42CFRPart2"}]},
        "subject":{"reference":"Patient/B1"}},"request":{"method":"PUT","url":"Observation/part2"}},
      {"resource":{"resourceType":"Observation","id":"unknown","status":"final","code":{"text":"note"},
        "meta":{"security":[{"system":"http://example.org/local-labels","code":"VIP-ONLY"}]},
        "subject":{"reference":"Patient/B1"}},"request":{"method":"PUT","url":"Observation/unknown"}},
      {"resource":{"resourceType":"Condition","id":"hiv","subject":{"reference":"Patient/B1"},
        "code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"B20"}]}},
        "request":{"method":"PUT","url":"Condition/hiv"}}]})");
    CommandResult imported = HiectlAs("node-b", holder_port_, {"import", bundle});
    ASSERT_EQ(imported.exit_code, 0) << imported.out << imported.err;
  }

  // org-a files the patient's consent at the consent service.
  void PutConsent(const std::string& name, const std::string& json) {
    std::string file = Path(name + ".json");
    std::ofstream(file) << json;
    CommandResult put =
        HiectlAs("node-a", consent_port_,
                 {"consent", "put", "--org", "org-a", "--patient", "A1", "--file", file});
    ASSERT_EQ(put.exit_code, 0) << put.out << put.err;
  }

  // The holder's audit entries of its disclosures of B1, in order.
  std::vector<std::string> DisclosureDetails() {
    auto audit = hie::v1::AuditLog::NewStub(ChannelAs("operator", holder_port_));
    grpc::ClientContext context;
    hie::v1::QueryByPatientRequest query;
    query.mutable_local()->set_org_id("org-b");
    query.mutable_local()->set_local_id("B1");
    query.set_action(hie::v1::AUDIT_ACTION_DISCLOSE);
    auto reader = audit->QueryByPatient(&context, query);
    hie::v1::AuditEntry entry;
    std::vector<std::string> details;
    while (reader->Read(&entry)) {
      EXPECT_EQ(entry.counterpart_org(), "org-a");
      details.push_back(entry.detail());
    }
    EXPECT_TRUE(reader->Finish().ok());
    return details;
  }

  static hie::v1::HolderStatus Holder(const QueryOutcome& q, const std::string& org) {
    for (const auto& h : q.holders) {
      if (h.org_id() == org) return h;
    }
    ADD_FAILURE() << "no status for " << org;
    return {};
  }

  // org-b's records ("Type/id") in the answer's bundle, and those not in it.
  static void ExpectRecords(const QueryOutcome& q, const std::vector<std::string>& present,
                            const std::vector<std::string>& absent) {
    for (const auto& id : present) {
      EXPECT_THAT(q.bundle_json, HasSubstr(absl::StrCat("urn:hie:org-b:", id))) << id;
    }
    for (const auto& id : absent) {
      EXPECT_THAT(q.bundle_json, Not(HasSubstr(absl::StrCat("urn:hie:org-b:", id)))) << id;
    }
  }
};

TEST_F(SegmentationTest, TreatmentQueryGetsNoSensitiveRecordAndTheHolderAuditsThem) {
  QueryOutcome q = Query("TREAT", 5000);
  ASSERT_TRUE(q.status.ok()) << q.status.error_message();
  hie::v1::HolderStatus b = Holder(q, "org-b");
  EXPECT_EQ(b.state(), hie::v1::HolderStatus::STATE_OK);
  // Sent: the patient, the plain observation, the HIV condition (HIV is not withheld by
  // default). Withheld: the F-coded and the RxNorm-coded substance-use records, the Part 2
  // record and the one with the unknown label.
  EXPECT_EQ(b.records(), 3);
  EXPECT_EQ(b.withheld(), 4);
  ExpectRecords(
      q, {"Observation/o1", "Condition/hiv"},
      {"Condition/c1", "MedicationRequest/bup", "Observation/part2", "Observation/unknown"});
  EXPECT_THAT(q.bundle_json, Not(HasSubstr("1010600")));
  EXPECT_THAT(q.result.withheld_categories(), ::testing::Contains("42CFRPart2"));
  std::vector<std::string> details = DisclosureDetails();
  ASSERT_EQ(details.size(), 1u);
  EXPECT_THAT(details[0], HasSubstr("sent 3, withheld 4"));
}

TEST_F(SegmentationTest, ConsentDenyingRestrictedWithholdsTheHivRecord) {
  // "Share my records, but nothing restricted": a nested deny on v3 Confidentiality R.
  PutConsent(
      "deny-r",
      consent::testing::Consent(
          "deny-r", "2026-01-01",
          consent::testing::ProvisionJson(
              "permit", {},
              {consent::testing::ProvisionJson(
                  "deny",
                  {R"("securityLabel":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}])"})})));
  QueryOutcome q = Query("TREAT", 5000);
  ASSERT_TRUE(q.status.ok()) << q.status.error_message();
  hie::v1::HolderStatus b = Holder(q, "org-b");
  EXPECT_EQ(b.records(), 2);
  EXPECT_EQ(b.withheld(), 5);
  ExpectRecords(q, {"Observation/o1"},
                {"Condition/hiv", "Condition/c1", "MedicationRequest/bup", "Observation/part2",
                 "Observation/unknown"});
  EXPECT_THAT(q.bundle_json, Not(HasSubstr("\"B20\"")));
  std::vector<std::string> details = DisclosureDetails();
  ASSERT_EQ(details.size(), 1u);
  EXPECT_THAT(details[0], HasSubstr("sent 2, withheld 5"));
}

TEST_F(SegmentationTest, OnlyAConsentNamingPart2ReleasesThePart2Record) {
  // A general permit does not release it.
  PutConsent("general", consent::testing::Consent(
                            "general", "2026-01-01",
                            consent::testing::ProvisionJson(
                                "permit", {},
                                {consent::testing::ProvisionJson(
                                    "permit", {consent::testing::Purposes({"TREAT"})})})));
  QueryOutcome general = Query("TREAT", 5000);
  ASSERT_TRUE(general.status.ok()) << general.status.error_message();
  ExpectRecords(
      general, {"Observation/o1", "Condition/hiv"},
      {"Observation/part2", "Condition/c1", "MedicationRequest/bup", "Observation/unknown"});
  EXPECT_EQ(Holder(general, "org-b").withheld(), 4);

  // A later consent that names 42CFRPart2 (a nested permit with that securityLabel) does.
  PutConsent("part2", consent::testing::Consent(
                          "part2", "2026-02-01",
                          consent::testing::ProvisionJson(
                              "permit", {},
                              {consent::testing::ProvisionJson(
                                  "permit", {consent::testing::Labels({"42CFRPart2"})})})));
  QueryOutcome named = Query("TREAT", 5000);
  ASSERT_TRUE(named.status.ok()) << named.status.error_message();
  // Only the Part 2 record: the other substance-use records (ETH) and the unknown label
  // stay withheld.
  ExpectRecords(named, {"Observation/o1", "Condition/hiv", "Observation/part2"},
                {"Condition/c1", "MedicationRequest/bup", "Observation/unknown"});
  EXPECT_EQ(Holder(named, "org-b").records(), 4);
  EXPECT_EQ(Holder(named, "org-b").withheld(), 3);
  std::vector<std::string> details = DisclosureDetails();
  ASSERT_EQ(details.size(), 2u);
  EXPECT_THAT(details[0], HasSubstr("sent 3, withheld 4"));
  EXPECT_THAT(details[1], HasSubstr("sent 4, withheld 3"));
}

TEST_F(SegmentationTest, HiectlConsentEvaluateShowsThePart2Rule) {
  std::string general = Path("general-eval.json");
  std::ofstream(general) << consent::testing::Consent(
      "general", "2026-01-01", consent::testing::ProvisionJson("permit", {}));
  std::string named = Path("named-eval.json");
  std::ofstream(named) << consent::testing::Consent(
      "named", "2026-01-01",
      consent::testing::ProvisionJson(
          "permit", {},
          {consent::testing::ProvisionJson("permit", {consent::testing::Labels({"42CFRPart2"})})}));
  // A general permit, and no consent at all: Part 2 withheld.
  for (const std::vector<std::string>& consent :
       {std::vector<std::string>{"--consent", general}, std::vector<std::string>{}}) {
    std::vector<std::string> args = {"consent", "evaluate",  "--json", "--requester",
                                     "org-a",   "--purpose", "TREAT"};
    args.insert(args.end(), consent.begin(), consent.end());
    CommandResult evaluated = Hiectl(args);
    EXPECT_EQ(evaluated.exit_code, 0) << evaluated.err;
    EXPECT_THAT(evaluated.out,
                HasSubstr("\"decision\": \"permit\", \"withheld\": [\"42CFRPart2\", \"ETH\"]"));
  }
  // Break-the-glass by a physician, over a deny where the policy lets it override one,
  // does not release it either.
  std::string deny = Path("deny-eval.json");
  std::ofstream(deny) << consent::testing::Consent("deny", "2026-01-01",
                                                   consent::testing::ProvisionJson("deny", {}));
  CommandResult emergency =
      Hiectl({"consent", "evaluate", "--json", "--requester", "org-a", "--purpose", "ETREAT",
              "--reason", "unconscious in ED", "--user-role", "physician",
              "--break-glass-overrides-directives", "--consent", deny});
  EXPECT_EQ(emergency.exit_code, 0) << emergency.err;
  EXPECT_THAT(emergency.out,
              HasSubstr("\"decision\": \"permit\", \"withheld\": [\"42CFRPart2\", \"ETH\"]"));
  // A consent naming it releases it.
  CommandResult released = Hiectl({"consent", "evaluate", "--json", "--requester", "org-a",
                                   "--purpose", "TREAT", "--consent", named});
  EXPECT_EQ(released.exit_code, 0) << released.err;
  EXPECT_THAT(released.out, HasSubstr("\"decision\": \"permit\", \"withheld\": [\"ETH\"]"));
}

}  // namespace
}  // namespace hie::testing
