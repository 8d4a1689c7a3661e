// The clinician's pages of the node's web app over real HTTPS, on real daemons: org-a's
// clinician searches for Jane at the practice and in the exchange, opens her record
// gathered from org-a, org-b and org-c (each item with its source badges, the flu shot
// two practices recorded folded into one, a trend chart of her two HbA1c results, the
// notice of what consent withheld), sees a practice that is down named as such, and
// breaks the glass only with a reason — audited, and marked as emergency access. Other
// roles get 403; a peer's Patient named like markup is shown as text.
#include <signal.h>

#include <fstream>
#include <regex>
#include <string>
#include <tuple>
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
#include "tests/integration/web_fixture.h"

namespace hie::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// The text of the <li> of the record view whose item text is `text`, or "".
std::string ItemOf(const std::string& html, const std::string& text) {
  size_t at = html.find(absl::StrCat("<span class=\"rv-text\">", text, "</span>"));
  if (at == std::string::npos) return "";
  size_t begin = html.rfind("<li", at);
  size_t end = html.find("</li>", at);
  return html.substr(begin, end - begin);
}

class WebClinicianTest : public WebFixture {
 protected:
  void SetUp() override {
    FhirApiFixture::SetUp();
    Issue("org-c", "node-c", pki::Role::kNode);
    // The exchange's default policy lets the web app's clinicians break the glass.
    int mpi = StartMpiAndConsent();
    ASSERT_GT(mpi, 0);
    Enroll(mpi, "org-a");
    hie::v1::RegisterPatientResponse registered;
    ASSERT_TRUE(Register(MpiAs("node-a", mpi).get(), "A1", Jane(), &registered).ok());
    // org-b: Jane, also under a name that is markup, a later HbA1c, the flu shot, a medication,
    // an allergy, a visit, and a counselling note under 42 CFR Part 2 (withheld by the
    // policy's default). org-c: the same flu shot (folded) and a letter.
    const std::string b_entries = R"(
      {"resource":{"resourceType":"Patient","id":"B1","gender":"female","birthDate":"1984-06-02",
        "name":[{"family":"Oyelaran","given":["Jane"]},{"text":"<img src=x onerror=alert(1)>"}],
        "address":[{"line":["12 Main Street"],"city":"Springfield","postalCode":"62701"}]},
       "request":{"method":"PUT","url":"Patient/B1"}},
      {"resource":{"resourceType":"Observation","id":"b-a1c","status":"final",
        "code":{"coding":[{"system":"http://loinc.org","code":"4548-4","display":"Hemoglobin A1c"}]},
        "subject":{"reference":"Patient/B1"},"effectiveDateTime":"2024-06-10",
        "valueQuantity":{"value":6.8,"unit":"%"}},"request":{"method":"PUT","url":"Observation/b-a1c"}},
      {"resource":{"resourceType":"MedicationRequest","id":"b-met","status":"active","intent":"order",
        "medicationCodeableConcept":{"text":"Metformin 500 mg"},"subject":{"reference":"Patient/B1"},
        "authoredOn":"2024-06-10","dosageInstruction":[{"text":"twice daily"}]},
       "request":{"method":"PUT","url":"MedicationRequest/b-met"}},
      {"resource":{"resourceType":"AllergyIntolerance","id":"b-pen","patient":{"reference":"Patient/B1"},
        "code":{"text":"Penicillin"},"criticality":"high","recordedDate":"2019-03-01"},
       "request":{"method":"PUT","url":"AllergyIntolerance/b-pen"}},
      {"resource":{"resourceType":"Encounter","id":"b-visit","status":"finished",
        "class":{"code":"AMB","display":"ambulatory"},"type":[{"text":"Diabetes review"}],
        "subject":{"reference":"Patient/B1"},"period":{"start":"2024-06-10"}},
       "request":{"method":"PUT","url":"Encounter/b-visit"}},
      {"resource":{"resourceType":"Observation","id":"part2","status":"final",
        "code":{"text":"counselling note"},"subject":{"reference":"Patient/B1"},
        "meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"42CFRPart2"}]}},
       "request":{"method":"PUT","url":"Observation/part2"}})";
    const std::string c_entries = R"(
      {"resource":{"resourceType":"Patient","id":"C1"},"request":{"method":"PUT","url":"Patient/C1"}},
      {"resource":{"resourceType":"DocumentReference","id":"c-letter","status":"current",
        "type":{"text":"Discharge letter"},"subject":{"reference":"Patient/C1"},"date":"2025-01-05T10:00:00Z"},
       "request":{"method":"PUT","url":"DocumentReference/c-letter"}})";
    for (const auto& [name, org, local, entries] :
         std::vector<std::tuple<std::string, std::string, std::string, std::string>>{
             {"node-b", "org-b", "B1", b_entries}, {"node-c", "org-c", "C1", c_entries}}) {
      int port = StartDaemon(name);
      ASSERT_GT(port, 0);
      Enroll(mpi, org, absl::StrCat("127.0.0.1:", port));
      ASSERT_TRUE(Register(MpiAs(name, mpi).get(), local, Jane(), &registered).ok());
      const std::string flu = absl::StrCat(
          R"({"resource":{"resourceType":"Immunization","id":"flu","status":"completed",
          "patient":{"reference":"Patient/)",
          local,
          R"("},"vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"140",
          "display":"Influenza vaccine"}]},"occurrenceDateTime":"2025-10-01"},
          "request":{"method":"PUT","url":"Immunization/flu"}})");
      std::string file = Path(local + ".json");
      std::ofstream(file) << R"({"resourceType":"Bundle","type":"batch","entry":[)" << entries
                          << "," << flu << "]}";
      CommandResult imported = HiectlAs(name, port, {"import", file});
      ASSERT_EQ(imported.exit_code, 0) << imported.out << imported.err;
    }
    node_port_ = StartNodeWithApi();
    ASSERT_GT(node_port_, 0);
    std::string a = Path("a1.json");
    std::ofstream(a) << R"({"resourceType":"Bundle","type":"batch","entry":[
      {"resource":{"resourceType":"Patient","id":"A1","gender":"female","birthDate":"1984-06-02",
        "name":[{"family":"Oyelaran","given":["Jane"]}],
        "address":[{"line":["12 Main Street"],"city":"Springfield","postalCode":"62701"}]},
       "request":{"method":"PUT","url":"Patient/A1"}},
      {"resource":{"resourceType":"Observation","id":"a-a1c","status":"final",
        "code":{"coding":[{"system":"http://loinc.org","code":"4548-4","display":"Hemoglobin A1c"}]},
        "subject":{"reference":"Patient/A1"},"effectiveDateTime":"2024-01-10",
        "valueQuantity":{"value":7.2,"unit":"%"}},"request":{"method":"PUT","url":"Observation/a-a1c"}},
      {"resource":{"resourceType":"Condition","id":"a-dm","code":{"text":"Type 2 diabetes"},
        "clinicalStatus":{"coding":[{"code":"active"}]},
        "subject":{"reference":"Patient/A1"},"onsetDateTime":"2020-05-01"},
       "request":{"method":"PUT","url":"Condition/a-dm"}}]})";
    CommandResult imported = HiectlAs("node-a", node_port_, {"import", a});
    ASSERT_EQ(imported.exit_code, 0) << imported.out << imported.err;
    ASSERT_NO_FATAL_FAILURE(AddWebUser(node_port_, "dr.lee", "Dr. Lee", "clinician"));
    clinician_ = SignedIn("dr.lee");
    ASSERT_FALSE(clinician_.empty());
  }

  // Signs `login` in; returns the Cookie header of its session ("" on failure).
  std::string SignedIn(const std::string& login) {
    cli::HttpsResponse in = PostSignIn(login, kPassword);
    EXPECT_EQ(in.status, 303) << in.body;
    return SessionCookie(in);
  }

  // org-a's audit entries about A1 of `action`.
  std::vector<hie::v1::AuditEntry> Audited(hie::v1::AuditAction action) {
    auto audit = hie::v1::AuditLog::NewStub(ChannelAs("operator", node_port_));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    hie::v1::QueryByPatientRequest query;
    query.mutable_local()->set_org_id("org-a");
    query.mutable_local()->set_local_id("A1");
    query.set_action(action);
    auto reader = audit->QueryByPatient(&context, query);
    std::vector<hie::v1::AuditEntry> entries;
    hie::v1::AuditEntry entry;
    while (reader->Read(&entry)) entries.push_back(entry);
    grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return entries;
  }

  int node_port_ = 0;
  std::string clinician_;
};

