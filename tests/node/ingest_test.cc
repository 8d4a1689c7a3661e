#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node/domain/fhir_ingest.h"
#include "node/domain/record_store.h"
#include "simdjson.h"

namespace hie::node {
namespace {

using ::hie::testing::StatusIs;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hie::v1::LabellingConfig config;
    auto labeler = Labeler::FromConfig(config);
    ASSERT_TRUE(labeler.ok()) << labeler.status();
    labeler_.emplace(*std::move(labeler));
    ingester_.emplace(&*labeler_, IngestOptions{.max_resource_bytes = 4096});
  }

  static std::string Entry(const std::string& full_url, const std::string& resource) {
    return absl::StrCat(R"({"fullUrl":")", full_url, R"(","resource":)", resource,
                        R"(,"request":{"method":"POST","url":"X"}})");
  }
  static std::string Bundle(const std::string& type, const std::vector<std::string>& entries) {
    return absl::StrCat(R"({"resourceType":"Bundle","type":")", type, R"(","entry":[)",
                        absl::StrJoin(entries, ","), "]}");
  }
  static std::string Patient(const std::string& id) {
    return absl::StrCat(R"({"resourceType":"Patient","id":")", id,
                        R"(","birthDate":"1984-06-02","name":[{"family":"Oyelaran"}]})");
  }
  static std::string Condition(const std::string& id, const std::string& subject,
                               const std::string& system, const std::string& code) {
    return absl::StrCat(R"({"resourceType":"Condition","id":")", id,
                        R"(","subject":{"reference":")", subject,
                        R"("},"code":{"coding":[{"system":")", system, R"(","code":")", code,
                        R"("}]},"onsetDateTime":"2020-01-02T10:00:00Z"})");
  }

  std::optional<Labeler> labeler_;
  std::optional<FhirIngester> ingester_;
};

TEST_F(IngestTest, SingleResourceWithPatient) {
  IngestBatch batch = ingester_->ParseJson(
      Condition("c1", "Patient/p1", "http://snomed.info/sct", "44054006"), "one.json");
  ASSERT_THAT(batch.problems, IsEmpty());
  ASSERT_EQ(batch.records.size(), 1u);
  EXPECT_EQ(batch.records[0].resource_type(), "Condition");
  EXPECT_EQ(batch.records[0].resource_id(), "c1");
  EXPECT_EQ(batch.records[0].patient_local_id(), "p1");
  EXPECT_THAT(batch.records[0].sensitivity(), IsEmpty());
}

TEST_F(IngestTest, AKeyTwiceInOneObjectIsRefused) {
  // Labelled by the first "code", meant by the last: refused, with the element's path.
  IngestBatch batch = ingester_->ParseJson(
      R"({"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p1"},)"
      R"("code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"Z00.00","code":"F11.20"}]}})",
      "dup.json");
  EXPECT_THAT(batch.records, IsEmpty());
  ASSERT_EQ(batch.problems.size(), 1u);
  EXPECT_EQ(batch.problems[0].path, "Condition.code.coding[0].code");
  EXPECT_THAT(batch.problems[0].message, ::testing::HasSubstr("twice"));
  // Past the small-object path too.
  std::string many = R"({"resourceType":"Patient","id":"p2","extension":[{)";
  for (int i = 0; i < 40; ++i) absl::StrAppend(&many, "\"k", i, "\":1,");
  absl::StrAppend(&many, R"("k7":2}]})");
  batch = ingester_->ParseJson(many, "many.json");
  ASSERT_EQ(batch.problems.size(), 1u);
  EXPECT_EQ(batch.problems[0].path, "Patient.extension[0].k7");
}

