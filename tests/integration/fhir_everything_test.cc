// GET /Patient/{id}/$everything on real daemons: org-a asks for Jane, whose records are
// at org-a, org-b and org-c. The answer says where each entry came from (meta.source,
// a Provenance per holder), folds the immunization two holders both recorded, states
// what consent withheld, and comes in pages that a client follows to the end; a page
// belongs to the client and user that asked; a holder that is down is named.
#include <signal.h>

#include <fstream>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/hie/v1/audit.grpc.pb.h"
#include "simdjson.h"
#include "tests/integration/fhir_fixture.h"

namespace hie::testing {
namespace {

using ::testing::HasSubstr;

// One page of an answer, as a client reads it.
struct Page {
  // Each match's resource text by fullUrl, and the source orgs its tags name.
  std::map<std::string, std::string> matches;
  std::map<std::string, std::string> meta_source;
  std::map<std::string, std::set<std::string>> tagged;
  // Each Provenance's agent org and its targets.
  std::map<std::string, std::set<std::string>> provenance;
  // The OperationOutcome entries' issues: "severity code diagnostics".
  std::vector<std::string> outcomes;
  int64_t total = -1;
  std::string next;  // the next link, "" for none
};

Page ReadPage(const std::string& body) {
  Page page;
  simdjson::dom::parser parser;
  simdjson::dom::element bundle;
  if (parser.parse(body).get(bundle)) {
    ADD_FAILURE() << "not JSON: " << body;
    return page;
  }
  EXPECT_EQ(std::string_view(bundle["resourceType"]), "Bundle");
  EXPECT_EQ(std::string_view(bundle["type"]), "searchset");
  page.total = int64_t(bundle["total"]);
  simdjson::dom::array links;
  if (!bundle["link"].get_array().get(links)) {
    for (simdjson::dom::element link : links) {
      if (std::string_view(link["relation"]) == "next") page.next = std::string_view(link["url"]);
    }
  }
  simdjson::dom::array entries;
  if (bundle["entry"].get_array().get(entries)) return page;
  for (simdjson::dom::element entry : entries) {
    std::string_view mode = entry["search"]["mode"];
    simdjson::dom::element resource = entry["resource"];
    std::string_view type = resource["resourceType"];
    if (mode == "match") {
      std::string url{std::string_view(entry["fullUrl"])};
      EXPECT_TRUE(page.matches.emplace(url, simdjson::minify(resource)).second) << url;
      page.meta_source[url] = std::string_view(resource["meta"]["source"]);
      for (simdjson::dom::element tag : resource["meta"]["tag"].get_array()) {
        std::string_view system;
        if (!tag["system"].get_string().get(system) && system == "http://hie.example/source-org") {
          page.tagged[url].insert(std::string(std::string_view(tag["code"])));
        }
      }
    } else if (mode == "include") {
      EXPECT_EQ(type, "Provenance");
      simdjson::dom::element who = resource["agent"].at(0)["who"];
      EXPECT_EQ(std::string_view(who["identifier"]["system"]), "urn:hie:org");
      std::string org{std::string_view(who["identifier"]["value"])};
      EXPECT_FALSE(page.provenance.contains(org)) << "two Provenances for " << org;
      EXPECT_FALSE(std::string_view(resource["recorded"]).empty());
      for (simdjson::dom::element target : resource["target"].get_array()) {
        page.provenance[org].insert(std::string(std::string_view(target["reference"])));
      }
    } else {
      EXPECT_EQ(mode, "outcome");
      EXPECT_EQ(type, "OperationOutcome");
      simdjson::dom::element issue = resource["issue"].at(0);
      std::string_view diagnostics;
      if (issue["diagnostics"].get_string().get(diagnostics)) diagnostics = "";
      page.outcomes.push_back(std::string(std::string_view(issue["severity"])) + " " +
                              std::string(std::string_view(issue["code"])) + " " +
                              std::string(diagnostics));
    }
  }
  return page;
}

class FhirEverythingTest : public FhirApiFixture {
 protected:
  void SetUp() override {
    FhirApiFixture::SetUp();
    Issue("org-c", "node-c", pki::Role::kNode);
    int mpi = StartMpiAndConsent();
    ASSERT_GT(mpi, 0);
    Enroll(mpi, "org-a");
    hie::v1::RegisterPatientResponse registered;
    ASSERT_TRUE(Register(MpiAs("node-a", mpi).get(), "A1", Jane(), &registered).ok());
    // Each holder: the patient, observations, and the flu shot both org-b and org-c
    // recorded (the same fact: folded into one entry). org-b also holds a counselling
    // note under 42 CFR Part 2, which consent withholds by default.
    for (const auto& [name, org, local, count] :
         std::vector<std::tuple<std::string, std::string, std::string, int>>{
             {"node-b", "org-b", "B1", 3}, {"node-c", "org-c", "C1", 1}}) {
      int port = StartDaemon(name);
      ASSERT_GT(port, 0);
      Enroll(mpi, org, absl::StrCat("127.0.0.1:", port));
      ASSERT_TRUE(Register(MpiAs(name, mpi).get(), local, Jane(), &registered).ok());
      std::string entries = absl::StrCat(
          R"({"resource":{"resourceType":"Patient","id":")", local,
          R"("},"request":{"method":"PUT","url":"Patient/)", local, R"("}},
          {"resource":{"resourceType":"Immunization","id":"flu","status":"completed","patient":{"reference":"Patient/)",
          local,
          R"("},"vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"140"}]},
          "occurrenceDateTime":"2025-10-01"},"request":{"method":"PUT","url":"Immunization/flu"}})");
      for (int i = 1; i <= count; ++i) {
        absl::StrAppend(&entries, R"(,{"resource":{"resourceType":"Observation","id":")", local,
                        "-o", i, R"(","status":"final","code":{"text":"note )", i,
                        R"("},"subject":{"reference":"Patient/)", local,
                        R"("}},"request":{"method":"PUT","url":"Observation/)", local, "-o", i,
                        R"("}})");
      }
      if (org == "org-b") {
        absl::StrAppend(&entries,
                        R"(,{"resource":{"resourceType":"Observation","id":"part2","status":"final",
          "code":{"text":"counselling note"},"subject":{"reference":"Patient/B1"},
          "meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"42CFRPart2"}]}},
          "request":{"method":"PUT","url":"Observation/part2"}})");
      }
      std::string file = Path(local + ".json");
      std::ofstream(file) << R"({"resourceType":"Bundle","type":"batch","entry":[)" << entries
                          << "]}";
      CommandResult imported = HiectlAs(name, port, {"import", file});
      ASSERT_EQ(imported.exit_code, 0) << imported.out << imported.err;
    }
    node_port_ = StartNodeWithApi();
    ASSERT_GT(node_port_, 0);
    std::string a = Path("a1.json");
    std::ofstream(a) << R"({"resourceType":"Bundle","type":"batch","entry":[
      {"resource":{"resourceType":"Patient","id":"A1"},"request":{"method":"PUT","url":"Patient/A1"}},
      {"resource":{"resourceType":"Observation","id":"a-o1","status":"final","code":{"text":"HR"},
        "subject":{"reference":"Patient/A1"}},"request":{"method":"PUT","url":"Observation/a-o1"}}]})";
    ASSERT_EQ(HiectlAs("node-a", node_port_, {"import", a}).exit_code, 0);
  }

  std::string TokenFor(const std::string& client, const std::string& name,
                       const std::string& user) {
    CommandResult token = Token(client, name, {"--user", user, "--purpose", "TREAT"});
    EXPECT_EQ(token.exit_code, 0) << token.err;
    return Trim(token.out);
  }

  // A link of the answer, as a path on the API.
  std::string PathOf(const std::string& url) {
    EXPECT_TRUE(absl::StartsWith(url, base_ + "/")) << url << " is not under " << base_;
    return url.substr(base_.size());
  }

  // The federated queries about A1 in org-a's audit chain (each is recorded as started,
  // then with its outcome).
  size_t QueriesAudited() {
    auto audit = hie::v1::AuditLog::NewStub(ChannelAs("operator", node_port_));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    hie::v1::QueryByPatientRequest query;
    query.mutable_local()->set_org_id("org-a");
    query.mutable_local()->set_local_id("A1");
    query.set_action(hie::v1::AUDIT_ACTION_QUERY);
    auto reader = audit->QueryByPatient(&context, query);
    std::set<std::string> ids;
    hie::v1::AuditEntry entry;
    while (reader->Read(&entry)) ids.insert(entry.query_id());
    grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return ids.size();
  }

  int node_port_ = 0;
};

