// The front desk's pages over real HTTPS on a real node: registering a patient (read back
// through the FHIR API and registered with a real MPI), finding and updating them (a
// stale form refused), field-by-field validation, CSRF, other roles refused, record text
// escaped, and the portal invitation that a patient turns into an account, once.
#include <chrono>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/https_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/web_fixture.h"

namespace hie::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kEscapedXss[] = "&lt;img src=x onerror=alert(1)&gt;";

std::string Match(const std::string& html, const std::string& pattern) {
  std::smatch m;
  const std::regex re(pattern);
  return std::regex_search(html, m, re) ? m[1].str() : "";
}

// A form body: each value percent-encoded.
std::string FormBody(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string body;
  for (const auto& [name, value] : fields) {
    if (!body.empty()) body += '&';
    absl::StrAppend(&body, name, "=");
    for (unsigned char c : value) {
      if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
        body += static_cast<char>(c);
      } else {
        absl::StrAppend(&body, "%", absl::Hex(c, absl::kZeroPad2));
      }
    }
  }
  return body;
}

using Fields = std::vector<std::pair<std::string, std::string>>;

Fields JaneForm(const std::string& csrf) {
  return {{"_csrf", csrf},
          {"family", "Oyelaran"},
          {"given", "Jane"},
          {"birthdate", "1984-06-02"},
          {"gender", "female"},
          {"phone", "+1 555 0100"},
          {"line", "12 Main Street"},
          {"city", "Springfield"},
          {"postal", "62701"},
          {"idsystem", "urn:hie:org:org-a:mrn"},
          {"idvalue", "MRN-1001"}};
}

class WebFrontDeskTest : public WebFixture {
 protected:
  // A page, or a form posted (`body`, urlencoded).
  cli::HttpsResponse Request(const std::string& method, const std::string& path,
                             const std::string& cookie, const std::string& body = "") {
    return AppRequest(method, path, cookie, body.empty() ? "" : kForm, body);
  }

  // Signs in through the sign-in form; the Cookie header of the session ("" if refused).
  std::string SignIn(const std::string& login, const std::string& password = kPassword) {
    return SessionCookie(PostSignIn(login, password));
  }

  // Registers `fields` (their _csrf replaced by the session's); returns the answer.
  cli::HttpsResponse Register(const std::string& session, Fields fields) {
    cli::HttpsResponse form = Request("GET", "/app/front-desk/register", session);
    EXPECT_EQ(form.status, 200);
    for (auto& [name, value] : fields) {
      if (name == "_csrf") value = CsrfField(form.body);
    }
    return Request("POST", "/app/front-desk/register", session, FormBody(fields));
  }

  // The local id a registration's redirect names.
  static std::string RegisteredId(const cli::HttpsResponse& r) {
    return Match(Header(r, "location"), "^/app/front-desk/patients/([^?]+)\\?registered=1$");
  }

  int grpc_port_ = 0;
};

