// The labeler's promises (docs/labelling.md): substance-use medications are labelled by
// RxNorm wherever a record codes them; every meta.security label is honoured and an
// unknown one withholds the record under every grant; a sensitive category implies R.
#include "node/domain/labeler.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node/domain/disclosure.h"
#include "simdjson.h"

namespace hie::node {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kRxNorm[] = "http://www.nlm.nih.gov/research/umls/rxnorm";
constexpr char kConfidentiality[] = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
constexpr char kActCode[] = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
constexpr char kObservationValue[] = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";

class LabelerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto labeler = Labeler::FromConfig(hie::v1::LabellingConfig());
    ASSERT_TRUE(labeler.ok()) << labeler.status();
    labeler_.emplace(*std::move(labeler));
  }

  std::vector<std::string> Label(const std::string& json) {
    simdjson::dom::element resource;
    auto error = parser_.parse(json).get(resource);
    EXPECT_FALSE(error) << json;
    if (error) return {};
    return labeler_->Label(resource);
  }

  static std::string Coding(const std::string& system, const std::string& code) {
    return absl::StrCat(R"({"system":")", system, R"(","code":")", code, R"("})");
  }
  static std::string Labelled(const std::string& security) {
    return absl::StrCat(R"({"resourceType":"Observation","id":"o1","status":"final",)",
                        R"("meta":{"security":[)", security, R"(]},"code":{"text":"note"}})");
  }

  simdjson::dom::parser parser_;
  std::optional<Labeler> labeler_;
};

TEST_F(LabelerTest, BuprenorphineNaloxoneProductCodeIsSubstanceUseAndRestricted) {
  // Coded only as the RxNorm clinical drug, as many EMRs send it.
  std::string request = absl::StrCat(
      R"({"resourceType":"MedicationRequest","id":"m1","status":"active","intent":"order",)",
      R"("medicationCodeableConcept":{"coding":[)", Coding(kRxNorm, "1010600"), "]}}");
  EXPECT_THAT(Label(request), ElementsAre("ETH", "R"));
}