TEST_F(FhirEverythingTest, SourcesProvenanceWithheldCategoriesAndPagesFollowedToTheEnd) {
  std::string client = AddClient(node_port_, "emr", "system/*.read");
  ASSERT_FALSE(client.empty());
  const std::string lee = TokenFor(client, "emr", "dr-lee");

  // One page: 2 of org-a's, 5 of org-b's (Patient, flu, 3 observations), 2 more of
  // org-c's (Patient, 1 observation; its flu shot is folded into org-b's).
  cli::HttpsResponse whole_response = Get("/Patient/A1/$everything", lee);
  ASSERT_EQ(whole_response.status, 200) << whole_response.body;
  Page whole = ReadPage(whole_response.body);
  EXPECT_EQ(whole.total, 9);
  ASSERT_EQ(whole.matches.size(), 9u) << whole_response.body;
  EXPECT_EQ(whole.next, "");
  // Each entry's meta.source is its (first) source, which its tags name; the folded
  // flu shot names both.
  int folded = 0;
  for (const auto& [url, source] : whole.meta_source) {
    ASSERT_TRUE(absl::StartsWith(source, "urn:hie:org:")) << url << ": " << source;
    EXPECT_TRUE(whole.tagged[url].contains(source.substr(12))) << url;
    if (whole.tagged[url].size() == 2) {
      ++folded;
      EXPECT_THAT(whole.matches[url], HasSubstr("Immunization"));
      EXPECT_EQ(source, "urn:hie:org:org-b");
      EXPECT_EQ(whole.tagged[url], (std::set<std::string>{"org-b", "org-c"}));
    }
  }
  EXPECT_EQ(folded, 1);
  // A Provenance per holder, targeting exactly the entries its tags name.
  ASSERT_EQ(whole.provenance.size(), 3u) << whole_response.body;
  for (const std::string org : {"org-a", "org-b", "org-c"}) {
    std::set<std::string> expected;
    for (const auto& [url, orgs] : whole.tagged) {
      if (orgs.contains(org)) expected.insert(url);
    }
    EXPECT_EQ(whole.provenance[org], expected) << org;
  }
  EXPECT_EQ(whole.provenance["org-b"].size(), 5u);
  // The Part 2 note stays at org-b, and the answer says what consent withheld.
  EXPECT_THAT(whole_response.body, ::testing::Not(HasSubstr("counselling")));
  ASSERT_EQ(whole.outcomes.size(), 1u) << whole_response.body;
  EXPECT_THAT(whole.outcomes[0], HasSubstr("information suppressed"));
  EXPECT_THAT(whole.outcomes[0], HasSubstr("42CFRPart2"));
  EXPECT_THAT(whole.outcomes[0], HasSubstr("records may exist that this requester may not see"));
  const size_t queries = QueriesAudited();

  // Two entries a page, followed to the end: every entry once, the same as in one page.
  std::map<std::string, std::string> joined;
  std::vector<std::string> outcomes;
  std::string path = "/Patient/A1/$everything?_count=2";
  std::string first_next;
  int pages = 0;
  while (!path.empty()) {
    ASSERT_LT(++pages, 10) << "the next links do not end";
    cli::HttpsResponse response = Get(path, lee);
    ASSERT_EQ(response.status, 200) << path << ": " << response.body;
    Page page = ReadPage(response.body);
    EXPECT_EQ(page.total, 9);
    EXPECT_LE(page.matches.size(), 2u);
    EXPECT_FALSE(page.matches.empty());
    for (const auto& [url, resource] : page.matches) {
      EXPECT_TRUE(joined.emplace(url, resource).second) << url << " came twice";
    }
    // The page's Provenances name the page's entries, and each of them.
    std::set<std::string> targets;
    for (const auto& [org, urls] : page.provenance) {
      for (const std::string& url : urls) {
        EXPECT_TRUE(page.matches.contains(url)) << url << " is not on this page";
        EXPECT_TRUE(page.tagged[url].contains(org)) << url;
        targets.insert(url);
      }
    }
    EXPECT_EQ(targets.size(), page.matches.size());
    outcomes.insert(outcomes.end(), page.outcomes.begin(), page.outcomes.end());
    if (first_next.empty()) first_next = page.next;
    path = page.next.empty() ? "" : PathOf(page.next);
  }
  EXPECT_EQ(pages, 5);
  EXPECT_EQ(joined, whole.matches);
  EXPECT_EQ(outcomes, whole.outcomes);  // stated once, on the first page
  // The pages were read from the answer: no new query.
  EXPECT_EQ(QueriesAudited(), queries + 1);

  // A page is its requester's: another client, or another user of the same client, or a
  // token made up, is 404; so is the token on another patient.
  ASSERT_FALSE(first_next.empty());
  const std::string next = PathOf(first_next);
  EXPECT_EQ(Get(next, lee).status, 200);
  std::string other = AddClient(node_port_, "other-app", "system/*.read");
  cli::HttpsResponse stranger = Get(next, TokenFor(other, "other-app", "dr-lee"));
  EXPECT_EQ(stranger.status, 404) << stranger.body;
  EXPECT_THAT(stranger.body, HasSubstr("OperationOutcome"));
  EXPECT_EQ(Get(next, TokenFor(client, "emr", "dr-kim")).status, 404);
  std::string made_up = next;
  size_t at = made_up.find("_page=") + 6;
  made_up[at] = made_up[at] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Get(made_up, lee).status, 404);
  std::string elsewhere = next;
  elsewhere.replace(elsewhere.find("/A1/"), 4, "/B1/");
  EXPECT_EQ(Get(elsewhere, lee).status, 404);
  EXPECT_EQ(Get("/Patient/A1/$everything?_count=two", lee).status, 400);
  EXPECT_EQ(Get("/Patient/A1/$everything?_offset=2", lee).status, 400);
}