TEST_F(WebFrontDeskTest, RegistersFindsAndUpdatesAPatientWhoReachesTheMpi) {
  int mpi = StartMpiAndConsent();
  ASSERT_GT(mpi, 0);
  Enroll(mpi, "org-a");
  grpc_port_ = StartNodeWithApi();
  ASSERT_GT(grpc_port_, 0);
  ASSERT_NO_FATAL_FAILURE(AddWebUser(grpc_port_, "desk", "Front Desk", "front-desk"));
  const std::string desk = SignIn("desk");
  ASSERT_FALSE(desk.empty());

  // The form: every input labelled, no inline script or style.
  cli::HttpsResponse form = Request("GET", "/app/front-desk/register", desk);
  ASSERT_EQ(form.status, 200);
  for (const char* field : {"family", "given", "birthdate", "gender", "phone", "line", "city",
                            "postal", "idsystem", "idvalue"}) {
    EXPECT_THAT(form.body, HasSubstr(absl::StrCat("<label for=\"", field, "\">"))) << field;
  }
  EXPECT_THAT(form.body, AllOf(Not(HasSubstr("<script>")), Not(HasSubstr("style="))));

  // Missing and malformed fields: 400, a message at each, and nothing stored.
  Fields incomplete = JaneForm("");
  for (auto& [name, value] : incomplete) {
    if (name == "family") value = "";
    if (name == "birthdate") value = "2001-02-30";
    if (name == "gender") value = "";
  }
  cli::HttpsResponse refused = Register(desk, incomplete);
  EXPECT_EQ(refused.status, 400);
  EXPECT_THAT(refused.body,
              AllOf(HasSubstr("id=\"family-error\">Enter the family name."),
                    HasSubstr("id=\"birthdate-error\">Enter the date of birth as year-month-day"),
                    HasSubstr("id=\"gender-error\">Choose the gender"),
                    HasSubstr("aria-invalid=\"true\""), Not(HasSubstr("given-error"))));
  // What was typed stays in the form.
  EXPECT_THAT(refused.body, HasSubstr("value=\"12 Main Street\""));

  // No CSRF token: refused before anything is read.
  cli::HttpsResponse forged =
      Request("POST", "/app/front-desk/register", desk, FormBody(JaneForm("not-the-token")));
  EXPECT_EQ(forged.status, 403);

  // Registered: 303 to the patient's page, which names the new local id.
  cli::HttpsResponse registered = Register(desk, JaneForm(""));
  ASSERT_EQ(registered.status, 303) << registered.body;
  const std::string id = RegisteredId(registered);
  ASSERT_FALSE(id.empty()) << Header(registered, "location");
  cli::HttpsResponse page = Request("GET", Header(registered, "location"), desk);
  ASSERT_EQ(page.status, 200);
  EXPECT_THAT(page.body,
              AllOf(HasSubstr(absl::StrCat("<code>", id, "</code>")), HasSubstr("Registered."),
                    HasSubstr("value=\"Oyelaran\""), HasSubstr("value=\"MRN-1001\"")));

  // The same identifier again finds that patient instead of registering a second one.
  cli::HttpsResponse again = Register(desk, JaneForm(""));
  ASSERT_EQ(again.status, 303);
  EXPECT_EQ(Header(again, "location"),
            absl::StrCat("/app/front-desk/patients/", id, "?existing=1"));

  // The FHIR API reads what the page wrote: a Patient as FHIR R4 has it.
  std::string client = AddClient(grpc_port_, "emr", "system/Patient.rs");
  CommandResult token = Token(client, "emr", {"--scope", "system/Patient.rs"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  const std::string bearer = Trim(token.out);
  cli::HttpsResponse fhir = Get("/Patient/" + id, bearer);
  ASSERT_EQ(fhir.status, 200) << fhir.body;
  EXPECT_THAT(fhir.body,
              AllOf(HasSubstr("\"family\":\"Oyelaran\""), HasSubstr("\"given\":[\"Jane\"]"),
                    HasSubstr("\"birthDate\":\"1984-06-02\""),
                    HasSubstr("\"postalCode\":\"62701\""), HasSubstr("\"value\":\"MRN-1001\"")));

  // The registration reached the MPI (through the node's outbox).
  hie::v1::CrossReference xref;
  grpc::Status found;
  for (int i = 0; i < 100; ++i) {
    found = Xref(MpiAs("operator", mpi).get(), "org-a", id, &xref);
    if (found.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(found.ok()) << found.error_message();
  EXPECT_FALSE(xref.euid().empty());

  // Found by the search, with links to the patient and to invite them.
  cli::HttpsResponse search =
      Request("GET", "/app/front-desk?family=oyel&birthdate=1984-06-02", desk);
  ASSERT_EQ(search.status, 200);
  EXPECT_THAT(search.body,
              AllOf(HasSubstr(absl::StrCat("href=\"/app/front-desk/patients/", id, "\"")),
                    HasSubstr(absl::StrCat("action=\"/app/front-desk/patients/", id, "/invite\"")),
                    HasSubstr("1 patient matches")));
  cli::HttpsResponse none = Request("GET", "/app/front-desk?family=nobody", desk);
  EXPECT_THAT(none.body, HasSubstr("No patient of this practice matches"));
  EXPECT_EQ(Request("GET", "/app/front-desk?birthdate=notadate", desk).status, 400);

  // An update at the version the form was read at is saved.
  const std::string version = Match(page.body, "name=\"version\" value=\"([0-9]+)\"");
  ASSERT_EQ(version, "1");
  Fields moved = JaneForm(CsrfField(page.body));
  for (auto& [name, value] : moved) {
    if (name == "city") value = "Shelbyville";
  }
  moved.emplace_back("version", version);
  cli::HttpsResponse saved =
      Request("POST", "/app/front-desk/patients/" + id, desk, FormBody(moved));
  ASSERT_EQ(saved.status, 303) << saved.body;
  EXPECT_EQ(Header(saved, "location"), absl::StrCat("/app/front-desk/patients/", id, "?saved=1"));
  fhir = Get("/Patient/" + id, bearer);
  EXPECT_THAT(fhir.body, AllOf(HasSubstr("Shelbyville"), HasSubstr("\"versionId\":\"2\"")));

  // The same form again (read at version 1): refused, saying why, and nothing changes.
  for (auto& [name, value] : moved) {
    if (name == "city") value = "Capital City";
  }
  cli::HttpsResponse stale =
      Request("POST", "/app/front-desk/patients/" + id, desk, FormBody(moved));
  EXPECT_EQ(stale.status, 409);
  EXPECT_THAT(stale.body, HasSubstr("changed since you opened it"));
  EXPECT_THAT(Get("/Patient/" + id, bearer).body, Not(HasSubstr("Capital City")));

  // An unknown patient: 404.
  EXPECT_EQ(Request("GET", "/app/front-desk/patients/no-such-patient", desk).status, 404);
}

// The update form shows a Patient's first name, phone, address line, city, postal code
// and identifier; saving it keeps everything else the record holds: a two-word given
// name stays one name, the address's second line and state stay, and the name's text
// goes only once the name changes.
TEST_F(WebFrontDeskTest, AnUpdateKeepsWhatTheFormDoesNotShow) {
  grpc_port_ = StartNodeWithApi();
  ASSERT_GT(grpc_port_, 0);
  ASSERT_NO_FATAL_FAILURE(AddWebUser(grpc_port_, "desk", "Front Desk", "front-desk"));
  const std::string desk = SignIn("desk");
  ASSERT_FALSE(desk.empty());
  std::string file = Path("mary.json");
  std::ofstream(file)
      << R"({"resourceType":"Patient","id":"mary","name":[{"text":"Mary Ann Lee",)"
      << R"("family":"Lee","given":["Mary Ann"]}],"gender":"female",)"
      << R"("birthDate":"1970-01-02","address":[{"line":["12 Main Street",)"
      << R"("Apartment 4"],"city":"Springfield","state":"IL","postalCode":"62701"}]})";
  ASSERT_EQ(HiectlAs("node-a", grpc_port_, {"import", file}).exit_code, 0);
  std::string client = AddClient(grpc_port_, "emr", "system/Patient.rs");
  CommandResult token = Token(client, "emr", {"--scope", "system/Patient.rs"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  const std::string bearer = Trim(token.out);

  cli::HttpsResponse page = Request("GET", "/app/front-desk/patients/mary", desk);
  ASSERT_EQ(page.status, 200) << page.body;
  auto save = [&](const std::string& family, const std::string& city) {
    cli::HttpsResponse now = Request("GET", "/app/front-desk/patients/mary", desk);
    Fields form = {{"_csrf", CsrfField(now.body)},
                   {"family", family},
                   {"given", "Mary Ann"},
                   {"birthdate", "1970-01-02"},
                   {"gender", "female"},
                   {"line", "12 Main Street"},
                   {"city", city},
                   {"postal", "62701"},
                   {"version", Match(now.body, "name=\"version\" value=\"([0-9]+)\"")}};
    return Request("POST", "/app/front-desk/patients/mary", desk, FormBody(form));
  };
  ASSERT_EQ(save("Lee", "Shelbyville").status, 303);
  std::string stored = Get("/Patient/mary", bearer).body;
  EXPECT_THAT(stored, AllOf(HasSubstr("\"given\":[\"Mary Ann\"]"), HasSubstr("Apartment 4"),
                            HasSubstr("\"state\":\"IL\""), HasSubstr("Shelbyville"),
                            HasSubstr("\"text\":\"Mary Ann Lee\"")))
      << stored;
  ASSERT_EQ(save("Lee-Smith", "Shelbyville").status, 303);
  stored = Get("/Patient/mary", bearer).body;
  EXPECT_THAT(stored, AllOf(HasSubstr("Lee-Smith"), Not(HasSubstr("Mary Ann Lee")),
                            HasSubstr("Apartment 4")))
      << stored;
}

// An identifier stored without a system is shown as "Not stated", and saving asks which
// kind it is instead of writing this practice's MRN system into the record.
TEST_F(WebFrontDeskTest, AnIdentifierWithoutASystemIsNotGivenOne) {
  grpc_port_ = StartNodeWithApi();
  ASSERT_GT(grpc_port_, 0);
  ASSERT_NO_FATAL_FAILURE(AddWebUser(grpc_port_, "desk", "Front Desk", "front-desk"));
  const std::string desk = SignIn("desk");
  ASSERT_FALSE(desk.empty());
  std::string file = Path("ann.json");
  std::ofstream(file) << R"({"resourceType":"Patient","id":"ann","name":[{"family":"Okafor",)"
                      << R"("given":["Ann"]}],"gender":"female","birthDate":"1970-01-02",)"
                      << R"("identifier":[{"value":"X-1234"}]})";
  ASSERT_EQ(HiectlAs("node-a", grpc_port_, {"import", file}).exit_code, 0);
  cli::HttpsResponse page = Request("GET", "/app/front-desk/patients/ann", desk);
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_THAT(page.body, HasSubstr("<option value=\"\" selected>Not stated</option>"));
  Fields form = {{"_csrf", CsrfField(page.body)},
                 {"family", "Okafor"},
                 {"given", "Ann"},
                 {"birthdate", "1970-01-02"},
                 {"gender", "female"},
                 {"idsystem", ""},
                 {"idvalue", "X-1234"},
                 {"version", Match(page.body, "name=\"version\" value=\"([0-9]+)\"")}};
  cli::HttpsResponse saved = Request("POST", "/app/front-desk/patients/ann", desk, FormBody(form));
  EXPECT_EQ(saved.status, 400) << saved.body;
  EXPECT_THAT(saved.body, HasSubstr("Choose what kind of identifier it is."));
}

TEST_F(WebFrontDeskTest, RecordTextIsEscapedAndOtherRolesAreRefused) {
  grpc_port_ = StartNodeWithApi();
  ASSERT_GT(grpc_port_, 0);
  ASSERT_NO_FATAL_FAILURE(AddWebUser(grpc_port_, "desk", "Front Desk", "front-desk"));
  ASSERT_NO_FATAL_FAILURE(AddWebUser(grpc_port_, "dr.lee", "Dr Lee", "clinician"));
  const std::string desk = SignIn("desk");
  const std::string clinician = SignIn("dr.lee");
  ASSERT_FALSE(desk.empty());
  ASSERT_FALSE(clinician.empty());

  Fields xss = JaneForm("");
  for (auto& [name, value] : xss) {
    if (name == "family") value = kXss;
    if (name == "idvalue") value = "";
  }
  cli::HttpsResponse registered = Register(desk, xss);
  ASSERT_EQ(registered.status, 303) << registered.body;
  const std::string id = RegisteredId(registered);
  for (const std::string& path :
       {absl::StrCat("/app/front-desk/patients/", id), std::string("/app/front-desk?given=jane")}) {
    cli::HttpsResponse page = Request("GET", path, desk);
    ASSERT_EQ(page.status, 200) << path;
    EXPECT_THAT(page.body, AllOf(HasSubstr(kEscapedXss), Not(HasSubstr(kXss)))) << path;
  }

  // A clinician opens no front-desk page and posts to none; nobody signed in neither.
  for (const std::string& path :
       {std::string("/app/front-desk"), std::string("/app/front-desk/register"),
        absl::StrCat("/app/front-desk/patients/", id)}) {
    EXPECT_EQ(Request("GET", path, clinician).status, 403) << path;
    EXPECT_EQ(Request("GET", path, "").status, 303) << path;
  }
  cli::HttpsResponse home = Request("GET", "/app/", clinician);
  const std::string csrf = CsrfField(home.body);
  ASSERT_FALSE(csrf.empty());
  EXPECT_EQ(Request("POST", "/app/front-desk/register", clinician, FormBody(JaneForm(csrf))).status,
            403);
  EXPECT_EQ(Request("POST", absl::StrCat("/app/front-desk/patients/", id, "/invite"), clinician,
                    FormBody({{"_csrf", csrf}}))
                .status,
            403);
}

TEST_F(WebFrontDeskTest, AnInvitationCodeMakesThePatientsAccountOnce) {
  grpc_port_ = StartNodeWithApi();
  ASSERT_GT(grpc_port_, 0);
  ASSERT_NO_FATAL_FAILURE(AddWebUser(grpc_port_, "desk", "Front Desk", "front-desk"));
  const std::string desk = SignIn("desk");
  ASSERT_FALSE(desk.empty());
  cli::HttpsResponse registered = Register(desk, JaneForm(""));
  ASSERT_EQ(registered.status, 303);
  const std::string id = RegisteredId(registered);
  cli::HttpsResponse page = Request("GET", Header(registered, "location"), desk);
  const std::string csrf = CsrfField(page.body);

  // The invitation needs the session's CSRF token; then its code is shown, once.
  const std::string invite_path = absl::StrCat("/app/front-desk/patients/", id, "/invite");
  EXPECT_EQ(Request("POST", invite_path, desk, FormBody({{"_csrf", "forged"}})).status, 403);
  cli::HttpsResponse invited = Request("POST", invite_path, desk, FormBody({{"_csrf", csrf}}));
  ASSERT_EQ(invited.status, 200) << invited.body;
  const std::string code =
      Match(invited.body, "class=\"invite-code\">([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})<");
  ASSERT_FALSE(code.empty()) << invited.body;
  EXPECT_THAT(invited.body, AllOf(HasSubstr("/app/invite"), HasSubstr("Oyelaran")));
  EXPECT_EQ(Header(invited, "cache-control"), "no-store");

  // The patient's form (anonymous), with a CSRF token of its own.
  auto redeem = [&](const std::string& typed, const std::string& login, bool with_cookie = true) {
    cli::HttpsResponse form = Request("GET", "/app/invite", "");
    EXPECT_EQ(form.status, 200);
    EXPECT_THAT(form.body,
                AllOf(HasSubstr("<label for=\"code\">"), HasSubstr("<label for=\"login\">"),
                      HasSubstr("<label for=\"password\">")));
    const std::string cookie =
        with_cookie
            ? absl::StrCat("hie_invite_csrf=", CookieValueOf(SetCookie(form, "hie_invite_csrf")))
            : "";
    return Request("POST", "/app/invite", cookie,
                   FormBody({{"_csrf", CsrfField(form.body)},
                             {"code", typed},
                             {"login", login},
                             {"password", "seven blue herons at dawn"},
                             {"confirm", "seven blue herons at dawn"}}));
  };
  EXPECT_EQ(redeem(code, "jane.o", /*with_cookie=*/false).status, 403);
  cli::HttpsResponse wrong = redeem("AAAA-BBBB-CCCC", "jane.o");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_THAT(wrong.body, HasSubstr("wrong, already used or expired"));
  EXPECT_TRUE(SetCookie(wrong, "hie_session").empty());

  // The right code (as a person might type it): an account for this patient, signed in.
  std::string typed = code;
  for (char& c : typed) c = c == '-' ? ' ' : static_cast<char>(absl::ascii_tolower(c));
  cli::HttpsResponse made = redeem(typed, "jane.o");
  ASSERT_EQ(made.status, 303) << made.body;
  EXPECT_EQ(Header(made, "location"), "/app/");
  const std::string session = "hie_session=" + CookieValueOf(SetCookie(made, "hie_session"));
  cli::HttpsResponse home = Request("GET", "/app/", session);
  ASSERT_EQ(home.status, 200);
  EXPECT_THAT(home.body, AllOf(HasSubstr("Jane Oyelaran"), HasSubstr("patient")));
  // A patient opens no front-desk page.
  EXPECT_EQ(Request("GET", "/app/front-desk", session).status, 403);
  // The account signs in with the password chosen.
  EXPECT_FALSE(SignIn("jane.o", "seven blue herons at dawn").empty());
  CommandResult users = HiectlAs("node-a", grpc_port_, {"user", "list", "--json"});
  ASSERT_EQ(users.exit_code, 0) << users.err;
  EXPECT_THAT(users.out, AllOf(HasSubstr("jane.o"), HasSubstr(id)));

  // The code is spent.
  cli::HttpsResponse twice = redeem(code, "jane.again");
  EXPECT_EQ(twice.status, 401);
  EXPECT_TRUE(SignIn("jane.again", "seven blue herons at dawn").empty());

  // A new invitation replaces an unused one: only the latest works.
  cli::HttpsResponse first = Request("POST", invite_path, desk, FormBody({{"_csrf", csrf}}));
  cli::HttpsResponse second = Request("POST", invite_path, desk, FormBody({{"_csrf", csrf}}));
  const std::string pattern = "class=\"invite-code\">([A-Z2-9-]{14})<";
  const std::string old_code = Match(first.body, pattern);
  const std::string new_code = Match(second.body, pattern);
  ASSERT_FALSE(old_code.empty());
  ASSERT_NE(old_code, new_code);
  EXPECT_EQ(redeem(old_code, "jane.two").status, 401);
  // A login that is taken leaves the code usable.
  cli::HttpsResponse taken = redeem(new_code, "jane.o");
  EXPECT_EQ(taken.status, 409);
  EXPECT_THAT(taken.body, HasSubstr("login is taken"));
  EXPECT_EQ(redeem(new_code, "jane.two").status, 303);
}

}  // namespace
}  // namespace hie::testing