TEST_F(IngestTest, TransactionResolvesUrnUuidAndLabelsAndInherits) {
  std::string med =
      R"({"resourceType":"MedicationRequest","id":"m1","status":"active","intent":"order",
    "subject":{"reference":"urn:uuid:p-1"},"reasonReference":[{"reference":"urn:uuid:c-1"}],
    "requester":{"reference":"Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999"}})";
  std::string labelled = R"({"resourceType":"Observation","id":"o1","status":"final",
    "meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}]},
    "code":{"text":"note"},"subject":{"reference":"urn:uuid:p-1"}})";
  IngestBatch batch = ingester_->ParseJson(
      Bundle("transaction",
             {Entry("urn:uuid:p-1", Patient("p-1")),
              Entry("urn:uuid:c-1", Condition("c-1", "urn:uuid:p-1",
                                              "http://hl7.org/fhir/sid/icd-10-cm", "F10.20")),
              Entry("urn:uuid:m-1", med), Entry("urn:uuid:o-1", labelled)}),
      "synthea.json");
  ASSERT_THAT(batch.problems, IsEmpty())
      << batch.problems[0].path << ": " << batch.problems[0].message;
  ASSERT_EQ(batch.records.size(), 4u);
  std::map<std::string, hie::v1::RecordEnvelope> by_id;
  for (const auto& r : batch.records) by_id[r.resource_id()] = r;
  EXPECT_EQ(by_id["c-1"].patient_local_id(), "p-1");
  EXPECT_THAT(by_id["c-1"].sensitivity(), ElementsAre("ETH", "R"));
  // The medication for a substance-use condition inherits its label.
  EXPECT_THAT(by_id["m1"].sensitivity(), ElementsAre("ETH", "R"));
  EXPECT_THAT(by_id["o1"].sensitivity(), ElementsAre("PSY", "R"));
  EXPECT_THAT(by_id["p-1"].sensitivity(), IsEmpty());
}

TEST_F(IngestTest, TransactionIsAllOrNothingAndEveryProblemHasItsPath) {
  IngestBatch batch = ingester_->ParseJson(
      Bundle(
          "transaction",
          {Entry("urn:uuid:p-1", Patient("p-1")),
           Entry("urn:uuid:c-1",
                 Condition("c-1", "urn:uuid:nobody", "http://snomed.info/sct", "1")),
           Entry("urn:uuid:x", R"({"resourceType":"Spaceship","id":"x"})"),
           Entry("urn:uuid:o",
                 R"({"resourceType":"Observation","id":"o","status":"final","code":{}})"),
           Entry("urn:uuid:d", R"({"resourceType":"Patient","id":"d","birthDate":"1984-02-30"})")}),
      "bad.json");
  EXPECT_TRUE(batch.transaction_refused);
  EXPECT_THAT(batch.records, IsEmpty());
  std::vector<std::string> paths;
  for (const auto& p : batch.problems) {
    paths.push_back(p.path);
    EXPECT_EQ(p.source, "bad.json");
  }
  EXPECT_THAT(paths, ::testing::UnorderedElementsAre("Bundle.entry[1].resource.subject",
                                                     "Bundle.entry[1].resource.subject.reference",
                                                     "Bundle.entry[2].resource.resourceType",
                                                     "Bundle.entry[3].resource.subject",
                                                     "Bundle.entry[4].resource.birthDate"));
}

TEST_F(IngestTest, BatchTakesEachEntryOnItsOwn) {
  IngestBatch batch = ingester_->ParseJson(
      Bundle("batch", {Entry("urn:uuid:p-1", Patient("p-1")),
                       Entry("urn:uuid:x", R"({"resourceType":"Spaceship","id":"x"})")}),
      "batch.json");
  EXPECT_FALSE(batch.transaction_refused);
  ASSERT_EQ(batch.records.size(), 1u);
  ASSERT_EQ(batch.problems.size(), 1u);
  EXPECT_EQ(batch.problems[0].position, 1);
  EXPECT_THAT(batch.problems[0].message, HasSubstr("not a FHIR R4 resource type"));
}

TEST_F(IngestTest, NdjsonReportsLinesAndOversize) {
  std::string ndjson = absl::StrCat(
      Patient("p1"), "\r\n\n", "{not json\n",
      R"({"resourceType":"Patient","id":"p2","text":{"div":")", std::string(5000, 'x'), R"("}})",
      "\n", Condition("c1", "Patient/p1", "http://snomed.info/sct", "86406008"), "\n");
  IngestBatch batch = ingester_->ParseNdjson(ndjson, "export.ndjson");
  ASSERT_EQ(batch.records.size(), 2u);
  EXPECT_THAT(batch.records[1].sensitivity(), ElementsAre("HIV", "R"));
  ASSERT_EQ(batch.problems.size(), 2u);
  EXPECT_EQ(batch.problems[0].position, 3);
  EXPECT_THAT(batch.problems[0].message, HasSubstr("not valid JSON"));
  EXPECT_EQ(batch.problems[1].position, 4);
  EXPECT_THAT(batch.problems[1].message, HasSubstr("limit"));
  // urn:uuid references cannot resolve outside a Bundle.
  IngestBatch lone = ingester_->ParseNdjson(
      Condition("c2", "urn:uuid:p1", "http://snomed.info/sct", "1"), "x.ndjson");
  EXPECT_THAT(lone.records, IsEmpty());
  EXPECT_FALSE(lone.problems.empty());
}

