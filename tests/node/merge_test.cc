#include "node/domain/merge.h"

#include <map>
#include <set>

#include "absl/strings/match.h"
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

// Each entry's text as a parsed object, by fullUrl, from a Bundle's text.
std::map<std::string, std::string> EntriesByFullUrl(const std::string& bundle_json,
                                                    const std::string& mode) {
  std::map<std::string, std::string> out;
  simdjson::dom::parser parser;
  simdjson::dom::element bundle;
  EXPECT_EQ(parser.parse(bundle_json).get(bundle), simdjson::SUCCESS) << bundle_json;
  simdjson::dom::array entries;
  if (bundle["entry"].get_array().get(entries)) return out;
  for (simdjson::dom::element entry : entries) {
    std::string_view entry_mode, url;
    if (entry["search"]["mode"].get_string().get(entry_mode) || entry_mode != mode) continue;
    EXPECT_EQ(entry["fullUrl"].get_string().get(url), simdjson::SUCCESS);
    EXPECT_TRUE(out.emplace(std::string(url), simdjson::minify(entry["resource"])).second)
        << "fullUrl twice: " << url;
  }
  return out;
}

std::string PageText(BundleWriter& writer, BundlePage page) {
  writer.SelectPage(std::move(page));
  std::string text;
  while (writer.Next(100, &text)) {
  }
  return text;
}

// meta.source names the organisation an entry came from (the first, for a folded
// duplicate, replacing the holder's own meta.source); the tags still name every source.
TEST(BundleWriterTest, MetaSourceIsTheFirstSourceAndTheTagsKeepEveryOne) {
  std::string same =
      R"({"resourceType":"Condition","id":"c1","meta":{"source":"http://emr.example/x","versionId":"2"},"code":{"text":"asthma"}})";
  BundleWriter writer(
      {Record("org-b", "Condition", "c1", same), Record("org-a", "Condition", "c1", same),
       Record("org-c", "Patient", "p1", R"({"resourceType":"Patient","id":"p1"})")});
  ASSERT_EQ(writer.entries(), 2);
  EXPECT_EQ(writer.sources(0), (std::vector<std::string>{"org-a", "org-b"}));
  EXPECT_EQ(writer.sources(1), (std::vector<std::string>{"org-c"}));
  std::string text;
  while (writer.Next(1 << 20, &text)) {
  }
  simdjson::dom::parser parser;
  simdjson::dom::element bundle;
  ASSERT_EQ(parser.parse(text).get(bundle), simdjson::SUCCESS) << text;
  simdjson::dom::element condition = bundle["entry"].at(0)["resource"];
  EXPECT_EQ(std::string_view(condition["meta"]["source"]), "urn:hie:org:org-a");
  EXPECT_EQ(std::string_view(condition["meta"]["versionId"]), "2");
  EXPECT_EQ(condition["meta"]["tag"].get_array().size(), 2u);
  EXPECT_EQ(text.find("emr.example"), std::string::npos);
  simdjson::dom::element patient = bundle["entry"].at(1)["resource"];
  EXPECT_EQ(std::string_view(patient["meta"]["source"]), "urn:hie:org:org-c");
  EXPECT_EQ(std::string_view(patient["meta"]["tag"].at(0)["code"]), "org-c");
  EXPECT_EQ(SourceOrgUri("org-b"), "urn:hie:org:org-b");
}

// Two different records with one UUID id (two holders' versions of a resource) are two
// entries, and their fullUrls differ: a Provenance's target must name one of them.
TEST(BundleWriterTest, FullUrlsAreUniqueWhenRecordsShareAUuid) {
  const std::string uuid = "8f14e45f-ceea-467f-a0e6-2b1f0d5a7c11";
  BundleWriter writer(
      {Record(
           "org-a", "Observation", uuid,
           absl::StrCat(R"({"resourceType":"Observation","id":")", uuid, R"(","status":"final"})")),
       Record("org-b", "Observation", uuid,
              absl::StrCat(R"({"resourceType":"Observation","id":")", uuid,
                           R"(","status":"amended"})")),
       Record("org-b", "Observation", "o2", R"({"resourceType":"Observation","id":"o2"})")});
  ASSERT_EQ(writer.entries(), 3);
  std::set<std::string> urls;
  for (int64_t i = 0; i < writer.entries(); ++i) urls.insert(writer.full_url(i));
  EXPECT_EQ(urls.size(), 3u);
  EXPECT_TRUE(urls.contains(absl::StrCat("urn:uuid:", uuid)));
  EXPECT_TRUE(urls.contains(absl::StrCat("urn:hie:org-b:Observation/", uuid)));
  EXPECT_TRUE(urls.contains("urn:hie:org-b:Observation/o2"));
  std::string text;
  while (writer.Next(1 << 20, &text)) {
  }
  EXPECT_EQ(EntriesByFullUrl(text, "match").size(), 3u);
}