TEST_F(WebClinicianTest, SearchFindsThePatientHereAndInTheExchangeAndOnlyForClinicians) {
  cli::HttpsResponse form = AppRequest("GET", "/app/patients", clinician_);
  ASSERT_EQ(form.status, 200) << form.body;
  EXPECT_THAT(
      form.body,
      AllOf(HasSubstr("<label for=\"family\">"), HasSubstr("<label for=\"given\">"),
            HasSubstr("<label for=\"birthdate\">"), HasSubstr("<label for=\"identifier\">")));
  EXPECT_THAT(form.body, AllOf(Not(HasSubstr("<script>")), Not(HasSubstr("style="))));

  cli::HttpsResponse local =
      AppRequest("GET", "/app/patients?family=oyel&birthdate=1984-06-02&where=local", clinician_);
  ASSERT_EQ(local.status, 200) << local.body;
  EXPECT_THAT(local.body, AllOf(HasSubstr("<a href=\"/app/patients/A1\">Jane Oyelaran</a>"),
                                HasSubstr("1984-06-02"), HasSubstr("female")));
  EXPECT_THAT(local.body, Not(HasSubstr("In the exchange")));
  // The search is in the node's audit chain under the patient it showed, by the user.
  bool audited = false;
  for (const hie::v1::AuditEntry& e : Audited(hie::v1::AUDIT_ACTION_ACCESS)) {
    if (e.interaction() == "search" && e.user().user_id() == "dr.lee" &&
        e.user().role() == "clinician") {
      audited = true;
    }
  }
  EXPECT_TRUE(audited);
  cli::HttpsResponse nobody =
      AppRequest("GET", "/app/patients?family=Nobody&where=local", clinician_);
  ASSERT_EQ(nobody.status, 200);
  EXPECT_THAT(nobody.body, HasSubstr("No patient of this practice matches"));

  // The exchange: Jane, certain, named by her EUID; no practice is named.
  cli::HttpsResponse exchange = AppRequest(
      "GET", "/app/patients?family=Oyelaran&given=Jane&birthdate=1984-06-02&where=exchange",
      clinician_);
  ASSERT_EQ(exchange.status, 200) << exchange.body;
  EXPECT_THAT(exchange.body,
              AllOf(HasSubstr("In the exchange"), HasSubstr("grade-certain\">certain<"),
                    HasSubstr("Jane Oyelaran"), HasSubstr("registers the patient here")));
  EXPECT_THAT(exchange.body, AllOf(Not(HasSubstr("org-b")), Not(HasSubstr("org-c"))));

  // Other roles may not search.
  ASSERT_NO_FATAL_FAILURE(AddWebUser(node_port_, "desk", "Front Desk", "front-desk"));
  ASSERT_NO_FATAL_FAILURE(AddWebUser(node_port_, "jane", "Jane", "patient", "A1"));
  for (const std::string login : {"desk", "jane"}) {
    const std::string cookie = SignedIn(login);
    ASSERT_FALSE(cookie.empty());
    EXPECT_EQ(AppRequest("GET", "/app/patients", cookie).status, 403) << login;
    EXPECT_EQ(AppRequest("GET", "/app/patients/A1/record?purpose=TREAT", cookie).status, 403)
        << login;
  }
  // No session: sent to sign in.
  EXPECT_EQ(AppRequest("GET", "/app/patients", "").status, 303);
}

