// FHIR search on a real hie-node: records imported with hiectl, searched over HTTPS with
// a SMART token and with the practice's certificate; next links followed to the end while
// records arrive and change; _include; POST _search; every refusal (a parameter the type
// does not answer, a bad date, a forged cursor, an unknown type, a narrow scope, another
// practice's certificate).
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/https_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "tests/integration/fhir_fixture.h"

namespace hie::testing {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// What a searchset Bundle says.
struct Searchset {
  int status = 0;
  std::string body;
  std::vector<std::string> matches;   // "Type/id" of search.mode match
  std::vector<std::string> includes;  // "Type/id" of search.mode include
  std::string self;
  std::string next;  // the next link's URL, "" on the last page
  int64_t total = -1;
};

class FhirSearchTest : public FhirApiFixture {
 protected:
  // A Bundle of type batch that PUTs `resources` (FHIR JSON objects with type and id).
  void Import(int port, const std::vector<std::string>& resources) {
    std::string entries;
    for (const std::string& r : resources) {
      simdjson::dom::parser parser;
      simdjson::dom::element e;
      std::string_view type, id;
      ASSERT_FALSE(parser.parse(r).get(e) || e["resourceType"].get_string().get(type) ||
                   e["id"].get_string().get(id))
          << r;
      absl::StrAppend(&entries, entries.empty() ? "" : ",", R"({"resource":)", r,
                      R"(,"request":{"method":"PUT","url":")", std::string(type), "/",
                      std::string(id), R"("}})");
    }
    std::string file = Path(absl::StrCat("import-", ++imports_, ".json"));
    std::ofstream(file) << R"({"resourceType":"Bundle","type":"batch","entry":[)" << entries
                        << "]}";
    CommandResult r = HiectlAs("node-a", port, {"import", file});
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  }

  static Searchset Read(const cli::HttpsResponse& response) {
    Searchset out;
    out.status = response.status;
    out.body = response.body;
    simdjson::dom::parser parser;
    simdjson::dom::element bundle;
    if (parser.parse(response.body).get(bundle)) return out;
    int64_t total = 0;
    if (!bundle["total"].get_int64().get(total)) out.total = total;
    simdjson::dom::array links, entries;
    if (!bundle["link"].get_array().get(links)) {
      for (simdjson::dom::element link : links) {
        std::string_view relation, url;
        if (link["relation"].get_string().get(relation) || link["url"].get_string().get(url)) {
          continue;
        }
        (relation == "next" ? out.next : out.self) = std::string(url);
      }
    }
    if (!bundle["entry"].get_array().get(entries)) {
      for (simdjson::dom::element entry : entries) {
        std::string_view type, id, mode, full_url;
        if (entry["resource"]["resourceType"].get_string().get(type) ||
            entry["resource"]["id"].get_string().get(id) ||
            entry["search"]["mode"].get_string().get(mode) ||
            entry["fullUrl"].get_string().get(full_url)) {
          continue;
        }
        std::string name = absl::StrCat(std::string(type), "/", std::string(id));
        EXPECT_TRUE(absl::EndsWith(std::string(full_url), "/" + name)) << full_url;
        (mode == "include" ? out.includes : out.matches).push_back(name);
      }
    }
    return out;
  }

  Searchset Search(const std::string& path, const std::string& token) {
    return Read(Get(path, token));
  }

  // The path of an absolute link of this node's API.
  std::string PathOf(const std::string& url) {
    EXPECT_TRUE(absl::StartsWith(url, base_ + "/")) << url;
    return url.substr(base_.size());
  }

  cli::HttpsResponse AsCertificate(const std::string& who, const std::string& path) {
    auto r = cli::HttpsRequest("GET", base_ + path, Path("ca/ca.crt"), "", "", absl::Seconds(10),
                               {}, Path("certs/" + who + ".crt"), Path("certs/" + who + ".key"));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : cli::HttpsResponse{};
  }

  cli::HttpsResponse PostForm(
      const std::string& path, const std::string& form, const std::string& token,
      const std::string& content_type = "application/x-www-form-urlencoded") {
    auto r = cli::HttpsRequest("POST", base_ + path, Path("ca/ca.crt"), content_type, form,
                               absl::Seconds(10), {{"Authorization", "Bearer " + token}});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : cli::HttpsResponse{};
  }

  std::string TokenFor(int port, const std::string& name, const std::string& scope) {
    std::string client = AddClient(port, name, scope);
    EXPECT_FALSE(client.empty());
    CommandResult token = Token(client, name, {"--scope", scope});
    EXPECT_EQ(token.exit_code, 0) << token.err;
    return Trim(token.out);
  }

  static std::string Observation(const std::string& id, const std::string& patient,
                                 const std::string& date, const std::string& code = "8867-4") {
    return absl::StrCat(
        R"({"resourceType":"Observation","id":")", id,
        R"(","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":")",
        code, R"("}]},"subject":{"reference":"Patient/)", patient, R"("},"effectiveDateTime":")",
        date, R"("})");
  }

  int imports_ = 0;
};

