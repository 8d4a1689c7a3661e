#include "node/domain/record_search.h"

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::node {
namespace {

using ::hie::testing::IsOk;
using ::hie::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

class RecordSearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "hie-record-search-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    ASSERT_OK_AND_ASSIGN(kv_, store::KvStore::Open(dir_));
    records_ = std::make_unique<RecordStore>(kv_.get(), &clock_);
    search_ = std::make_unique<RecordSearch>(records_.get(), &clock_, std::string(32, 'k'));
  }
  void TearDown() override {
    search_.reset();
    records_.reset();
    kv_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Put(const std::string& type, const std::string& id, const std::string& patient,
           const std::string& json) {
    hie::v1::RecordEnvelope r;
    r.set_resource_type(type);
    r.set_resource_id(id);
    r.set_patient_local_id(patient);
    r.set_fhir_json(json);
    ASSERT_OK(records_->Put({r}).status());
  }

  void Delete(const std::string& type, const std::string& id) {
    hie::v1::RecordEnvelope r;
    r.set_resource_type(type);
    r.set_resource_id(id);
    r.set_deleted(true);
    ASSERT_OK(records_->Put({r}).status());
  }

  // "family=guz&given=jose" as parameters (no percent-decoding: tests write them plain).
  static std::vector<SearchParam> Params(const std::string& query) {
    std::vector<SearchParam> out;
    for (absl::string_view pair : absl::StrSplit(query, '&', absl::SkipEmpty())) {
      std::vector<std::string> nv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
      out.push_back({nv[0], nv.size() > 1 ? nv[1] : ""});
    }
    return out;
  }

  absl::StatusOr<SearchPage> Page(const std::string& type, const std::string& query) {
    absl::StatusOr<SearchQuery> q = SearchQuery::Parse(type, Params(query));
    if (!q.ok()) return q.status();
    return search_->Run(*q);
  }

  // The ids of a first page's matches, in order; "error: ..." when the search fails.
  std::vector<std::string> Ids(const std::string& type, const std::string& query) {
    absl::StatusOr<SearchPage> page = Page(type, query);
    if (!page.ok()) return {absl::StrCat("error: ", page.status().message())};
    std::vector<std::string> ids;
    for (const auto& r : page->matches) ids.push_back(r.resource_id());
    return ids;
  }

  absl::Status Error(const std::string& type, const std::string& query) {
    return Page(type, query).status();
  }

  // Follows next cursors from the first page to the last; `between` runs after each page.
  std::vector<std::vector<std::string>> AllPages(const std::string& type, const std::string& query,
                                                 const std::function<void(int)>& between = {}) {
    std::vector<std::vector<std::string>> pages;
    std::string cursor;
    for (int n = 0; n < 50; ++n) {
      std::string q = cursor.empty() ? query : absl::StrCat(query, "&_cursor=", cursor);
      absl::StatusOr<SearchPage> page = Page(type, q);
      EXPECT_THAT(page, IsOk());
      if (!page.ok()) break;
      std::vector<std::string> ids;
      for (const auto& r : page->matches) ids.push_back(r.resource_id());
      pages.push_back(ids);
      if (page->next_cursor.empty()) break;
      cursor = page->next_cursor;
      if (between) between(n);
    }
    return pages;
  }

  std::string dir_;
  hie::testing::FakeClock clock_;
  std::unique_ptr<store::KvStore> kv_;
  std::unique_ptr<RecordStore> records_;
  std::unique_ptr<RecordSearch> search_;
};

class PatientSearchTest : public RecordSearchTest {
 protected:
  void SetUp() override {
    RecordSearchTest::SetUp();
    Put("Patient", "p1", "p1", R"({"resourceType":"Patient","id":"p1",
        "identifier":[{"system":"urn:mrn","value":"111"}],
        "name":[{"family":"Guzmán","given":["Ángela"]}],"gender":"female",
        "birthDate":"1989-06-16"})");
    Put("Patient", "p2", "p2", R"({"resourceType":"Patient","id":"p2",
        "identifier":[{"system":"urn:ssn","value":"999"},{"system":"urn:mrn","value":"222"}],
        "name":[{"family":"Gutierrez","given":["José","María"],"prefix":["Mr."]}],
        "gender":"male","birthDate":"1974-07-05"})");
    Put("Patient", "p3", "p3", R"({"resourceType":"Patient","id":"p3",
        "identifier":[{"value":"333"}],
        "name":[{"family":"O'Brien","given":["Ann"],"text":"Ann O'Brien"}],
        "gender":"female","birthDate":"1989"})");
  }
};