TEST_F(WebClinicianTest, TheRecordFromEveryPracticeWithSourcesFoldedTrendAndWithheld) {
  cli::HttpsResponse patient = AppRequest("GET", "/app/patients/A1", clinician_);
  ASSERT_EQ(patient.status, 200) << patient.body;
  EXPECT_THAT(patient.body,
              AllOf(HasSubstr("Jane Oyelaran"), HasSubstr("<label for=\"purpose\">"),
                    HasSubstr("value=\"TREAT\" selected"), HasSubstr("Emergency access"),
                    HasSubstr("<label for=\"reason\">")));
  EXPECT_EQ(AppRequest("GET", "/app/patients/nobody", clinician_).status, 404);
  EXPECT_EQ(AppRequest("GET", "/app/patients/A1/record?purpose=ETREAT", clinician_).status, 400);

  cli::HttpsResponse record =
      AppRequest("GET", "/app/patients/A1/record?purpose=TREAT", clinician_);
  ASSERT_EQ(record.status, 200) << record.body;
  const std::string& html = record.body;
  EXPECT_THAT(html, AllOf(Not(HasSubstr("<script>")), Not(HasSubstr("style="))));
  // Every practice answered, and says so.
  for (const std::string org : {"org-a", "org-b", "org-c"}) {
    EXPECT_THAT(html, HasSubstr(absl::StrCat("<th scope=\"row\">", org))) << org;
  }
  EXPECT_THAT(html, HasSubstr("status-ok\">ok<"));
  // The sections, each item with its source.
  EXPECT_THAT(html,
              AllOf(HasSubstr(">Problems</h2>"), HasSubstr(">Medications</h2>"),
                    HasSubstr(">Allergies</h2>"), HasSubstr(">Results</h2>"),
                    HasSubstr(">Immunizations</h2>"), HasSubstr(">Encounters and notes</h2>")));
  EXPECT_THAT(ItemOf(html, "Type 2 diabetes"),
              AllOf(HasSubstr("badge own\">org-a"), HasSubstr("2020-05-01"), HasSubstr("active")));
  EXPECT_THAT(ItemOf(html, "Metformin 500 mg"),
              AllOf(HasSubstr("class=\"badge\">org-b<"), HasSubstr("twice daily")));
  EXPECT_THAT(ItemOf(html, "Penicillin"), HasSubstr("class=\"badge\">org-b<"));
  EXPECT_THAT(ItemOf(html, "Discharge letter"),
              AllOf(HasSubstr("class=\"badge\">org-c<"), HasSubstr("2025-01-05")));
  EXPECT_THAT(ItemOf(html, "Diabetes review"), HasSubstr("2024-06-10"));
  // The timeline is newest first: the letter (2025) before the visit (2024).
  EXPECT_LT(html.find(">Discharge letter<"), html.find(">Diabetes review<"));
  // The flu shot both org-b and org-c recorded: one item, both badges, marked.
  const std::string flu = ItemOf(html, "Influenza vaccine");
  EXPECT_THAT(flu, AllOf(HasSubstr("class=\"badge\">org-b<"), HasSubstr("class=\"badge\">org-c<"),
                         HasSubstr("also held by org-c")));
  size_t flu_items = 0;
  for (size_t at = 0; (at = html.find(">Influenza vaccine<", at)) != std::string::npos; ++at) {
    ++flu_items;
  }
  EXPECT_EQ(flu_items, 1u);
  // Two HbA1c results from two practices: a chart (inline SVG, presentation attributes
  // only) and a table of the values.
  EXPECT_THAT(html, AllOf(HasSubstr("<svg class=\"rv-chart\""), HasSubstr("<polyline points="),
                          HasSubstr("role=\"img\""), HasSubstr("<caption>Hemoglobin A1c (%)")));
  EXPECT_THAT(html, AllOf(HasSubstr("<td>2024-01-10</td><td>7.2 %</td><td>org-a</td>"),
                          HasSubstr("<td>2024-06-10</td><td>6.8 %</td><td>org-b</td>")));
  // What consent withheld, in plain words; the Part 2 note itself stays at org-b.
  EXPECT_THAT(html,
              AllOf(HasSubstr("Withheld by consent"), HasSubstr("<strong>42CFRPart2</strong>"),
                    HasSubstr("substance-use disorder treatment records")));
  EXPECT_THAT(html, Not(HasSubstr("counselling")));
  // org-b's Patient is named like markup: shown as text.
  EXPECT_THAT(html, HasSubstr("&lt;img src=x onerror=alert(1)&gt;"));
  EXPECT_THAT(html, Not(HasSubstr(kXss)));
  EXPECT_THAT(html, Not(HasSubstr("Emergency access (break-the-glass).")));
  // The query is the node's, for the signed-in user and the purpose chosen.
  bool queried = false;
  for (const hie::v1::AuditEntry& e : Audited(hie::v1::AUDIT_ACTION_QUERY)) {
    if (e.outcome() == "ok" && e.user().user_id() == "dr.lee" && e.purpose() == "TREAT") {
      queried = true;
    }
  }
  EXPECT_TRUE(queried);
}