TEST_F(FhirSearchTest, PatientsAndClinicalRecordsWithLinksThatStayTrueWhileTheStoreChanges) {
  int port = StartNodeWithApi();
  ASSERT_GT(port, 0);
  std::vector<std::string> records = {
      R"({"resourceType":"Patient","id":"p-1","identifier":[{"system":"urn:mrn","value":"111"}],
          "name":[{"family":"Guzmán","given":["Ángela"]}],"gender":"female","birthDate":"1989-06-16"})",
      R"({"resourceType":"Patient","id":"p-2","name":[{"family":"Lee","given":["Sam"]}],
          "gender":"male","birthDate":"1960"})",
      Observation("o-x", "p-2", "2020-01-01T09:00:00Z", "85354-9")};
  for (int day = 1; day <= 7; ++day) {
    records.push_back(
        Observation(absl::StrCat("o-0", day), "p-1", absl::StrCat("2020-02-0", day, "T09:00:00Z")));
  }
  Import(port, records);
  std::string bearer = TokenFor(port, "emr", "system/*.read");
  ASSERT_FALSE(bearer.empty());

  // Patients by each kind of parameter.
  Searchset guzman = Search("/Patient?family=guzman", bearer);
  EXPECT_EQ(guzman.status, 200) << guzman.body;
  EXPECT_THAT(guzman.body, AllOf(HasSubstr("\"searchset\""), HasSubstr("\"Guzmán\"")));
  EXPECT_THAT(guzman.matches, ElementsAre("Patient/p-1"));
  EXPECT_EQ(guzman.total, 1);
  EXPECT_EQ(guzman.self, base_ + "/Patient?family=guzman&_count=50");
  EXPECT_TRUE(guzman.next.empty());
  EXPECT_THAT(Search("/Patient?name=%C3%81NG", bearer).matches, ElementsAre("Patient/p-1"));
  EXPECT_THAT(Search("/Patient?given:exact=Sam", bearer).matches, ElementsAre("Patient/p-2"));
  EXPECT_THAT(Search("/Patient?identifier=urn:mrn%7C111", bearer).matches,
              ElementsAre("Patient/p-1"));
  EXPECT_THAT(Search("/Patient?birthdate=lt1980&gender=male", bearer).matches,
              ElementsAre("Patient/p-2"));
  EXPECT_THAT(Search("/Patient?_id=p-2,p-1", bearer).matches,
              ElementsAre("Patient/p-1", "Patient/p-2"));
  EXPECT_THAT(Search("/Patient", bearer).matches, ElementsAre("Patient/p-1", "Patient/p-2"));

  // Clinical records by patient, date, code, category; sorted; paged.
  EXPECT_THAT(Search("/Observation?code=http://loinc.org%7C85354-9", bearer).matches,
              ElementsAre("Observation/o-x"));
  EXPECT_THAT(Search("/Observation?subject=Patient/p-2&category=vital-signs", bearer).matches,
              ElementsAre("Observation/o-x"));
  EXPECT_THAT(Search("/Observation?patient=p-1&date=ge2020-02-06", bearer).matches,
              ElementsAre("Observation/o-06", "Observation/o-07"));

  // Following next to the end while records arrive and change between pages: o-01, already
  // returned, moves to the end; o-08 is new at the end; o-00 is new before the cursor.
  std::vector<std::string> seen;
  std::string path = "/Observation?patient=p-1&_sort=date&_count=3";
  int pages = 0;
  while (!path.empty() && pages < 10) {
    Searchset page = Search(path, bearer);
    ASSERT_EQ(page.status, 200) << page.body;
    EXPECT_EQ(PathOf(page.self), path);
    seen.insert(seen.end(), page.matches.begin(), page.matches.end());
    if (++pages == 1) {
      EXPECT_EQ(page.total, 7);
      Import(port, {Observation("o-01", "p-1", "2020-03-01T09:00:00Z"),
                    Observation("o-08", "p-1", "2020-02-20T09:00:00Z"),
                    Observation("o-00", "p-1", "2019-01-01T09:00:00Z")});
    }
    path = page.next.empty() ? "" : PathOf(page.next);
  }
  EXPECT_THAT(seen, ElementsAre("Observation/o-01", "Observation/o-02", "Observation/o-03",
                                "Observation/o-04", "Observation/o-05", "Observation/o-06",
                                "Observation/o-07", "Observation/o-08"));
  EXPECT_EQ(pages, 3);
  // Descending, a new search: the store as it is (o-00 first from the end).
  Searchset latest = Search("/Observation?patient=Patient/p-1&_sort=-date&_count=2", bearer);
  EXPECT_EQ(latest.total, 9);
  EXPECT_EQ(latest.matches.size(), 2u);
  EXPECT_FALSE(latest.next.empty());

  // _include: the Patients of the page, once each, as include entries.
  Searchset included =
      Search("/Observation?code=8867-4,85354-9&_include=Observation:patient&_count=100", bearer);
  EXPECT_EQ(included.status, 200) << included.body;
  EXPECT_EQ(included.matches.size(), 10u);
  EXPECT_THAT(included.includes, ElementsAre("Patient/p-1", "Patient/p-2"));

  // POST _search: the same parameters as a form.
  Searchset posted = Read(PostForm("/Observation/_search", "patient=p-2&_count=5", bearer));
  EXPECT_EQ(posted.status, 200) << posted.body;
  EXPECT_THAT(posted.matches, ElementsAre("Observation/o-x"));
  EXPECT_EQ(PostForm("/Observation/_search", "{}", bearer, "application/json").status, 415);

  // /metadata lists what is served.
  cli::HttpsResponse metadata = Get("/metadata");
  EXPECT_THAT(metadata.body,
              AllOf(HasSubstr("\"search-type\""), HasSubstr("\"Observation:patient\""),
                    HasSubstr("\"birthdate\""), HasSubstr("Observation.effective[x]")));
}