// Pages of any size together hold every entry of the whole Bundle exactly once, each as
// the whole Bundle has it; a page carries its links and its extra entries after the
// matches, and a page with nothing in it has no entry array.
TEST(BundleWriterTest, PagesTogetherHoldEveryEntryOnce) {
  std::vector<hie::v1::RecordEnvelope> records;
  for (int i = 0; i < 7; ++i) {
    std::string id = absl::StrCat("o", i);
    records.push_back(
        Record(i % 2 ? "org-a" : "org-b", "Observation", id,
               absl::StrCat(R"({"resourceType":"Observation","id":")", id, R"(","note":[{"text":")",
                            std::string(i * 300, 'n'), R"("}]})")));
  }
  const std::map<std::string, std::string> whole =
      EntriesByFullUrl(MergeRecords(records).bundle_json, "match");
  ASSERT_EQ(whole.size(), 7u);
  for (int64_t size : {1, 2, 3, 7, 10}) {
    BundleWriter writer(records);
    std::map<std::string, std::string> joined;
    for (int64_t begin = 0; begin < writer.entries(); begin += size) {
      BundlePage page;
      page.begin = begin;
      page.end = begin + size;
      page.links = {{"self", "https://node.example/p?x=1"}, {"next", "https://node.example/p?x=2"}};
      page.more_entries = {
          R"({"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational"}]},"search":{"mode":"outcome"}})"};
      std::string text = PageText(writer, page);
      EXPECT_EQ(writer.bytes_written(), static_cast<int64_t>(text.size()));
      simdjson::dom::parser parser;
      simdjson::dom::element bundle;
      ASSERT_EQ(parser.parse(text).get(bundle), simdjson::SUCCESS) << text;
      EXPECT_EQ(int64_t(bundle["total"]), 7);
      EXPECT_EQ(std::string_view(bundle["link"].at(1)["relation"]), "next");
      const size_t matches = std::min<int64_t>(size, 7 - begin);
      EXPECT_EQ(bundle["entry"].get_array().size(), matches + 1);
      EXPECT_EQ(std::string_view(bundle["entry"].at(matches)["search"]["mode"]), "outcome");
      for (auto& [url, resource] : EntriesByFullUrl(text, "match")) {
        EXPECT_TRUE(joined.emplace(url, resource).second) << url << " on two pages";
      }
    }
    EXPECT_EQ(joined, whole) << "pages of " << size;
  }
  BundleWriter writer(records);
  BundlePage empty;
  empty.begin = 7;
  empty.end = 9;
  std::string text = PageText(writer, empty);
  simdjson::dom::parser parser;
  simdjson::dom::element bundle;
  ASSERT_EQ(parser.parse(text).get(bundle), simdjson::SUCCESS) << text;
  EXPECT_EQ(int64_t(bundle["total"]), 7);
  simdjson::dom::element entry;
  EXPECT_EQ(bundle["entry"].get(entry), simdjson::NO_SUCH_FIELD) << text;
}