TEST_F(WebClinicianTest, BreakingTheGlassNeedsAReasonAndIsMarkedAndAudited) {
  cli::HttpsResponse patient = AppRequest("GET", "/app/patients/A1", clinician_);
  ASSERT_EQ(patient.status, 200);
  const std::string csrf = CsrfField(patient.body);
  ASSERT_FALSE(csrf.empty());
  // Without the CSRF token, and without a reason (blank counts as none): refused.
  EXPECT_EQ(
      AppRequest("POST", "/app/patients/A1/emergency", clinician_, kForm, "reason=unconscious")
          .status,
      403);
  cli::HttpsResponse blank = AppRequest("POST", "/app/patients/A1/emergency", clinician_, kForm,
                                        absl::StrCat("_csrf=", csrf, "&reason=+++"));
  EXPECT_EQ(blank.status, 400);
  EXPECT_THAT(blank.body, HasSubstr("needs a reason"));
  EXPECT_TRUE(Audited(hie::v1::AUDIT_ACTION_BREAK_GLASS).empty());

  cli::HttpsResponse glass =
      AppRequest("POST", "/app/patients/A1/emergency", clinician_, kForm,
                 absl::StrCat("_csrf=", csrf, "&reason=unconscious+in+the+emergency+room"));
  ASSERT_EQ(glass.status, 200) << glass.body;
  EXPECT_THAT(glass.body,
              AllOf(HasSubstr("Emergency access (break-the-glass)."),
                    HasSubstr("class=\"emergency-access\""),
                    HasSubstr("Emergency treatment (ETREAT)"), HasSubstr("Influenza vaccine")));
  // In the node's audit chain: the break-the-glass with its reason, and the query.
  bool glass_audited = false;
  for (const hie::v1::AuditEntry& e : Audited(hie::v1::AUDIT_ACTION_BREAK_GLASS)) {
    if (e.user().user_id() == "dr.lee" && e.purpose() == "ETREAT" &&
        absl::StrContains(e.detail(), "unconscious in the emergency room")) {
      glass_audited = true;
    }
  }
  EXPECT_TRUE(glass_audited);
  bool queried = false;
  for (const hie::v1::AuditEntry& e : Audited(hie::v1::AUDIT_ACTION_QUERY)) {
    if (e.outcome() == "ok" && e.purpose() == "ETREAT") queried = true;
  }
  EXPECT_TRUE(queried);
  // And alerted in the node's log: who, which patient, why.
  EXPECT_THAT(ReadWholeFile(Log("node")),
              AllOf(HasSubstr("WARN"), HasSubstr("BREAK-THE-GLASS: user dr.lee"),
                    HasSubstr("patient A1"), HasSubstr("unconscious in the emergency room")));
}

TEST_F(WebClinicianTest, APracticeThatIsDownIsNamed) {
  ASSERT_TRUE(processes_.at("node-c").Stop(SIGTERM, absl::Seconds(10)).ok());
  cli::HttpsResponse record =
      AppRequest("GET", "/app/patients/A1/record?purpose=TREAT", clinician_);
  ASSERT_EQ(record.status, 200) << record.body;
  const std::string& html = record.body;
  size_t row = html.find("<th scope=\"row\">org-c");
  ASSERT_NE(row, std::string::npos) << html;
  const std::string org_c = html.substr(row, html.find("</tr>", row) - row);
  EXPECT_THAT(org_c, ::testing::AnyOf(HasSubstr(">unreachable<"), HasSubstr(">timed out<")));
  // org-b's records are there; org-c's letter is not, and the flu shot has one source.
  EXPECT_THAT(html, HasSubstr("Metformin 500 mg"));
  EXPECT_THAT(html, Not(HasSubstr("Discharge letter")));
  EXPECT_THAT(ItemOf(html, "Influenza vaccine"), Not(HasSubstr("also held by")));
}

}  // namespace
}  // namespace hie::testing