TEST_F(FhirSearchTest, RefusalsArePreciseOperationOutcomes) {
  int port = StartNodeWithApi();
  ASSERT_GT(port, 0);
  Import(port, {R"({"resourceType":"Patient","id":"p-1","name":[{"family":"Lee"}]})",
                Observation("o-1", "p-1", "2021-05-05T10:00:00Z"),
                Observation("o-2", "p-1", "2021-05-06T10:00:00Z")});
  std::string bearer = TokenFor(port, "emr", "system/*.read");
  ASSERT_FALSE(bearer.empty());

  auto refused = [&](const std::string& path, int status, const std::string& says) {
    cli::HttpsResponse r = Get(path, bearer);
    EXPECT_EQ(r.status, status) << path << ": " << r.body;
    EXPECT_THAT(r.body, AllOf(HasSubstr("OperationOutcome"), HasSubstr(says))) << path;
  };
  refused("/Observation?colour=red", 400, "unknown search parameter colour for Observation");
  refused("/Immunization?code=140", 400, "unknown search parameter code for Immunization");
  refused("/Observation?date=ap2021", 400, "ap");
  refused("/Observation?date=2021-13-01", 400, "not a date");
  refused("/Patient?family:phonetic=lee", 400, ":phonetic is not supported");
  refused("/Observation?patient=Group/7", 400, "Patient/<id>");
  refused("/Observation?_sort=code", 400, "sorts by one of _id, date");
  refused("/Observation?_count=many", 400, "_count");
  refused("/Observation?_cursor=bm90LWEtY3Vyc29y", 400, "_cursor");
  refused("/Observations?code=1", 404, "unknown resource type");
  EXPECT_EQ(Get("/Observation?_format=xml", bearer).status, 406);

  // A cursor is good for its own search only.
  Searchset first = Search("/Observation?patient=p-1&_count=1", bearer);
  ASSERT_FALSE(first.next.empty());
  std::string next = PathOf(first.next);
  EXPECT_EQ(Search(next, bearer).matches, std::vector<std::string>{"Observation/o-2"});
  std::string other = next;
  other.replace(other.find("patient=p-1"), 11, "patient=p-2");
  refused(other, 400, "for this search");

  // Scopes: searching a type needs its read (v1) or search (v2) permission; _include of
  // the Patient needs the Patient's too.
  std::string patients = TokenFor(port, "patients", "system/Patient.read");
  EXPECT_EQ(Get("/Patient?family=lee", patients).status, 200);
  cli::HttpsResponse narrow = Get("/Observation?patient=p-1", patients);
  EXPECT_EQ(narrow.status, 403);
  EXPECT_THAT(narrow.body, HasSubstr("do not allow search of Observation"));
  EXPECT_EQ(Get("/Observation?colour=red", patients).status, 403);  // who before what
  std::string labs = TokenFor(port, "labs", "system/Observation.rs");
  EXPECT_EQ(Get("/Observation?patient=p-1", labs).status, 200);
  EXPECT_EQ(Get("/Observation?patient=p-1&_include=Observation:patient", labs).status, 403);
  std::string reader = TokenFor(port, "reader", "system/Observation.r");
  EXPECT_EQ(Get("/Observation?patient=p-1", reader).status, 403);  // read is not search
  EXPECT_EQ(Get("/Observation?patient=p-1").status, 401);

  // The practice's own certificate searches (an EMR-side integration); another's may not.
  cli::HttpsResponse own = AsCertificate("node-a", "/Observation?patient=p-1&_sort=-date");
  EXPECT_EQ(own.status, 200) << own.body;
  EXPECT_THAT(Read(own).matches, ElementsAre("Observation/o-2", "Observation/o-1"));
  EXPECT_EQ(AsCertificate("node-b", "/Observation?patient=p-1").status, 403);

  // GET /AuditEvent stays the audit chain's (its own parameters, not a record search);
  // POST /AuditEvent/_search is refused.
  cli::HttpsResponse audit = AsCertificate("node-a", "/AuditEvent?patient=p-1");
  EXPECT_EQ(audit.status, 200) << audit.body;
  EXPECT_THAT(audit.body, HasSubstr("\"resourceType\": \"AuditEvent\""));
  cli::HttpsResponse not_audit = AsCertificate("node-a", "/AuditEvent?code=x");
  EXPECT_EQ(not_audit.status, 400);
  EXPECT_THAT(not_audit.body, HasSubstr("not a search parameter of AuditEvent"));
  cli::HttpsResponse audit_search = PostForm("/AuditEvent/_search", "patient=p-1", bearer);
  EXPECT_EQ(audit_search.status, 405);
  EXPECT_THAT(audit_search.body, HasSubstr("audit chain"));
}

}  // namespace
}  // namespace hie::testing
