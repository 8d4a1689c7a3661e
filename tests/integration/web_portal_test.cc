// The patient portal over real HTTPS, on an exchange of real daemons: the MPI, the
// consent service, Jane's home practice org-a (its node serves the portal) and two more
// practices that hold her records, org-b and org-c. A clinician at org-b queries Jane;
// her "who saw my record" page lists that practice, user, purpose and time, gathered
// from each holder's own audit; a holder that is down is named; other roles cannot open
// the portal; text from other practices is escaped.
#include <signal.h>

#include <fstream>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "cli/https_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/hie/v1/audit.grpc.pb.h"
#include "proto/hie/v1/node.grpc.pb.h"
#include "tests/integration/web_fixture.h"

namespace hie::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The rows of the disclosures table.
std::vector<std::string> Rows(const std::string& html) {
  std::vector<std::string> rows;
  size_t body = html.find("<tbody>");
  if (body == std::string::npos) return rows;
  std::string rest = html.substr(body, html.find("</tbody>") - body);
  for (absl::string_view row : absl::StrSplit(rest, "<tr")) {
    if (absl::StrContains(row, "<td>")) rows.emplace_back(row);
  }
  return rows;
}

class WebPortalTest : public WebFixture {
 protected:
  void SetUp() override {
    FhirApiFixture::SetUp();
    Issue("org-c", "node-c", pki::Role::kNode);
    // The exchange lets a patient's own request (PATRQT) through without a consent on
    // file, as it does treatment.
    int mpi = StartMpiAndConsent();
    ASSERT_GT(mpi, 0);
    hie::v1::RegisterPatientResponse registered;
    for (const auto& [name, org, local] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {"node-b", "org-b", "B1"}, {"node-c", "org-c", "C1"}}) {
      int port = StartDaemon(name);
      ASSERT_GT(port, 0);
      ports_[name] = port;
      Enroll(mpi, org, absl::StrCat("127.0.0.1:", port));
      ASSERT_TRUE(Register(MpiAs(name, mpi).get(), local, Jane(), &registered).ok());
      Import(name, port, local);
    }
    node_port_ = StartNodeWithApi();
    ASSERT_GT(node_port_, 0);
    Enroll(mpi, "org-a", absl::StrCat("127.0.0.1:", node_port_));
    ASSERT_TRUE(Register(MpiAs("node-a", mpi).get(), "A1", Jane(), &registered).ok());
    Import("node-a", node_port_, "A1");
    AddWebUser(node_port_, "jane", "Jane Doe", "patient", "A1");
    AddWebUser(node_port_, "dr.lee", "Dr Lee", "clinician", "");
  }

  void Import(const std::string& who, int port, const std::string& local) {
    std::string file = Path(local + ".json");
    std::ofstream(file) << absl::StrCat(
        R"({"resourceType":"Bundle","type":"batch","entry":[
      {"resource":{"resourceType":"Patient","id":")",
        local, R"("},"request":{"method":"PUT","url":"Patient/)", local, R"("}},
      {"resource":{"resourceType":"Observation","id":")",
        local, R"(-o1","status":"final","code":{"text":"BP"},"subject":{"reference":"Patient/)",
        local, R"("}},"request":{"method":"PUT","url":"Observation/)", local, R"(-o1"}}]})");
    CommandResult imported = HiectlAs(who, port, {"import", file});
    ASSERT_EQ(imported.exit_code, 0) << imported.out << imported.err;
  }

  // A page, or a form posted (`body`, urlencoded).
  cli::HttpsResponse Request(const std::string& method, const std::string& path,
                             const std::string& cookie, const std::string& body = "") {
    return AppRequest(method, path, cookie, body.empty() ? "" : kForm, body);
  }

  // Signs `login` in; returns the session cookie ("hie_session=...").
  std::string SignIn(const std::string& login) {
    cli::HttpsResponse done = PostSignIn(login, kPassword);
    EXPECT_EQ(done.status, 303) << done.body;
    return SessionCookie(done);
  }

  // A clinician at org-b asks for Jane (B1) with purpose TREAT.
  void QueryFromOrgB(const std::string& user, const std::string& display_name) {
    auto stub = hie::v1::FederatedQuery::NewStub(ChannelAs("node-b", ports_["node-b"]));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    hie::v1::QueryRequest request;
    request.set_local_patient_id("B1");
    request.set_purpose("TREAT");
    request.mutable_user()->set_user_id(user);
    request.mutable_user()->set_display_name(display_name);
    request.mutable_user()->set_role("physician");
    auto reader = stub->Query(&context, request);
    hie::v1::QueryEvent event;
    while (reader->Read(&event)) {
    }
    grpc::Status status = reader->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // A clinician at org-b asks for Jane (B1) with purpose TREAT; the stream's status, its
  // result and each holder's status.
  grpc::Status TreatFromOrgB(hie::v1::QueryResult* result,
                             std::map<std::string, hie::v1::HolderStatus>* holders) {
    return TreatFrom("node-b", "B1", result, holders);
  }

  // A clinician at the practice of node `name` queries Jane (`local` there) to treat her.
  grpc::Status TreatFrom(const std::string& name, const std::string& local,
                         hie::v1::QueryResult* result,
                         std::map<std::string, hie::v1::HolderStatus>* holders) {
    auto stub = hie::v1::FederatedQuery::NewStub(ChannelAs(name, ports_[name]));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    hie::v1::QueryRequest request;
    request.set_local_patient_id(local);
    request.set_purpose("TREAT");
    request.mutable_user()->set_user_id("dr.b");
    request.mutable_user()->set_role("physician");
    auto reader = stub->Query(&context, request);
    hie::v1::QueryEvent event;
    while (reader->Read(&event)) {
      if (event.has_result()) *result = event.result();
      if (event.has_holder()) (*holders)[event.holder().org_id()] = event.holder();
    }
    return reader->Finish();
  }

  // Jane files her choices through the portal: `form` is the body without the CSRF
  // field. Returns the POST's answer.
  cli::HttpsResponse Choose(const std::string& cookie, const std::string& form) {
    cli::HttpsResponse page = Request("GET", "/app/my/consent", cookie);
    EXPECT_EQ(page.status, 200) << page.body;
    return Request("POST", "/app/my/consent", cookie,
                   absl::StrCat("_csrf=", CsrfField(page.body), "&", form));
  }

  // A Condition at org-c labelled mental health (PSY), its text from that practice.
  void ImportSensitive() {
    std::string file = Path("psy.json");
    std::ofstream(file) << absl::StrCat(
        R"({"resourceType":"Condition","id":"C1-psy","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"PSY"}]},"code":{"text":")",
        absl::StrReplaceAll(kXss, {{"\"", "\\\""}}), R"("},"subject":{"reference":"Patient/C1"}})");
    CommandResult imported = HiectlAs("node-c", ports_["node-c"], {"import", file});
    ASSERT_EQ(imported.exit_code, 0) << imported.out << imported.err;
  }

  int node_port_ = 0;
  std::map<std::string, int> ports_;
};