TEST_F(PatientSearchTest, StringsIgnoreCaseAndAccentsUnlessExact) {
  EXPECT_THAT(Ids("Patient", "family=guz"), ElementsAre("p1"));
  EXPECT_THAT(Ids("Patient", "family=GUZMAN"), ElementsAre("p1"));
  EXPECT_THAT(Ids("Patient", "family=Guzmán"), ElementsAre("p1"));
  EXPECT_THAT(Ids("Patient", "family=gu"), ElementsAre("p1", "p2"));
  EXPECT_THAT(Ids("Patient", "family=zman"), IsEmpty());  // starts-with, not anywhere
  EXPECT_THAT(Ids("Patient", "family:exact=Guzmán"), ElementsAre("p1"));
  EXPECT_THAT(Ids("Patient", "family:exact=guzmán"), IsEmpty());
  EXPECT_THAT(Ids("Patient", "family:exact=Guzman"), IsEmpty());
  EXPECT_THAT(Ids("Patient", "family:exact=Guzm"), IsEmpty());
  EXPECT_THAT(Ids("Patient", "family:contains=IE"), ElementsAre("p2", "p3"));
  EXPECT_THAT(Ids("Patient", "family:contains=RIE"), ElementsAre("p3"));
  EXPECT_THAT(Ids("Patient", "family:contains=ZMÁ"), ElementsAre("p1"));
  EXPECT_THAT(Ids("Patient", "given=jose"), ElementsAre("p2"));
  EXPECT_THAT(Ids("Patient", "given=maria"), ElementsAre("p2"));  // the second given name
  EXPECT_THAT(Ids("Patient", "given=angela"), ElementsAre("p1"));
  EXPECT_THAT(Ids("Patient", "given=ann"), ElementsAre("p3"));
  // name: any part, prefix and text included.
  EXPECT_THAT(Ids("Patient", "name=mr"), ElementsAre("p2"));
  EXPECT_THAT(Ids("Patient", "name=ann o"), ElementsAre("p3"));
  EXPECT_THAT(Ids("Patient", "name=o'b"), ElementsAre("p3"));
  // Decomposed accents (e + U+0301) fold as composed ones do.
  Put("Patient", "p9", "p9",
      "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"Reme\xcc\x81ny\"}]}");
  EXPECT_THAT(Ids("Patient", "family=remény"), ElementsAre("p9"));
  EXPECT_THAT(Ids("Patient", "family=REMENY"), ElementsAre("p9"));
}

TEST_F(PatientSearchTest, OrWithinAParameterAndAcrossRepeats) {
  EXPECT_THAT(Ids("Patient", "name=guz,o'b"), ElementsAre("p1", "p3"));
  EXPECT_THAT(Ids("Patient", "family=gu&given=jose"), ElementsAre("p2"));
  EXPECT_THAT(Ids("Patient", "family=gu&family=guz"), ElementsAre("p1"));
  EXPECT_THAT(Ids("Patient", "family=gu&gender=female"), ElementsAre("p1"));
  // An escaped comma is part of the value, not an OR.
  Put("Patient", "p4", "p4",
      R"({"resourceType":"Patient","id":"p4","name":[{"family":"Smith, Jr"}]})");
  EXPECT_THAT(Ids("Patient", R"(family=smith\, j)"), ElementsAre("p4"));
  EXPECT_THAT(Ids("Patient", R"(family=smith\,x)"), IsEmpty());
}

