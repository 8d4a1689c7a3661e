#include "node/domain/merge.h"

#include "absl/strings/str_cat.h"
#include "common/crypto/hash.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node/domain/disclosure.h"
#include "simdjson.h"

namespace hie::node {
namespace {

hie::v1::RecordEnvelope Record(const std::string& org, const std::string& type,
                               const std::string& id, const std::string& json) {
  hie::v1::RecordEnvelope r;
  r.set_source_org(org);
  r.set_resource_type(type);
  r.set_resource_id(id);
  r.set_fhir_json(json);
  r.set_content_sha256(crypto::Sha256(json));
  r.mutable_last_updated()->set_seconds(1700000000);
  return r;
}

TEST(MergeTest, FoldsTrueDuplicatesKeepingEverySource) {
  std::string same =
      R"({"resourceType":"Immunization","id":"i1","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"140"}]},"occurrenceDateTime":"2020-10-01"})";
  std::string bp_a =
      R"({"resourceType":"Observation","id":"o-a","meta":{"versionId":"3","tag":[{"code":"x"}]},"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"effectiveDateTime":"2021-03-04T10:00:00Z","valueQuantity":{"value":120,"unit":"mm[Hg]"}})";
  std::string bp_b =
      R"({"resourceType":"Observation","id":"o-b","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"effectiveDateTime":"2021-03-04T10:00:00Z","valueQuantity":{"value":120,"unit":"mm[Hg]"},"note":[{"text":"entered at the clinic"}]})";
  std::string bp_other =
      R"({"resourceType":"Observation","id":"o-c","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"effectiveDateTime":"2021-03-05T10:00:00Z","valueQuantity":{"value":135,"unit":"mm[Hg]"}})";
  MergedBundle merged = MergeRecords(
      {Record("org-a", "Immunization", "i1", same), Record("org-b", "Immunization", "i1", same),
       Record("org-a", "Observation", "o-a", bp_a), Record("org-b", "Observation", "o-b", bp_b),
       Record("org-b", "Observation", "o-c", bp_other)});
  EXPECT_EQ(merged.entries, 3);
  EXPECT_EQ(merged.duplicates_folded, 2);
  simdjson::dom::parser parser;
  simdjson::dom::element bundle = parser.parse(merged.bundle_json);
  EXPECT_EQ(std::string_view(bundle["type"]), "searchset");
  int tagged_twice = 0;
  for (simdjson::dom::element entry : bundle["entry"].get_array()) {
    int sources = 0;
    for (simdjson::dom::element tag : entry["resource"]["meta"]["tag"].get_array()) {
      std::string_view system;
      if (!tag["system"].get_string().get(system) && system == kSourceOrgSystem) ++sources;
    }
    if (sources == 2) ++tagged_twice;
    EXPECT_GE(sources, 1);
  }
  EXPECT_EQ(tagged_twice, 2);
  // The practice's own meta survives beside the source tags.
  EXPECT_NE(merged.bundle_json.find("\"versionId\":\"3\""), std::string::npos);
}

// Found by merge_fuzz: a holder's record that is not a JSON object used to be copied
// into the Bundle as it was, making the whole answer invalid JSON.
TEST(MergeTest, LeavesOutRecordsThatAreNotJsonObjectsAndStaysValidJson) {
  std::string good = R"({"resourceType":"Condition","id":"c1"})";
  MergedBundle merged = MergeRecords(
      {Record("org-a", "Condition", "c1", good), Record("org-b", "Condition", "c2", ""),
       Record("org-b", "Condition", "c3", "not json"), Record("org-b", "Condition", "c4", "[1]")});
  EXPECT_EQ(merged.entries, 1);
  EXPECT_EQ(merged.unreadable, 3);
  simdjson::dom::parser parser;
  simdjson::dom::element bundle;
  ASSERT_EQ(parser.parse(merged.bundle_json).get(bundle), simdjson::SUCCESS) << merged.bundle_json;
  EXPECT_EQ(bundle["entry"].get_array().size(), 1u);
}