TEST_F(IngestTest, IdsAreAssignedFromFullUrlOrGenerated) {
  IngestBatch batch = ingester_->ParseJson(
      Bundle("collection",
             {Entry("urn:uuid:abc-1", R"({"resourceType":"Organization","name":"x"})"),
              Entry("https://example.org/fhir/Organization/9",
                    R"({"resourceType":"Organization","name":"y"})")}),
      "c.json");
  ASSERT_EQ(batch.records.size(), 2u);
  EXPECT_EQ(batch.records[0].resource_id(), "abc-1");
  EXPECT_EQ(batch.records[1].resource_id().size(), 32u);
  EXPECT_EQ(batch.records[0].patient_local_id(), "");
}

TEST_F(IngestTest, CustomRulesAndRefusals) {
  hie::v1::LabellingConfig config;
  config.set_use_default_rules(false);
  auto* rule = config.add_rules();
  rule->set_system("http://www.nlm.nih.gov/research/umls/rxnorm");
  rule->add_codes("1010600");
  rule->set_category("ETH");
  ASSERT_OK_AND_ASSIGN(Labeler labeler, Labeler::FromConfig(config));
  EXPECT_EQ(labeler.rule_count(), 1u);
  rule->set_category("NOPE");
  EXPECT_THAT(Labeler::FromConfig(config), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Every Synthea bundle in the shared data: zero rejections, and what the store reads
// back is what was sent.
TEST_F(IngestTest, EverySyntheaBundleIsAcceptedAndReadBack) {
  const char* dir = std::getenv("HIE_SOURCE_DIR");
  std::filesystem::path base =
      std::filesystem::path(dir ? dir : HIE_TEST_SOURCE_DIR) / "../shared/data/fhir/synthea";
  if (!std::filesystem::exists(base)) GTEST_SKIP() << "shared Synthea data not present";
  hie::v1::LabellingConfig config;
  ASSERT_OK_AND_ASSIGN(Labeler labeler, Labeler::FromConfig(config));
  FhirIngester ingester(&labeler);
  std::string store_dir = ::testing::TempDir() + "hie-synthea-" + std::to_string(getpid());
  std::filesystem::remove_all(store_dir);
  ASSERT_OK_AND_ASSIGN(auto kv, store::KvStore::Open(store_dir));
  RecordStore store(kv.get(), Clock::Real());
  int files = 0;
  int64_t entries_sent = 0, records = 0;
  std::set<std::pair<std::string, std::string>> distinct;
  std::map<std::string, int64_t> labelled;
  simdjson::dom::parser counter;
  for (const auto& entry : std::filesystem::directory_iterator(base)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    simdjson::dom::element bundle = counter.parse(text);
    for (simdjson::dom::element e : bundle["entry"].get_array()) {
      ++entries_sent;
      distinct.emplace(std::string(std::string_view(e["resource"]["resourceType"])),
                       std::string(std::string_view(e["resource"]["id"])));
    }
    IngestBatch batch = ingester.ParseJson(text, entry.path().filename().string());
    for (const auto& p : batch.problems) {
      ADD_FAILURE() << p.source << " entry " << p.position << " " << p.path << ": " << p.message;
    }
    ++files;
    records += batch.records.size();
    for (const auto& r : batch.records) {
      for (const auto& s : r.sensitivity()) ++labelled[s];
    }
    ASSERT_OK(store.Put(std::move(batch.records)).status());
  }
  EXPECT_EQ(files, 26);
  EXPECT_EQ(records, entries_sent);
  int64_t read_back = 0;
  for (const auto& [type, id] : distinct) {
    ASSERT_OK_AND_ASSIGN(hie::v1::RecordEnvelope r, store.Get(type, id));
    EXPECT_FALSE(r.fhir_json().empty());
    ++read_back;
  }
  EXPECT_EQ(read_back, static_cast<int64_t>(distinct.size()));
  EXPECT_GT(labelled["HIV"], 0);
  EXPECT_GT(labelled["ETH"], 0);
  EXPECT_GT(labelled["SEX"], 0);
  kv.reset();
  std::filesystem::remove_all(store_dir);
}

}  // namespace
}  // namespace hie::node