TEST_F(PatientSearchTest, TokensByCodeSystemOrBoth) {
  EXPECT_THAT(Ids("Patient", "identifier=urn:mrn|111"), ElementsAre("p1"));
  EXPECT_THAT(Ids("Patient", "identifier=111"), ElementsAre("p1"));
  EXPECT_THAT(Ids("Patient", "identifier=urn:mrn|"), ElementsAre("p1", "p2"));
  EXPECT_THAT(Ids("Patient", "identifier=|333"), ElementsAre("p3"));
  EXPECT_THAT(Ids("Patient", "identifier=|111"), IsEmpty());
  EXPECT_THAT(Ids("Patient", "identifier=urn:ssn|111"), IsEmpty());
  EXPECT_THAT(Ids("Patient", "identifier=urn:ssn|999,333"), ElementsAre("p2", "p3"));
  EXPECT_THAT(Ids("Patient", "gender=female"), ElementsAre("p1", "p3"));
  EXPECT_THAT(Ids("Patient", "gender=http://hl7.org/fhir/administrative-gender|male"),
              ElementsAre("p2"));
  EXPECT_THAT(Ids("Patient", "gender=|male"), IsEmpty());   // gender's codes have a system
  EXPECT_THAT(Ids("Patient", "gender=Female"), IsEmpty());  // codes are exact
  EXPECT_THAT(Ids("Patient", "_id=p2"), ElementsAre("p2"));
  EXPECT_THAT(Ids("Patient", "_id=p3,p1,nobody"), ElementsAre("p1", "p3"));
  EXPECT_THAT(Ids("Patient", "_id=p3&gender=male"), IsEmpty());
  // An escaped | is part of the code.
  Put("Patient", "p9", "p9",
      R"({"resourceType":"Patient","identifier":[{"system":"urn:x","value":"a|b"}]})");
  EXPECT_THAT(Ids("Patient", R"(identifier=urn:x|a\|b)"), ElementsAre("p9"));
  EXPECT_THAT(Ids("Patient", R"(identifier=a\|b)"), ElementsAre("p9"));
  EXPECT_THAT(Ids("Patient", R"(identifier=urn:x|a)"), IsEmpty());
}

TEST_F(PatientSearchTest, BirthdateByPrecision) {
  EXPECT_THAT(Ids("Patient", "birthdate=1989"), ElementsAre("p1", "p3"));
  // A day does not contain a birth date known to the year only.
  EXPECT_THAT(Ids("Patient", "birthdate=1989-06-16"), ElementsAre("p1"));
  EXPECT_THAT(Ids("Patient", "birthdate=1989-06"), ElementsAre("p1"));
  EXPECT_THAT(Ids("Patient", "birthdate=ge1980"), ElementsAre("p1", "p3"));
  EXPECT_THAT(Ids("Patient", "birthdate=lt1980"), ElementsAre("p2"));
  EXPECT_THAT(Ids("Patient", "_sort=birthdate"), ElementsAre("p2", "p3", "p1"));
  EXPECT_THAT(Ids("Patient", "_sort=-birthdate"), ElementsAre("p1", "p3", "p2"));
}

class ObservationSearchTest : public RecordSearchTest {
 protected:
  void SetUp() override {
    RecordSearchTest::SetUp();
    Put("Observation", "o1", "p1", R"({"resourceType":"Observation",
        "effectiveDateTime":"2020-03-15T10:30:00Z"})");
    Put("Observation", "o2", "p1", R"({"resourceType":"Observation",
        "effectivePeriod":{"start":"2020-01-01","end":"2020-06-30"}})");
    Put("Observation", "o3", "p1",
        R"({"resourceType":"Observation","effectiveDateTime":"2021-01-01"})");
    Put("Observation", "o4", "p1", R"({"resourceType":"Observation"})");
    Put("Observation", "o5", "p1", R"({"resourceType":"Observation",
        "effectiveInstant":"2019-12-31T23:59:59.500Z"})");
  }
};

TEST_F(ObservationSearchTest, DatePrefixesCompareRanges) {
  EXPECT_THAT(Ids("Observation", "date=2020"), ElementsAre("o1", "o2"));
  EXPECT_THAT(Ids("Observation", "date=eq2020"), ElementsAre("o1", "o2"));
  EXPECT_THAT(Ids("Observation", "date=2020-03"), ElementsAre("o1"));
  EXPECT_THAT(Ids("Observation", "date=2020-03-15T10:30Z"), ElementsAre("o1"));
  EXPECT_THAT(Ids("Observation", "date=2020-03-15T10:30:00Z"), ElementsAre("o1"));
  EXPECT_THAT(Ids("Observation", "date=2020-03-15T12:30:00+02:00"), ElementsAre("o1"));
  EXPECT_THAT(Ids("Observation", "date=2020-03-15T10:30"), ElementsAre("o1"));  // UTC
  EXPECT_THAT(Ids("Observation", "date=2020-03-15T10:31Z"), IsEmpty());
  // A record without the element matches no date, ne included.
  EXPECT_THAT(Ids("Observation", "date=ne2020"), ElementsAre("o3", "o5"));
  EXPECT_THAT(Ids("Observation", "date=gt2020-03-15"), ElementsAre("o2", "o3"));
  EXPECT_THAT(Ids("Observation", "date=lt2020-01-01"), ElementsAre("o5"));
  EXPECT_THAT(Ids("Observation", "date=ge2020-03-15"), ElementsAre("o1", "o2", "o3"));
  EXPECT_THAT(Ids("Observation", "date=le2020-01-01"), ElementsAre("o5"));
  EXPECT_THAT(Ids("Observation", "date=le2020-03-15"), ElementsAre("o1", "o2", "o5"));
  EXPECT_THAT(Ids("Observation", "date=sa2020-06-30"), ElementsAre("o3"));
  EXPECT_THAT(Ids("Observation", "date=eb2020-01-01"), ElementsAre("o5"));
  EXPECT_THAT(Ids("Observation", "date=eb2020-03-15"), ElementsAre("o5"));
  // AND of two, OR of two.
  EXPECT_THAT(Ids("Observation", "date=ge2020&date=lt2021"), ElementsAre("o1", "o2"));
  EXPECT_THAT(Ids("Observation", "date=2019,2021"), ElementsAre("o3", "o5"));
}