// One Provenance per organisation of the page's entries, targeting exactly its entries
// (a folded duplicate for each of its sources), recorded when the answer was assembled,
// naming the organisation and the query; the same page gives the same text.
TEST(ProvenanceTest, OnePerSourceTargetingItsEntriesOnThePage) {
  std::string same = R"({"resourceType":"Condition","id":"c1","code":{"text":"asthma"}})";
  BundleWriter writer(
      {Record("org-a", "Condition", "c1", same), Record("org-b", "Condition", "c1", same),
       Record("org-b", "Observation", "o1", R"({"resourceType":"Observation","id":"o1"})"),
       Record("org-c", "Observation", "o2", R"({"resourceType":"Observation","id":"o2"})")});
  ASSERT_EQ(writer.entries(), 3);
  const absl::Time recorded = absl::FromUnixSeconds(1700000000);
  std::vector<std::string> all = ProvenanceEntries(writer, 0, 3, recorded, "q-1", "org-a");
  ASSERT_EQ(all.size(), 3u);
  std::map<std::string, std::set<std::string>> targets;
  std::set<std::string> full_urls;
  simdjson::dom::parser parser;
  for (const std::string& text : all) {
    simdjson::dom::element entry;
    ASSERT_EQ(parser.parse(text).get(entry), simdjson::SUCCESS) << text;
    EXPECT_EQ(std::string_view(entry["search"]["mode"]), "include");
    std::string url{std::string_view(entry["fullUrl"])};
    EXPECT_TRUE(absl::StartsWith(url, "urn:uuid:")) << url;
    EXPECT_EQ(url.size(), 9u + 36u) << url;
    full_urls.insert(url);
    simdjson::dom::element p = entry["resource"];
    EXPECT_EQ(std::string_view(p["resourceType"]), "Provenance");
    EXPECT_EQ(std::string_view(p["recorded"]), "2023-11-14T22:13:20Z");
    // Made by the node that assembled the answer, and saying so as every entry does.
    EXPECT_EQ(std::string_view(p["meta"]["source"]), "urn:hie:org:org-a");
    EXPECT_EQ(std::string_view(p["meta"]["tag"].at(0)["system"]), kSourceOrgSystem);
    EXPECT_EQ(std::string_view(p["meta"]["tag"].at(0)["code"]), "org-a");
    simdjson::dom::element who = p["agent"].at(0)["who"];
    EXPECT_EQ(std::string_view(who["identifier"]["system"]), kOrgIdentifierSystem);
    std::string org{std::string_view(who["identifier"]["value"])};
    EXPECT_EQ(std::string_view(who["display"]), org);
    EXPECT_EQ(std::string_view(p["entity"].at(0)["what"]["identifier"]["value"]), "q-1");
    for (simdjson::dom::element t : p["target"].get_array()) {
      targets[org].insert(std::string(std::string_view(t["reference"])));
    }
  }
  EXPECT_EQ(full_urls.size(), 3u);
  EXPECT_EQ(targets["org-a"], (std::set<std::string>{writer.full_url(0)}));
  EXPECT_EQ(targets["org-b"], (std::set<std::string>{writer.full_url(0), writer.full_url(1)}));
  EXPECT_EQ(targets["org-c"], (std::set<std::string>{writer.full_url(2)}));
  // Only the page's entries and their sources; the same page, the same text.
  std::vector<std::string> last = ProvenanceEntries(writer, 2, 3, recorded, "q-1", "org-a");
  ASSERT_EQ(last.size(), 1u);
  EXPECT_NE(last[0].find("org-c"), std::string::npos);
  EXPECT_EQ(last[0].find("org-b"), std::string::npos);
  EXPECT_EQ(ProvenanceEntries(writer, 2, 3, recorded, "q-1", "org-a"), last);
  EXPECT_NE(ProvenanceEntries(writer, 2, 3, recorded, "q-2", "org-a"), last);
  EXPECT_TRUE(ProvenanceEntries(writer, 3, 9, recorded, "q-1", "org-a").empty());
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
       {R"({"onsetPeriod":{"start":"2019-03-04"}})",
        R"({"effectiveInstant":"2019-03-04T00:00:00Z"})", R"({"started":"2019-03-04"})",
        R"({"whenHandedOver":"2019-03-04"})", R"({"occurrencePeriod":{"start":"2019-03-04"}})",
        R"({"dateAsserted":"2019-03-04"})"}) {
    ASSERT_TRUE(ClinicalDate(json).has_value()) << json;
    EXPECT_EQ(*ClinicalDate(json), absl::FromCivil(absl::CivilDay(2019, 3, 4), absl::UTCTimeZone()))
        << json;
  }
}

}  // namespace
}  // namespace hie::node