TEST_F(FhirEverythingTest, AHolderDownIsAnOutcomeOnTheFirstPage) {
  std::string client = AddClient(node_port_, "emr", "system/*.read");
  ASSERT_FALSE(client.empty());
  const std::string lee = TokenFor(client, "emr", "dr-lee");
  ASSERT_TRUE(processes_.at("node-c").Stop(SIGTERM, absl::Seconds(10)).ok());
  cli::HttpsResponse response = Get("/Patient/A1/$everything?_count=3", lee);
  ASSERT_EQ(response.status, 200) << response.body;
  Page page = ReadPage(response.body);
  // org-a's 2 and org-b's 5: org-c's records are missing, and it is named.
  EXPECT_EQ(page.total, 7);
  EXPECT_EQ(page.matches.size(), 3u);
  EXPECT_FALSE(page.next.empty());
  ASSERT_EQ(page.outcomes.size(), 2u) << response.body;
  EXPECT_THAT(page.outcomes[0], ::testing::StartsWith("warning "));
  EXPECT_THAT(page.outcomes[0], HasSubstr("holder org-c: "));
  EXPECT_THAT(page.outcomes[1], HasSubstr("information suppressed"));
  std::set<std::string> orgs;
  while (!page.next.empty()) {
    for (const auto& [org, urls] : page.provenance) orgs.insert(org);
    cli::HttpsResponse more = Get(PathOf(page.next), lee);
    ASSERT_EQ(more.status, 200) << more.body;
    page = ReadPage(more.body);
    EXPECT_TRUE(page.outcomes.empty());
  }
  for (const auto& [org, urls] : page.provenance) orgs.insert(org);
  EXPECT_EQ(orgs, (std::set<std::string>{"org-a", "org-b"}));
}

}  // namespace
}  // namespace hie::testing