TEST_F(ObservationSearchTest, BadDatesAndPrefixesAreRefused) {
  EXPECT_THAT(Error("Observation", "date=ap2020"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ap")));
  EXPECT_THAT(Error("Observation", "date=xx2020"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown prefix")));
  EXPECT_THAT(Error("Observation", "date=2020-13"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a date")));
  EXPECT_THAT(Error("Observation", "date=20"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Error("Observation", "date=2021-02-29"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Error("Observation", "date=ge"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Error("Observation", "date=2020,"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty value")));
  EXPECT_THAT(Error("Observation", "date:exact=2020"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("modifier :exact")));
}

TEST_F(RecordSearchTest, ClinicalTypesByPatientCodeCategoryAndTheirDates) {
  const std::string hr = R"("code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]})";
  const std::string bp = R"("code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]})";
  const std::string vital =
      R"("category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}])";
  const std::string lab =
      R"("category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}])";
  Put("Observation", "hr", "p1",
      absl::StrCat(R"({"resourceType":"Observation","subject":{"reference":"Patient/p1"},)", hr,
                   ",", vital, "}"));
  Put("Observation", "bp", "p2",
      absl::StrCat(R"({"resourceType":"Observation","subject":{"reference":"Patient/p2"},)", bp,
                   ",", vital, "}"));
  Put("Observation", "glucose", "p1",
      absl::StrCat(R"({"resourceType":"Observation","code":{"coding":[{"code":"local-7"}]},)", lab,
                   "}"));
  EXPECT_THAT(Ids("Observation", "code=http://loinc.org|8867-4"), ElementsAre("hr"));
  EXPECT_THAT(Ids("Observation", "code=8867-4"), ElementsAre("hr"));
  EXPECT_THAT(Ids("Observation", "code=http://loinc.org|"), ElementsAre("bp", "hr"));
  EXPECT_THAT(Ids("Observation", "code=|local-7"), ElementsAre("glucose"));
  EXPECT_THAT(Ids("Observation", "code=|8867-4"), IsEmpty());
  EXPECT_THAT(Ids("Observation", "category=vital-signs"), ElementsAre("bp", "hr"));
  EXPECT_THAT(Ids("Observation",
                  "category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"),
              ElementsAre("glucose"));
  EXPECT_THAT(Ids("Observation", "patient=p1"), ElementsAre("glucose", "hr"));
  EXPECT_THAT(Ids("Observation", "patient=Patient/p1"), ElementsAre("glucose", "hr"));
  EXPECT_THAT(Ids("Observation", "patient=https://emr.example/fhir/Patient/p2"), ElementsAre("bp"));
  EXPECT_THAT(Ids("Observation", "subject=Patient/p2"), ElementsAre("bp"));
  EXPECT_THAT(Ids("Observation", "subject:Patient=p2"), ElementsAre("bp"));
  EXPECT_THAT(Ids("Observation", "patient=p1,p2"), ElementsAre("bp", "glucose", "hr"));
  EXPECT_THAT(Ids("Observation", "patient=p1&category=vital-signs"), ElementsAre("hr"));
  EXPECT_THAT(Ids("Observation", "patient=p1&patient=p2"), IsEmpty());
  EXPECT_THAT(Ids("Observation", "patient=p3"), IsEmpty());

  // Condition: onset, else the recorded date.
  Put("Condition", "c1", "p1",
      R"({"resourceType":"Condition","onsetDateTime":"2015-04-01","recordedDate":"2017-01-01",
          "code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006"}]},
          "category":[{"coding":[{"code":"problem-list-item"}]}]})");
  Put("Condition", "c2", "p1", R"({"resourceType":"Condition","recordedDate":"2016-02-02"})");
  EXPECT_THAT(Ids("Condition", "date=2015"), ElementsAre("c1"));
  EXPECT_THAT(Ids("Condition", "date=2016"), ElementsAre("c2"));
  EXPECT_THAT(Ids("Condition", "onset-date=2016"), IsEmpty());
  EXPECT_THAT(Ids("Condition", "recorded-date=2017"), ElementsAre("c1"));
  EXPECT_THAT(Ids("Condition", "code=http://snomed.info/sct|44054006"), ElementsAre("c1"));
  EXPECT_THAT(Ids("Condition", "category=problem-list-item"), ElementsAre("c1"));
  EXPECT_THAT(Ids("Condition", "_sort=date"), ElementsAre("c1", "c2"));  // 2015 before 2016

  // Encounter.period, MedicationRequest.authoredOn, Immunization's vaccine code,
  // AllergyIntolerance's plain category codes.
  Put("Encounter", "e1", "p1",
      R"({"resourceType":"Encounter","period":{"start":"2019-05-01T08:00:00Z","end":"2019-05-03T12:00:00Z"},
          "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP"}})");
  EXPECT_THAT(Ids("Encounter", "date=2019-05"), ElementsAre("e1"));
  EXPECT_THAT(Ids("Encounter", "date=2019-05-02"), IsEmpty());  // the stay is longer than a day
  EXPECT_THAT(Ids("Encounter", "date=le2019-05-02"), ElementsAre("e1"));
  EXPECT_THAT(Ids("Encounter", "class=IMP"), ElementsAre("e1"));
  Put("MedicationRequest", "m1", "p1",
      R"({"resourceType":"MedicationRequest","authoredOn":"2018-07-04",
          "medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"313782"}]}})");
  EXPECT_THAT(Ids("MedicationRequest", "date=2018&code=313782"), ElementsAre("m1"));
  Put("Immunization", "i1", "p1",
      R"({"resourceType":"Immunization","occurrenceDateTime":"2016-10-10T10:00:00-04:00",
          "vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"140"}]}})");
  EXPECT_THAT(Ids("Immunization", "vaccine-code=140&date=2016-10-10"), ElementsAre("i1"));
  Put("AllergyIntolerance", "a1", "p1",
      R"({"resourceType":"AllergyIntolerance","category":["food"],"recordedDate":"2010-01-01"})");
  EXPECT_THAT(Ids("AllergyIntolerance", "category=food"), ElementsAre("a1"));
  EXPECT_THAT(
      Ids("AllergyIntolerance", "category=http://hl7.org/fhir/allergy-intolerance-category|food"),
      ElementsAre("a1"));
  EXPECT_THAT(Ids("AllergyIntolerance", "category=medication"), IsEmpty());
}