// The Bundle in pieces of any size is the same text as in one string, pieces are never
// longer than asked, and a record larger than a piece is cut across several.
TEST(BundleWriterTest, PiecesOfAnySizeJoinToTheWholeBundle) {
  std::vector<hie::v1::RecordEnvelope> records;
  records.push_back(Record("org-a", "Patient", "p1", R"({"resourceType":"Patient","id":"p1"})"));
  records.push_back(
      Record("org-b", "DocumentReference", "d1",
             absl::StrCat(R"({"resourceType":"DocumentReference","id":"d1","description":")",
                          std::string(5000, 'x'), R"("})")));
  records.push_back(Record("org-b", "Observation", "bad", "[1]"));
  std::string whole = MergeRecords(records).bundle_json;
  for (size_t piece : {size_t{1}, size_t{7}, size_t{1000}, size_t{1} << 20}) {
    BundleWriter writer(records);
    EXPECT_EQ(writer.entries(), 2);
    EXPECT_EQ(writer.unreadable(), 1);
    std::string joined;
    int pieces = 0;
    while (true) {
      std::string next;
      if (!writer.Next(piece, &next)) break;
      EXPECT_LE(next.size(), piece);
      EXPECT_FALSE(next.empty());
      joined += next;
      ++pieces;
    }
    EXPECT_EQ(joined, whole) << "pieces of " << piece;
    EXPECT_EQ(writer.bytes_written(), static_cast<int64_t>(whole.size()));
    if (piece == 1000) {
      EXPECT_GT(pieces, 5);
    }
  }
  BundleWriter empty({});
  std::string text;
  while (empty.Next(3, &text)) {
  }
  simdjson::dom::parser parser;
  simdjson::dom::element bundle;
  ASSERT_EQ(parser.parse(text).get(bundle), simdjson::SUCCESS) << text;
  EXPECT_EQ(int64_t(bundle["total"]), 0);
}

TEST(LeaveOutLargerTest, RemovesAndNamesRecordsAboveTheLimitKeepingTheOrder) {
  std::vector<hie::v1::RecordEnvelope> records;
  for (int i = 0; i < 150; ++i) {
    std::string id = absl::StrCat("o", i);
    std::string text = i % 2 == 0 ? std::string(50, 'x') : std::string(500, 'y');
    records.push_back(Record("org-b", "Observation", id,
                             absl::StrCat(R"({"resourceType":"Observation","id":")", id,
                                          R"(","note":")", text, R"("})")));
  }
  SkippedRecords skipped;
  LeaveOutLarger(&records, 200, &skipped);
  ASSERT_EQ(records.size(), 75u);
  EXPECT_EQ(records[0].resource_id(), "o0");
  EXPECT_EQ(records[74].resource_id(), "o148");
  EXPECT_EQ(skipped.count, 75);
  ASSERT_EQ(skipped.references.size(), 75u);
  EXPECT_EQ(skipped.references[0], "Observation/o1");
  // A holder's count adds up; only the first kMaxSkippedNamed are named.
  skipped.Add(40, std::vector<std::string>(40, "DocumentReference/d"));
  EXPECT_EQ(skipped.count, 115);
  EXPECT_EQ(skipped.references.size(), kMaxSkippedNamed);
}

TEST(DisclosureTest, ClinicalPeriodKeepsDatedRecordsInsideAndUndatedOnes) {
  hie::v1::Period period;
  period.mutable_start()->set_seconds(
      absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(2021, 1, 1), absl::UTCTimeZone())));
  period.mutable_end()->set_seconds(
      absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(2022, 1, 1), absl::UTCTimeZone())));
  auto dated = [](const std::string& when) {
    return Record("org-a", "Observation", "o",
                  R"({"resourceType":"Observation","effectiveDateTime":")" + when + "\"}");
  };
  EXPECT_FALSE(OutsidePeriod(dated("2021-06-01"), period));
  EXPECT_TRUE(OutsidePeriod(dated("2020-12-31"), period));
  EXPECT_TRUE(OutsidePeriod(dated("2022-01-01T00:00:00Z"), period));
  EXPECT_FALSE(
      OutsidePeriod(Record("org-a", "Patient", "p", R"({"resourceType":"Patient"})"), period));
  EXPECT_EQ(*ClinicalDate(R"({"performedPeriod":{"start":"2019-03-04"}})"),
            absl::FromCivil(absl::CivilDay(2019, 3, 4), absl::UTCTimeZone()));
  // The other ways FHIR R4 resources date themselves: a dated restriction catches them.
  for (const char* json :
       {R"({"onsetPeriod":{"start":"2019-03-04"}})", R"({"effectiveInstant":"2019-03-04T00:00:00Z"})",
        R"({"started":"2019-03-04"})", R"({"whenHandedOver":"2019-03-04"})",
        R"({"occurrencePeriod":{"start":"2019-03-04"}})", R"({"dateAsserted":"2019-03-04"})"}) {
    ASSERT_TRUE(ClinicalDate(json).has_value()) << json;
    EXPECT_EQ(*ClinicalDate(json), absl::FromCivil(absl::CivilDay(2019, 3, 4), absl::UTCTimeZone()))
        << json;
  }
}

}  // namespace
}  // namespace hie::node