TEST_F(LabelerTest, SubstanceUseMedicationsAreFoundWhereverTheRecordCodesThem) {
  const std::vector<std::string> cases = {
      // A contained Medication's code (methadone 10 MG/ML oral solution [Methadose]).
      absl::StrCat(R"({"resourceType":"MedicationDispense","id":"d1","status":"completed",)",
                   R"("contained":[{"resourceType":"Medication","id":"med","code":{"coding":[)",
                   Coding(kRxNorm, "991149"),
                   R"(]}}],"medicationReference":{"reference":"#med"}})"),
      // A contained Medication's ingredient, by the ingredient code (naltrexone).
      absl::StrCat(
          R"({"resourceType":"MedicationAdministration","id":"a1","status":"completed",)",
          R"("contained":[{"resourceType":"Medication","id":"med","code":{"text":"compounded"},)",
          R"("ingredient":[{"itemCodeableConcept":{"coding":[)", Coding(kRxNorm, "7243"),
          R"(]}}]}],"medicationReference":{"reference":"#med"}})"),
      // A MedicationStatement (disulfiram 250 MG oral tablet).
      absl::StrCat(R"({"resourceType":"MedicationStatement","id":"s1","status":"active",)",
                   R"("medicationCodeableConcept":{"coding":[)", Coding(kRxNorm, "197623"), "]}}"),
      // Acamprosate, and buprenorphine by its ingredient code.
      absl::StrCat(R"({"resourceType":"MedicationRequest","id":"m2",)",
                   R"("medicationCodeableConcept":{"coding":[)", Coding(kRxNorm, "835726"), "]}}"),
      absl::StrCat(R"({"resourceType":"MedicationRequest","id":"m3",)",
                   R"("medicationCodeableConcept":{"coding":[)", Coding(kRxNorm, "1819"), "]}}"),
  };
  for (const auto& json : cases) EXPECT_THAT(Label(json), ElementsAre("ETH", "R")) << json;
  // Another medication is not labelled (lisinopril 10 MG oral tablet).
  EXPECT_THAT(Label(absl::StrCat(R"({"resourceType":"MedicationRequest","id":"m4",)",
                                 R"("medicationCodeableConcept":{"coding":[)",
                                 Coding(kRxNorm, "314076"), "]}}")),
              IsEmpty());
}

TEST_F(LabelerTest, HivAndMentalHealthCodeSetsImplyRestricted) {
  auto condition = [](const std::string& code) {
    return absl::StrCat(R"({"resourceType":"Condition","id":"c1","code":{"coding":[)",
                        Coding("http://hl7.org/fhir/sid/icd-10-cm", code), "]}}");
  };
  EXPECT_THAT(Label(condition("B20")), ElementsAre("HIV", "R"));
  EXPECT_THAT(Label(condition("Z21")), ElementsAre("HIV", "R"));
  EXPECT_THAT(Label(condition("R75")), ElementsAre("HIV", "R"));
  EXPECT_THAT(Label(condition("F41.1")), ElementsAre("PSY", "R"));  // generalised anxiety
  EXPECT_THAT(Label(condition("F11.20")), ElementsAre("ETH", "R"));
  EXPECT_THAT(Label(condition("F64.0")), ElementsAre("GDIS", "R"));
  EXPECT_THAT(Label(condition("F03.90")), IsEmpty());  // dementia: not a PSY category
  EXPECT_THAT(Label(condition("I10")), IsEmpty());
}

TEST_F(LabelerTest, KnownSecurityLabelsAreHonoured) {
  EXPECT_THAT(Label(Labelled(Coding(kActCode, "42CFRPart2"))), ElementsAre("42CFRPart2", "R"));
  EXPECT_THAT(Label(Labelled(Coding(kActCode, "PSY"))), ElementsAre("PSY", "R"));
  EXPECT_THAT(Label(Labelled(Coding(kConfidentiality, "R"))), ElementsAre("R"));
  EXPECT_THAT(Label(Labelled(Coding(kConfidentiality, "V"))), ElementsAre("R", "V"));
  // The pre-R4 URL of the same code system.
  EXPECT_THAT(Label(Labelled(Coding("http://hl7.org/fhir/v3/Confidentiality", "R"))),
              ElementsAre("R"));
  // Labels that restrict nothing the exchange does.
  EXPECT_THAT(Label(Labelled(Coding(kConfidentiality, "N"))), IsEmpty());
  EXPECT_THAT(
      Label(Labelled(Coding("http://terminology.hl7.org/CodeSystem/v3-ActReason", "HTEST"))),
      IsEmpty());
  EXPECT_THAT(Label(Labelled(Coding(kObservationValue, "REDACTED"))), IsEmpty());
  EXPECT_THAT(Label(Labelled(Coding(kActCode, "AUDIT"))), IsEmpty());
}

TEST_F(LabelerTest, UnknownAndUnfulfillableLabelsSurviveAsUnreleasable) {
  EXPECT_THAT(Label(Labelled(Coding("http://example.org/labels", "SECRET"))),
              ElementsAre("http://example.org/labels|SECRET"));
  // A code that is not in the code system it names.
  EXPECT_THAT(Label(Labelled(Coding(kConfidentiality, "X"))),
              ElementsAre(absl::StrCat(kConfidentiality, "|X")));
  // A category code under the wrong system is not trusted to mean the category.
  EXPECT_THAT(Label(Labelled(Coding(kObservationValue, "ETH"))),
              ElementsAre(absl::StrCat(kObservationValue, "|ETH")));
  // A refrain the exchange cannot enforce at the recipient (no redisclosure).
  EXPECT_THAT(Label(Labelled(Coding(kActCode, "NORDSCLCD"))),
              ElementsAre(absl::StrCat(kActCode, "|NORDSCLCD")));
  // A purpose of use the record is restricted to (a grant does not check it).
  EXPECT_THAT(
      Label(Labelled(Coding("http://terminology.hl7.org/CodeSystem/v3-ActReason", "HRESCH"))),
      ElementsAre("http://terminology.hl7.org/CodeSystem/v3-ActReason|HRESCH"));
  // No system at all.
  EXPECT_THAT(Label(Labelled(R"({"code":"ETH"})")), ElementsAre("|ETH"));
}

TEST_F(LabelerTest, SecurityOutsideMetaIsNotALabel) {
  // A field named "security" elsewhere is clinical content, matched by the rules only.
  EXPECT_THAT(Label(absl::StrCat(R"({"resourceType":"Basic","id":"b1","extension":[{)",
                                 R"("security":[)", Coding(kActCode, "HIV"), "]}]}")),
              IsEmpty());
}

TEST(WithheldByGrantTest, UnknownLabelIsWithheldUnderEveryGrant) {
  hie::v1::RecordEnvelope record;
  record.add_sensitivity("http://example.org/labels|SECRET");
  hie::v1::DisclosureGrant grant;  // withholds nothing
  EXPECT_TRUE(WithheldByGrant(record, grant));
  hie::v1::RecordEnvelope plain;
  EXPECT_FALSE(WithheldByGrant(plain, grant));
}

TEST(WithheldByGrantTest, DenyingRWithholdsEverySensitiveCategory) {
  hie::v1::DisclosureGrant grant;
  grant.add_withheld_categories("R");
  // Labelled before R was implied at ingest: the holder still applies the high-water mark.
  for (const char* category : {"HIV", "ETH", "PSY", "42CFRPart2", "V"}) {
    hie::v1::RecordEnvelope record;
    record.add_sensitivity(category);
    EXPECT_TRUE(WithheldByGrant(record, grant)) << category;
  }
  hie::v1::RecordEnvelope normal;
  normal.add_sensitivity("DEMO");
  EXPECT_FALSE(WithheldByGrant(normal, grant));
}

TEST(WithheldByGrantTest, Part2IsReleasedOnlyWhenTheGrantDoesNotWithholdIt) {
  hie::v1::RecordEnvelope record;
  record.add_sensitivity("42CFRPart2");
  record.add_sensitivity("R");
  hie::v1::DisclosureGrant general;
  general.add_withheld_categories("42CFRPart2");
  general.add_withheld_categories("ETH");
  EXPECT_TRUE(WithheldByGrant(record, general));
  hie::v1::DisclosureGrant named;
  named.add_withheld_categories("ETH");
  EXPECT_FALSE(WithheldByGrant(record, named));
}

TEST_F(LabelerTest, CodesAreMatchedWhateverTheirSpellingAndTheFormOfTheirSystem) {
  // As EMRs, C-CDA and HL7 v2 send them: lower case, padded, without the dot, the system
  // as an OID or with a trailing slash.
  const std::vector<std::pair<std::string, std::string>> variants = {
      {"http://hl7.org/fhir/sid/icd-10-cm", "f11.20"},
      {"http://hl7.org/fhir/sid/icd-10-cm", " F11.20 "},
      {"http://hl7.org/fhir/sid/icd-10-cm", "F1120"},
      {"http://hl7.org/fhir/sid/icd-10-cm/", "F11.20"},
      {"urn:oid:2.16.840.1.113883.6.90", "F11.20"},
      {"2.16.840.1.113883.6.90", "F11.20"},
      {"urn:oid:2.16.840.1.113883.6.88", "1010600"}};
  for (const auto& [system, code] : variants) {
    std::string condition = absl::StrCat(
        R"({"resourceType":"Condition","id":"c1","code":{"coding":[)", Coding(system, code), "]}}");
    EXPECT_THAT(Label(condition), ElementsAre("ETH", "R")) << system << " " << code;
  }
  std::string z206 = absl::StrCat(R"({"resourceType":"Condition","id":"c2","code":{"coding":[)",
                                  Coding("http://hl7.org/fhir/sid/icd-10-cm", "Z206"), "]}}");
  EXPECT_THAT(Label(z206), ElementsAre("HIV", "R"));
}

TEST_F(LabelerTest, NarrowerSensitivityLabelsCarryTheirBroaderCategory) {
  EXPECT_THAT(Label(Labelled(Coding(kActCode, "OPIOIDUD"))), ElementsAre("ETH", "OPIOIDUD", "R"));
  EXPECT_THAT(Label(Labelled(Coding(kActCode, "ETHUD"))), ElementsAre("ETH", "ETHUD", "R"));
  EXPECT_THAT(Label(Labelled(Coding(kActCode, "PSYTHPN"))), ElementsAre("PSY", "PSYTHPN", "R"));
  EXPECT_THAT(Label(Labelled(Coding(kActCode, "BH"))), ElementsAre("BH", "ETH", "PSY", "R"));
}

TEST(WithheldByGrantTest, ANarrowerLabelIsWithheldWhereItsBroaderCategoryIs) {
  hie::v1::DisclosureGrant grant;  // the default policy: ETH and Part 2 withheld
  grant.add_withheld_categories("42CFRPart2");
  grant.add_withheld_categories("ETH");
  // Stored before the hierarchy was applied at ingest: the holder applies it again.
  for (const char* category : {"OPIOIDUD", "ETHUD", "ALCOHOLUD", "DRGUD", "BH"}) {
    hie::v1::RecordEnvelope record;
    record.add_sensitivity(category);
    EXPECT_TRUE(WithheldByGrant(record, grant)) << category;
  }
  hie::v1::DisclosureGrant deny_psy;
  deny_psy.add_withheld_categories("PSY");
  for (const char* category : {"MH", "PSYTHPN", "BH"}) {
    hie::v1::RecordEnvelope record;
    record.add_sensitivity(category);
    EXPECT_TRUE(WithheldByGrant(record, deny_psy)) << category;
  }
}

TEST(LabelerConfigTest, PracticeRulesMayNamePart2AndRxNorm) {
  hie::v1::LabellingConfig config;
  auto* rule = config.add_rules();
  rule->set_system(kRxNorm);
  rule->add_codes("1010600");
  rule->set_category("42CFRPart2");
  EXPECT_TRUE(Labeler::FromConfig(config).ok());
  rule->set_category("http://example.org|X");
  EXPECT_FALSE(Labeler::FromConfig(config).ok());
}

}  // namespace
}  // namespace hie::node