TEST_F(WebPortalTest, DisclosuresGatheredFromEveryHolderAndAHolderDownIsNamed) {
  ASSERT_NO_FATAL_FAILURE(QueryFromOrgB("dr.who", kXss));
  std::string jane = SignIn("jane");
  ASSERT_FALSE(jane.empty());

  cli::HttpsResponse page = Request("GET", "/app/my/disclosures", jane);
  ASSERT_EQ(page.status, 200) << page.body;
  // org-a's own disclosure to org-b (its chain) and org-c's (gathered from org-c).
  std::vector<std::string> rows = Rows(page.body);
  int from_a = 0, from_c = 0;
  for (const std::string& row : rows) {
    if (!absl::StrContains(row, "<td>org-b</td>")) continue;
    EXPECT_THAT(row, HasSubstr("TREAT"));
    EXPECT_THAT(row, HasSubstr("dr.who"));
    EXPECT_THAT(row, HasSubstr("Records shared"));
    EXPECT_TRUE(std::regex_search(row, std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d UTC)"))) << row;
    if (absl::StrContains(row, "<td>org-a</td>")) ++from_a;
    if (absl::StrContains(row, "<td>org-c</td>")) ++from_c;
  }
  EXPECT_EQ(from_a, 1) << page.body;
  EXPECT_EQ(from_c, 1) << page.body;
  // The clinician's name came from another practice: shown as text.
  EXPECT_THAT(page.body, HasSubstr("&lt;img src=x onerror=alert(1)&gt;"));
  EXPECT_THAT(page.body, Not(HasSubstr(kXss)));
  EXPECT_THAT(page.body, HasSubstr("org-c: 1 entries"));
  // The default policy withholds ETH: the entry says so.
  EXPECT_THAT(page.body, HasSubstr("ETH"));

  // The holders recorded the accounting itself, for the patient's request.
  {
    auto audit = hie::v1::AuditLog::NewStub(ChannelAs("operator", ports_["node-c"]));
    grpc::ClientContext context;
    hie::v1::QueryByPatientRequest query;
    query.mutable_local()->set_org_id("org-c");
    query.mutable_local()->set_local_id("C1");
    auto reader = audit->QueryByPatient(&context, query);
    hie::v1::AuditEntry entry;
    int accountings = 0;
    while (reader->Read(&entry)) {
      if (entry.interaction() == "accounting") {
        ++accountings;
        EXPECT_EQ(entry.purpose(), "PATRQT");
        EXPECT_EQ(entry.user().user_id(), "jane");
        EXPECT_EQ(entry.actor_org(), "org-a");
      }
    }
    EXPECT_TRUE(reader->Finish().ok());
    EXPECT_EQ(accountings, 1);
  }

  // org-c goes down: its entries are missing, and the page says so.
  ASSERT_TRUE(processes_.at("node-c").Stop(SIGKILL, absl::Seconds(5)).ok());
  page = Request("GET", "/app/my/disclosures", jane);
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_THAT(page.body, HasSubstr("class=\"source-problem\">org-c"));
  EXPECT_THAT(page.body, HasSubstr("UNREACHABLE"));
  int still_from_a = 0;
  for (const std::string& row : Rows(page.body)) {
    if (absl::StrContains(row, "<td>org-a</td>") && absl::StrContains(row, "dr.who")) {
      ++still_from_a;
    }
    EXPECT_THAT(row, Not(HasSubstr("<td>org-c</td>")));
  }
  EXPECT_EQ(still_from_a, 1);
}

TEST_F(WebPortalTest, OnlyAPatientOpensThePortal) {
  std::string lee = SignIn("dr.lee");
  ASSERT_FALSE(lee.empty());
  for (const char* path : {"/app/my/disclosures", "/app/my/record", "/app/my/consent"}) {
    EXPECT_EQ(Request("GET", path, lee).status, 403) << path;
    cli::HttpsResponse anonymous = Request("GET", path, "");
    EXPECT_EQ(anonymous.status, 303) << path;
    EXPECT_EQ(Header(anonymous, "location"), "/app/login") << path;
  }
  // Nor may they file a patient's choices, CSRF token and all.
  cli::HttpsResponse home = Request("GET", "/app/", lee);
  EXPECT_EQ(Request("POST", "/app/my/consent", lee,
                    absl::StrCat("_csrf=", CsrfField(home.body),
                                 "&share=no&category-substance-use=keep"
                                 "&category-mental-health=keep&category-hiv=keep"
                                 "&category-sexual-health=keep"))
                .status,
            403);
  // There is no patient parameter: one given is ignored, the page is still Jane's.
  std::string jane = SignIn("jane");
  cli::HttpsResponse page = Request("GET", "/app/my/disclosures?patient=B1", jane);
  EXPECT_EQ(page.status, 200);
}

constexpr char kKeepAll[] =
    "category-substance-use=keep&category-mental-health=keep&category-hiv=keep"
    "&category-sexual-health=keep";

TEST_F(WebPortalTest, OptingOutDeniesPracticesButNotJaneAndOptingInRestoresThem) {
  std::string jane = SignIn("jane");
  ASSERT_FALSE(jane.empty());
  cli::HttpsResponse page = Request("GET", "/app/my/consent", jane);
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_THAT(page.body, HasSubstr("You have made no choices yet"));
  EXPECT_THAT(page.body, HasSubstr("<label for=\"share-no\">"));

  cli::HttpsResponse saved = Choose(jane, absl::StrCat("share=no&", kKeepAll));
  ASSERT_EQ(saved.status, 303) << saved.body;
  page = Request("GET", "/app/my/consent?saved=1", jane);
  EXPECT_THAT(page.body, HasSubstr("Your choices are saved"));
  EXPECT_THAT(page.body, HasSubstr("You do not share your records"));
  EXPECT_THAT(page.body, HasSubstr("id=\"share-no\" name=\"share\" value=\"no\" checked"));

  // The next query from a practice is denied, with the consent service's reason.
  hie::v1::QueryResult result;
  std::map<std::string, hie::v1::HolderStatus> holders;
  grpc::Status denied = TreatFromOrgB(&result, &holders);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(denied.error_message(), HasSubstr("denies TREAT"));

  // Jane still sees her record from every practice, and who saw it.
  cli::HttpsResponse record = Request("GET", "/app/my/record", jane);
  ASSERT_EQ(record.status, 200) << record.body;
  EXPECT_THAT(record.body, HasSubstr("<h1>My record</h1>"));
  for (const char* org : {"org-b", "org-c"}) {
    EXPECT_THAT(record.body, HasSubstr(absl::StrCat("<span class=\"badge\">", org, "</span>")));
  }
  EXPECT_THAT(record.body, HasSubstr("<span class=\"badge own\">org-a"));
  EXPECT_EQ(Request("GET", "/app/my/disclosures", jane).status, 200);

  // The change is in org-a's chain, as Jane's own.
  {
    auto audit = hie::v1::AuditLog::NewStub(ChannelAs("operator", node_port_));
    grpc::ClientContext context;
    hie::v1::QueryByPatientRequest query;
    query.mutable_local()->set_org_id("org-a");
    query.mutable_local()->set_local_id("A1");
    auto reader = audit->QueryByPatient(&context, query);
    hie::v1::AuditEntry entry;
    int changes = 0;
    while (reader->Read(&entry)) {
      if (entry.interaction() != "consent-change") continue;
      ++changes;
      EXPECT_EQ(entry.action(), hie::v1::AUDIT_ACTION_DIRECTIVE);
      EXPECT_EQ(entry.user().user_id(), "jane");
      EXPECT_THAT(entry.detail(), HasSubstr("share no"));
    }
    EXPECT_TRUE(reader->Finish().ok());
    EXPECT_EQ(changes, 1);
  }

  // Back in: the next query goes through; one set of choices is on file, not two.
  ASSERT_EQ(Choose(jane, absl::StrCat("share=yes&", kKeepAll)).status, 303);
  holders.clear();
  grpc::Status permitted = TreatFromOrgB(&result, &holders);
  ASSERT_TRUE(permitted.ok()) << permitted.error_message();
  EXPECT_EQ(holders["org-c"].state(), hie::v1::HolderStatus::STATE_OK);
  page = Request("GET", "/app/my/consent", jane);
  EXPECT_THAT(page.body, HasSubstr("You share your records"));
  std::vector<std::string> items = absl::StrSplit(page.body, "<li>Your choices made here");
  EXPECT_EQ(items.size(), 2u) << page.body;
}

TEST_F(WebPortalTest, KeepingACategoryWithholdsItFromPracticesNotFromJane) {
  ASSERT_NO_FATAL_FAILURE(ImportSensitive());
  std::string jane = SignIn("jane");
  ASSERT_EQ(Choose(jane, absl::StrCat("share=yes&", kKeepAll)).status, 303);
  hie::v1::QueryResult result;
  std::map<std::string, hie::v1::HolderStatus> holders;
  ASSERT_TRUE(TreatFromOrgB(&result, &holders).ok());
  EXPECT_THAT(result.withheld_categories(), ::testing::Contains("PSY"));
  EXPECT_EQ(holders["org-c"].withheld(), 1);
  const int64_t without = result.entries();

  // Jane's own record has it, its text escaped.
  cli::HttpsResponse record = Request("GET", "/app/my/record", jane);
  ASSERT_EQ(record.status, 200) << record.body;
  EXPECT_THAT(record.body, HasSubstr("&lt;img src=x onerror=alert(1)&gt;"));
  EXPECT_THAT(record.body, Not(HasSubstr(kXss)));

  // Shared: the practice sees it on its next query.
  ASSERT_EQ(Choose(jane,
                   "share=yes&category-substance-use=keep&category-mental-health=share"
                   "&category-hiv=keep&category-sexual-health=keep")
                .status,
            303);
  holders.clear();
  ASSERT_TRUE(TreatFromOrgB(&result, &holders).ok());
  EXPECT_THAT(result.withheld_categories(), Not(::testing::Contains("PSY")));
  EXPECT_EQ(holders["org-c"].withheld(), 0);
  EXPECT_EQ(result.entries(), without + 1);
  cli::HttpsResponse page = Request("GET", "/app/my/consent", jane);
  EXPECT_THAT(page.body,
              HasSubstr("id=\"category-mental-health-share\" name=\"category-mental-health\" "
                        "value=\"share\" checked"));
}

TEST_F(WebPortalTest, APracticeJaneRefusesIsDeniedAnotherIsNot) {
  std::string jane = SignIn("jane");
  ASSERT_FALSE(jane.empty());
  // Her practices, as the consent service names them for her own request; each may see
  // her records until she says otherwise.
  cli::HttpsResponse page = Request("GET", "/app/my/consent", jane);
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_THAT(page.body, HasSubstr("org-a (this practice)"));
  EXPECT_THAT(page.body, HasSubstr("name=\"practices\" value=\"org-b org-c\""));
  for (const char* org : {"org-b", "org-c"}) {
    EXPECT_THAT(page.body, HasSubstr(absl::StrCat("<label for=\"practice-", org, "-no\">")));
    EXPECT_THAT(page.body, HasSubstr(absl::StrCat("id=\"practice-", org, "-yes\" name=\"practice-",
                                                  org, "\" value=\"yes\" checked")));
  }

  ASSERT_EQ(Choose(jane, absl::StrCat("share=yes&", kKeepAll,
                                      "&practices=org-b+org-c&practice-org-b=no"
                                      "&practice-org-c=yes"))
                .status,
            303);
  page = Request("GET", "/app/my/consent", jane);
  EXPECT_THAT(page.body, HasSubstr("id=\"practice-org-b-no\" name=\"practice-org-b\" value=\"no\" "
                                   "checked"));
  EXPECT_THAT(page.body, HasSubstr("Practices that may not see your records: org-b."));

  hie::v1::QueryResult result;
  std::map<std::string, hie::v1::HolderStatus> holders;
  grpc::Status denied = TreatFromOrgB(&result, &holders);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(denied.error_message(), HasSubstr("for Organization/org-b"));
  holders.clear();
  grpc::Status permitted = TreatFrom("node-c", "C1", &result, &holders);
  ASSERT_TRUE(permitted.ok()) << permitted.error_message();
  EXPECT_EQ(holders["org-b"].state(), hie::v1::HolderStatus::STATE_OK);

  // Restored: org-b's next query goes through.
  ASSERT_EQ(Choose(jane, absl::StrCat("share=yes&", kKeepAll,
                                      "&practices=org-b+org-c&practice-org-b=yes"
                                      "&practice-org-c=yes"))
                .status,
            303);
  holders.clear();
  permitted = TreatFromOrgB(&result, &holders);
  ASSERT_TRUE(permitted.ok()) << permitted.error_message();
  EXPECT_EQ(holders["org-c"].state(), hie::v1::HolderStatus::STATE_OK);
}

TEST_F(WebPortalTest, ChoicesNeedTheCsrfTokenAndAWholeForm) {
  std::string jane = SignIn("jane");
  EXPECT_EQ(Request("POST", "/app/my/consent", jane, absl::StrCat("share=no&", kKeepAll)).status,
            403);
  cli::HttpsResponse half = Choose(jane, "share=maybe");
  EXPECT_EQ(half.status, 400);
  EXPECT_THAT(half.body, HasSubstr("Choose whether to share your records."));
  // Nothing was filed: a practice's query still goes through.
  hie::v1::QueryResult result;
  std::map<std::string, hie::v1::HolderStatus> holders;
  EXPECT_TRUE(TreatFromOrgB(&result, &holders).ok());
}

}  // namespace
}  // namespace hie::testing