TEST_F(RecordSearchTest, ParametersATypeDoesNotDefineAreRefused) {
  EXPECT_THAT(Error("Immunization", "code=140"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown search parameter code for Immunization")));
  EXPECT_THAT(Error("Immunization", "subject=p1"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Error("Encounter", "code=x"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Error("Patient", "date=2020"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Error("Patient", "patient=p1"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Error("Organization", "name=x"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("it answers _id")));
  EXPECT_THAT(Error("Observation", "_summary=count"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("_summary")));
  EXPECT_THAT(Error("Observation", "_revinclude=Provenance:target"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Error("Observation", "patient=Group/1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Patient/<id>")));
  EXPECT_THAT(Error("Observation", "patient=a b"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Error("Observation", "patient:Group=1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("takes :Patient")));
  EXPECT_THAT(Error("Patient", "family:sounds=x"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(":exact or :contains")));
  EXPECT_THAT(Error("Observation", "code:text=x"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("takes no modifier")));
  EXPECT_THAT(Error("Patient", "family="),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  EXPECT_THAT(Error("Patient", "_count=-1"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Error("Patient", "_count=ten"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Error("Patient", "_count=1&_count=2"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("once")));
  EXPECT_THAT(Error("Patient", "_sort=family"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("_id, birthdate")));
  EXPECT_THAT(Error("Observation", "_sort=date,_id"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Error("Observation", "_sort=date&_sort=_id"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Error("Observation", "_include=Encounter:patient"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("Observation:patient or Observation:subject")));
  EXPECT_THAT(Error("Observation", "_include=Observation:code"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Error("Patient", "_include=Patient:organization"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("takes no _include")));
  EXPECT_THAT(Error("Observations", "code=1"), StatusIs(absl::StatusCode::kNotFound));
  // What the table promises is what Parse takes.
  for (const std::string& type : SearchableTypes()) {
    for (const SearchParamInfo& p : SearchParamsFor(type)) {
      std::string value = p.type == "date" ? "2020" : p.type == "reference" ? "p1" : "x";
      EXPECT_OK(SearchQuery::Parse(type, {{p.name, value}}).status()) << type << " " << p.name;
    }
  }
}

TEST_F(RecordSearchTest, CountIsCappedAndRepeatedInLinks) {
  ASSERT_OK_AND_ASSIGN(SearchQuery q,
                       SearchQuery::Parse("Patient", {{"family", "a"}, {"_count", "5000"}}));
  EXPECT_EQ(q.count(), SearchQuery::kMaxCount);
  std::vector<std::string> link;
  for (const SearchParam& p : q.LinkParams()) link.push_back(p.name + "=" + p.value);
  EXPECT_THAT(link, ElementsAre("family=a", "_count=1000"));
  ASSERT_OK_AND_ASSIGN(q, SearchQuery::Parse("Patient", {{"family", "a"}, {"_cursor", "xyz"}}));
  EXPECT_EQ(q.count(), SearchQuery::kDefaultCount);
  EXPECT_EQ(q.cursor(), "xyz");
  link.clear();
  for (const SearchParam& p : q.LinkParams()) link.push_back(p.name + "=" + p.value);
  EXPECT_THAT(link, ElementsAre("family=a", "_count=50"));
}

TEST_F(RecordSearchTest, SortsAndPagesByDateAndById) {
  // Ids in another order than the dates; "none" has no date.
  const std::map<std::string, std::string> dates = {{"f", "2020-01-01"}, {"b", "2020-01-02"},
                                                    {"e", "2020-01-03"}, {"a", "2020-01-04"},
                                                    {"d", "2020-01-05"}, {"c", "2020-01-05"}};
  for (const auto& [id, date] : dates) {
    Put("Procedure", id, "p1",
        absl::StrCat(R"({"resourceType":"Procedure","performedDateTime":")", date, R"("})"));
  }
  Put("Procedure", "none", "p1", R"({"resourceType":"Procedure"})");
  using Pages = std::vector<std::vector<std::string>>;
  EXPECT_EQ(AllPages("Procedure", "_sort=date&_count=3"),
            (Pages{{"f", "b", "e"}, {"a", "c", "d"}, {"none"}}));
  EXPECT_EQ(AllPages("Procedure", "_sort=-date&_count=3"),
            (Pages{{"c", "d", "a"}, {"e", "b", "f"}, {"none"}}));
  EXPECT_EQ(AllPages("Procedure", "_count=4"), (Pages{{"a", "b", "c", "d"}, {"e", "f", "none"}}));
  EXPECT_EQ(AllPages("Procedure", "_sort=_id&_count=7"),
            (Pages{{"a", "b", "c", "d", "e", "f", "none"}}));
  EXPECT_EQ(AllPages("Procedure", "patient=p1&_sort=-_id&_count=5"),
            (Pages{{"none", "f", "e", "d", "c"}, {"b", "a"}}));
  ASSERT_OK_AND_ASSIGN(SearchPage page, Page("Procedure", "_sort=date&_count=2"));
  EXPECT_EQ(page.total, 7);
  EXPECT_FALSE(page.next_cursor.empty());
  ASSERT_OK_AND_ASSIGN(page, Page("Procedure", "date=2020-01-05&_count=0"));
  EXPECT_EQ(page.total, 2);
  EXPECT_THAT(page.matches, IsEmpty());
  EXPECT_TRUE(page.next_cursor.empty());
}

// Keyset paging by id: what is added, changed or deleted between pages makes no record
// repeat or go missing.
TEST_F(RecordSearchTest, PagesByIdStayTrueAcrossWrites) {
  for (const char* id : {"a", "c", "e", "g", "i"}) {
    Put("Observation", id, "p1",
        absl::StrCat(R"({"resourceType":"Observation","id":")", id, "\"}"));
  }
  std::vector<std::vector<std::string>> pages =
      AllPages("Observation", "patient=p1&_count=2", [&](int n) {
        if (n != 0) return;
        Put("Observation", "b", "p1", R"({"resourceType":"Observation","note":"before"})");
        Put("Observation", "h", "p1", R"({"resourceType":"Observation","note":"after"})");
        Put("Observation", "g", "p1", R"({"resourceType":"Observation","note":"changed"})");
        Delete("Observation", "e");
      });
  std::vector<std::string> all;
  for (const auto& page : pages) all.insert(all.end(), page.begin(), page.end());
  // b sorts before the cursor: not seen. e was deleted first. h comes in its place.
  EXPECT_THAT(all, ElementsAre("a", "c", "g", "h", "i"));
}

// Keyset paging by date: a record whose date changes between pages keeps the place its
// version at the start of the paging had, so it neither repeats nor goes missing; a new
// record comes in its place; a deleted one goes.
TEST_F(RecordSearchTest, PagesByDateStayTrueAcrossWrites) {
  auto observation = [&](const std::string& id, const std::string& date) {
    Put("Observation", id, "p1",
        absl::StrCat(R"({"resourceType":"Observation","effectiveDateTime":")", date, R"("})"));
  };
  for (int day = 1; day <= 6; ++day) {
    observation(absl::StrCat("r", day), absl::StrCat("2020-01-0", day));
  }
  // The paging starts well after these writes.
  clock_.Advance(absl::Minutes(10));
  std::vector<std::vector<std::string>> pages =
      AllPages("Observation", "_sort=date&_count=2", [&](int n) {
        if (n != 0) return;
        observation("r2", "2020-01-09");            // returned already: moves ahead of the cursor
        observation("r4", "2019-12-01");            // not yet returned: moves behind the cursor
        observation("r7", "2020-01-05T12:00:00Z");  // new, after the cursor
        observation("r0", "2019-01-01");            // new, before the cursor
        Delete("Observation", "r6");
      });
  using Pages = std::vector<std::vector<std::string>>;
  EXPECT_EQ(pages, (Pages{{"r1", "r2"}, {"r3", "r4"}, {"r5", "r7"}}));
  std::multiset<std::string> seen;
  for (const auto& page : pages) seen.insert(page.begin(), page.end());
  for (const std::string& id : seen) EXPECT_EQ(seen.count(id), 1u) << id;

  // A new paging, well after those writes, sees the store as it is now.
  clock_.Advance(absl::Minutes(10));
  EXPECT_EQ(AllPages("Observation", "_sort=date&_count=10"),
            (Pages{{"r0", "r4", "r1", "r3", "r5", "r7", "r2"}}));
}

TEST_F(RecordSearchTest, TombstonesAreSkipped) {
  Put("Patient", "p1", "p1", R"({"resourceType":"Patient","name":[{"family":"Lee"}]})");
  Put("Patient", "p2", "p2", R"({"resourceType":"Patient","name":[{"family":"Lee"}]})");
  Put("Observation", "o1", "p1", R"({"resourceType":"Observation"})");
  Delete("Patient", "p2");
  Delete("Observation", "o1");
  EXPECT_THAT(Ids("Patient", "family=lee"), ElementsAre("p1"));
  EXPECT_THAT(Ids("Patient", "_id=p2"), IsEmpty());
  EXPECT_THAT(Ids("Patient", ""), ElementsAre("p1"));
  EXPECT_THAT(Ids("Observation", "patient=p1"), IsEmpty());
  ASSERT_OK_AND_ASSIGN(SearchPage page, Page("Patient", ""));
  EXPECT_EQ(page.total, 1);
  // Re-created after deletion, it is found again.
  Put("Observation", "o1", "p1", R"({"resourceType":"Observation","status":"final"})");
  EXPECT_THAT(Ids("Observation", "patient=p1"), ElementsAre("o1"));
}

TEST_F(RecordSearchTest, IncludesThePatientsOnce) {
  Put("Patient", "p1", "p1", R"({"resourceType":"Patient"})");
  Put("Patient", "p2", "p2", R"({"resourceType":"Patient"})");
  Put("Observation", "o1", "p1", R"({"resourceType":"Observation"})");
  Put("Observation", "o2", "p1", R"({"resourceType":"Observation"})");
  Put("Observation", "o3", "p2", R"({"resourceType":"Observation"})");
  Put("Observation", "o4", "gone", R"({"resourceType":"Observation"})");
  ASSERT_OK_AND_ASSIGN(SearchPage page, Page("Observation", "_include=Observation:patient"));
  EXPECT_EQ(page.matches.size(), 4u);
  std::vector<std::string> included;
  for (const auto& r : page.included) included.push_back(r.resource_type() + "/" + r.resource_id());
  EXPECT_THAT(included, ElementsAre("Patient/p1", "Patient/p2"));
  // Only the page's patients; a deleted Patient is not included.
  Delete("Patient", "p1");
  ASSERT_OK_AND_ASSIGN(
      page, Page("Observation", "_include=Observation:subject:Patient&_count=3&_sort=-_id"));
  included.clear();
  for (const auto& r : page.included) included.push_back(r.resource_id());
  EXPECT_THAT(included, ElementsAre("p2"));
  ASSERT_OK_AND_ASSIGN(page, Page("Observation", "_count=2"));
  EXPECT_THAT(page.included, IsEmpty());
}

TEST_F(RecordSearchTest, CursorsAreBoundToTheirSearchAndKey) {
  for (const char* id : {"a", "b", "c"}) {
    Put("Observation", id, "p1", R"({"resourceType":"Observation"})");
  }
  ASSERT_OK_AND_ASSIGN(SearchPage first, Page("Observation", "patient=p1&_count=1"));
  ASSERT_FALSE(first.next_cursor.empty());
  const std::string cursor = first.next_cursor;
  EXPECT_THAT(Ids("Observation", "patient=p1&_count=1&_cursor=" + cursor), ElementsAre("b"));
  // _count may change between pages.
  EXPECT_THAT(Ids("Observation", "patient=p1&_count=5&_cursor=" + cursor), ElementsAre("b", "c"));
  // Another search, a changed cursor, another node's key: refused.
  EXPECT_THAT(Error("Observation", "patient=p2&_count=1&_cursor=" + cursor),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("for this search")));
  EXPECT_THAT(Error("Condition", "patient=p1&_count=1&_cursor=" + cursor),
              StatusIs(absl::StatusCode::kInvalidArgument));
  std::string tampered = cursor;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_THAT(Error("Observation", "patient=p1&_count=1&_cursor=" + tampered),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Error("Observation", "patient=p1&_cursor=!!"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a cursor")));
  RecordSearch other(records_.get(), &clock_, std::string(32, 'o'));
  ASSERT_OK_AND_ASSIGN(SearchQuery q,
                       SearchQuery::Parse("Observation", Params("patient=p1&_cursor=" + cursor)));
  EXPECT_THAT(other.Run(q), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(RecordSearchTest, CursorKeyIsMadeOnceAndKept) {
  ASSERT_OK_AND_ASSIGN(std::string key, RecordSearch::CursorKey(kv_.get()));
  EXPECT_EQ(key.size(), 32u);
  ASSERT_OK_AND_ASSIGN(std::string again, RecordSearch::CursorKey(kv_.get()));
  EXPECT_EQ(key, again);
}

TEST_F(PatientSearchTest, FindExistingForConditionalCreate) {
  ASSERT_OK_AND_ASSIGN(auto found, search_->FindExisting("Patient", "identifier=urn:mrn%7C111", 2));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].resource_id(), "p1");
  ASSERT_OK_AND_ASSIGN(found, search_->FindExisting("Patient", "identifier=urn:mrn|222", 2));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].resource_id(), "p2");
  ASSERT_OK_AND_ASSIGN(found, search_->FindExisting("Patient", "gender=female&family=o%27b", 2));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].resource_id(), "p3");
  ASSERT_OK_AND_ASSIGN(found, search_->FindExisting("Patient", "gender=female", 1));
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].resource_id(), "p1");
  ASSERT_OK_AND_ASSIGN(found, search_->FindExisting("Patient", "identifier=urn:mrn|999", 2));
  EXPECT_THAT(found, IsEmpty());
  EXPECT_THAT(search_->FindExisting("Patient", "", 2),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  EXPECT_THAT(search_->FindExisting("Patient", "identifier=1&_count=1", 2),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("_count")));
  EXPECT_THAT(search_->FindExisting("Patient", "family=%ZZ", 2),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("query string")));
  EXPECT_THAT(search_->FindExisting("Patient", "identifier", 2),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(search_->FindExisting("Patient", "ssn=1", 2),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown search parameter")));
}

}  // namespace
}  // namespace hie::node
