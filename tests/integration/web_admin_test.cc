// The practice admin's pages over real HTTPS on a real node: users (add with a one-time
// password, reset, disable ending sessions, no self-disable), who may open them (a
// clinician may not; CSRF), node status (the MPI unreachable, then reachable; the
// outbox), import (upload, poll, records readable; a malformed line reported), and the
// audit log (filter by patient; the chain verifies).
#include <fstream>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cli/https_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/target.h"
#include "simdjson.h"
#include "tests/integration/web_fixture.h"

namespace hie::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Match(const std::string& html, const std::regex& re) {
  std::smatch m;
  return std::regex_search(html, m, re) ? m[1].str() : "";
}

// The one-time password a users page shows.
std::string ShownPassword(const std::string& html) {
  static const std::regex kShown("<p class=\"password\"><code>([^<]+)</code>");
  return Match(html, kShown);
}

class WebAdminTest : public WebFixture {
 protected:
  // A signed-in browser: its cookie and its session's CSRF token.
  struct Browser {
    std::string cookie;
    std::string csrf;
  };

  // Signs in and reads the CSRF token from the home page (or the password page).
  Browser Open(const std::string& login, const std::string& password) {
    cli::HttpsResponse in = PostSignIn(login, password);
    EXPECT_EQ(in.status, 303) << in.body;
    Browser b{.cookie = "hie_session=" + CookieValueOf(SetCookie(in, "hie_session"))};
    b.csrf = CsrfField(AppRequest("GET", "/app/password", b.cookie).body);
    EXPECT_FALSE(b.csrf.empty());
    return b;
  }

  cli::HttpsResponse Post(const Browser& b, const std::string& path, const std::string& fields) {
    return AppRequest("POST", path, b.cookie, kForm, absl::StrCat("_csrf=", b.csrf, "&", fields));
  }

  // Starts org-a's node (with the MPI and consent service when `exchange`) and signs
  // the admin in.
  void StartWithAdmin(bool exchange) {
    if (exchange) ASSERT_GT(StartMpiAndConsent(), 0);
    grpc_port_ = StartNodeWithApi();
    ASSERT_GT(grpc_port_, 0);
    ASSERT_NO_FATAL_FAILURE(AddWebUser(grpc_port_, "admin", "Ada Admin", "practice-admin"));
    admin_ = Open("admin", kPassword);
  }

  // Uploads `body` as import.js does; returns the job's URL.
  std::string Upload(const std::string& content_type, const std::string& body) {
    cli::HttpsResponse r =
        AppRequest("POST", "/app/admin/import", admin_.cookie, content_type, body,
                   {{"X-CSRF-Token", admin_.csrf}, {"X-File-Name", "f.json"}});
    EXPECT_EQ(r.status, 202) << r.body;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    std::string_view url;
    if (parser.parse(r.body).get(root) || root["url"].get_string().get(url)) return "";
    return std::string(url);
  }

  // Polls the job until it is no longer running; returns its last JSON.
  std::string AwaitJob(const std::string& url) {
    std::string body;
    for (int i = 0; i < 100; ++i) {
      cli::HttpsResponse r =
          AppRequest("GET", url, admin_.cookie, "", "", {{"Accept", "application/json"}});
      EXPECT_EQ(r.status, 200) << r.body;
      // One line, without the blank after each colon, for the assertions.
      body = absl::StrReplaceAll(r.body, {{"\": ", "\":"}});
      if (!absl::StrContains(body, "\"state\":\"running\"")) break;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return body;
  }

  int grpc_port_ = 0;
  Browser admin_;
};

TEST_F(WebAdminTest, UsersAddResetDisableAndEscaping) {
  ASSERT_NO_FATAL_FAILURE(StartWithAdmin(false));
  ASSERT_NO_FATAL_FAILURE(AddWebUser(grpc_port_, "dr.lee", kXss, "clinician"));

  cli::HttpsResponse users = AppRequest("GET", "/app/admin/users", admin_.cookie);
  ASSERT_EQ(users.status, 200);
  EXPECT_THAT(users.body,
              AllOf(HasSubstr("dr.lee"), HasSubstr("&lt;img src=x onerror=alert(1)&gt;"),
                    HasSubstr("admin"), Not(HasSubstr(kXss))));
  EXPECT_THAT(users.body, AllOf(Not(HasSubstr("style=")), Not(HasSubstr("<script>"))));
  EXPECT_EQ(Header(users, "cache-control"), "no-store");

  // Without the CSRF token nothing is added.
  EXPECT_EQ(AppRequest("POST", "/app/admin/users", admin_.cookie, kForm,
                       "login=nurse.kim&name=Kim&role=clinician")
                .status,
            403);

  // Added with a one-time password shown once; the new user must change it.
  cli::HttpsResponse added =
      Post(admin_, "/app/admin/users", "login=nurse.kim&name=Kim+Park&role=clinician");
  ASSERT_EQ(added.status, 200) << added.body;
  const std::string first = ShownPassword(added.body);
  ASSERT_EQ(first.size(), 19u) << added.body;  // 16 characters in groups of four
  EXPECT_EQ(ShownPassword(AppRequest("GET", "/app/admin/users", admin_.cookie).body), "");
  cli::HttpsResponse kim = PostSignIn("nurse.kim", first);
  ASSERT_EQ(kim.status, 303) << kim.body;
  const std::string kim_cookie = "hie_session=" + CookieValueOf(SetCookie(kim, "hie_session"));
  cli::HttpsResponse home = AppRequest("GET", "/app/", kim_cookie);
  EXPECT_EQ(home.status, 303);
  EXPECT_EQ(Header(home, "location"), "/app/password");

  // The same login again is refused, with the reason.
  cli::HttpsResponse twice =
      Post(admin_, "/app/admin/users", "login=nurse.kim&name=Kim&role=clinician");
  EXPECT_EQ(twice.status, 409);
  EXPECT_THAT(twice.body, HasSubstr("class=\"error\""));

  // Reset: a new password; the old one no longer works.
  cli::HttpsResponse reset = Post(admin_, "/app/admin/users/nurse.kim/reset", "");
  ASSERT_EQ(reset.status, 200) << reset.body;
  const std::string second = ShownPassword(reset.body);
  ASSERT_EQ(second.size(), 19u);
  EXPECT_NE(second, first);
  EXPECT_EQ(PostSignIn("nurse.kim", first).status, 401);
  // The reset ended the session the first password opened.
  EXPECT_EQ(AppRequest("GET", "/app/password", kim_cookie).status, 303);

  // Disable ends the user's live session and refuses sign-in; enable lets them back.
  cli::HttpsResponse again = PostSignIn("nurse.kim", second);
  ASSERT_EQ(again.status, 303);
  const std::string live = "hie_session=" + CookieValueOf(SetCookie(again, "hie_session"));
  EXPECT_EQ(AppRequest("GET", "/app/password", live).status, 200);
  cli::HttpsResponse disabled = Post(admin_, "/app/admin/users/nurse.kim/disable", "");
  EXPECT_EQ(disabled.status, 200);
  EXPECT_THAT(disabled.body, HasSubstr("disabled"));
  EXPECT_EQ(AppRequest("GET", "/app/password", live).status, 303);
  EXPECT_NE(PostSignIn("nurse.kim", second).status, 303);
  EXPECT_EQ(Post(admin_, "/app/admin/users/nurse.kim/enable", "").status, 200);
  EXPECT_EQ(PostSignIn("nurse.kim", second).status, 303);

  // An admin cannot disable themselves.
  cli::HttpsResponse self = Post(admin_, "/app/admin/users/admin/disable", "");
  EXPECT_EQ(self.status, 409);
  EXPECT_EQ(AppRequest("GET", "/app/admin/users", admin_.cookie).status, 200);

  // Every change is in the node's audit chain with who made it: the admin's through the
  // pages, dr.lee's through hiectl with the node's certificate.
  auto events = cli::HttpsRequest("GET", base_ + "/AuditEvent?subtype=AUDIT_ACTION_ACCOUNT",
                                  Path("ca/ca.crt"), "", "", absl::Seconds(10), {},
                                  Path("certs/node-a.crt"), Path("certs/node-a.key"));
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_THAT(events->body, AllOf(HasSubstr("ok: add role clinician"), HasSubstr("ok: reset"),
                                  HasSubstr("ok: disable"), HasSubstr("ok: enable"),
                                  HasSubstr("ok: add hiectl, role clinician"),
                                  HasSubstr("login:nurse.kim"), HasSubstr("\"altId\": \"admin\"")));
}

TEST_F(WebAdminTest, OnlyAdminsOpenAdminPages) {
  ASSERT_NO_FATAL_FAILURE(StartWithAdmin(false));
  ASSERT_NO_FATAL_FAILURE(AddWebUser(grpc_port_, "dr.lee", "Dr Lee", "clinician"));
  Browser lee = Open("dr.lee", kPassword);
  for (const char* page : {"/app/admin/users", "/app/admin/status", "/app/admin/import",
                           "/app/admin/audit", "/app/admin/import/1-1"}) {
    EXPECT_EQ(AppRequest("GET", page, lee.cookie).status, 403) << page;
    EXPECT_EQ(AppRequest("GET", page, "").status, 303) << page;  // to sign in
  }
  for (const char* action :
       {"/app/admin/users", "/app/admin/users/admin/disable", "/app/admin/users/admin/reset",
        "/app/admin/users/admin/enable", "/app/admin/users/admin/remove-totp", "/app/admin/import",
        "/app/admin/audit/verify"}) {
    EXPECT_EQ(Post(lee, action, "login=x&name=X&role=practice-admin").status, 403) << action;
  }
  EXPECT_EQ(AppRequest("POST", "/app/admin/import", lee.cookie, "application/fhir+json", "{}",
                       {{"X-CSRF-Token", lee.csrf}})
                .status,
            403);
  // The admin is untouched.
  EXPECT_EQ(AppRequest("GET", "/app/admin/users", admin_.cookie).status, 200);
}

TEST_F(WebAdminTest, StatusWithoutAnMpiShowsItUnreachable) {
  ASSERT_NO_FATAL_FAILURE(StartWithAdmin(false));
  cli::HttpsResponse status = AppRequest("GET", "/app/admin/status", admin_.cookie);
  ASSERT_EQ(status.status, 200) << status.body;
  static const std::regex kMpi(
      "<th scope=\"row\">MPI</th><td>[^<]*</td><td><span class=\"([a-z-]+)\">");
  EXPECT_EQ(Match(status.body, kMpi), "state-bad") << status.body;
  EXPECT_THAT(status.body, AllOf(HasSubstr("Consent service"), HasSubstr("<p id=\"outbox\">0</p>"),
                                 HasSubstr("id=\"cert-days\"")));

  // An imported patient is owed to the (unreachable) MPI: the backlog shows it.
  std::string url = Upload("application/fhir+json",
                           R"({"resourceType":"Patient","id":"p1","name":[{"family":"Doe"}],)"
                           R"("birthDate":"1970-01-01","gender":"female"})");
  ASSERT_THAT(AwaitJob(url), HasSubstr("\"state\":\"done\""));
  status = AppRequest("GET", "/app/admin/status", admin_.cookie);
  EXPECT_THAT(status.body, AllOf(HasSubstr("<p id=\"outbox\">1</p>"),
                                 HasSubstr("<td id=\"records-total\">1</td>")));
}

TEST_F(WebAdminTest, StatusWithTheExchangeShowsItReachable) {
  ASSERT_NO_FATAL_FAILURE(StartWithAdmin(true));
  cli::HttpsResponse status = AppRequest("GET", "/app/admin/status", admin_.cookie);
  ASSERT_EQ(status.status, 200) << status.body;
  static const std::regex kMpi(
      "<th scope=\"row\">MPI</th><td>[^<]*</td><td><span class=\"([a-z-]+)\">");
  static const std::regex kConsent(
      "<th scope=\"row\">Consent service</th><td>[^<]*</td><td><span class=\"([a-z-]+)\">");
  EXPECT_EQ(Match(status.body, kMpi), "state-ok") << status.body;
  EXPECT_EQ(Match(status.body, kConsent), "state-ok") << status.body;
}

TEST_F(WebAdminTest, ImportAndAuditLog) {
  ASSERT_NO_FATAL_FAILURE(StartWithAdmin(false));
  const std::string bundle = R"({"resourceType":"Bundle","type":"collection","entry":[
    {"resource":{"resourceType":"Patient","id":"p1","name":[{"family":"Doe","given":["Jane"]}]}},
    {"resource":{"resourceType":"Observation","id":"o1","status":"final",
      "code":{"text":"weight"},"subject":{"reference":"Patient/p1"},
      "valueQuantity":{"value":70,"unit":"kg"}}}]})";
  std::string job = AwaitJob(Upload("application/fhir+json", bundle));
  EXPECT_THAT(job, AllOf(HasSubstr("\"state\":\"done\""), HasSubstr("\"records_done\":2"),
                         HasSubstr("\"records_failed\":0"), HasSubstr("\"started_by\":\"admin\"")));

  // A malformed NDJSON line is reported with its line number; the others are stored.
  const std::string ndjson =
      "{\"resourceType\":\"Patient\",\"id\":\"p2\"}\n{not json\n"
      "{\"resourceType\":\"Patient\",\"id\":\"p3\"}\n";
  job = AwaitJob(Upload("application/x-ndjson", ndjson));
  EXPECT_THAT(job, AllOf(HasSubstr("\"state\":\"done\""), HasSubstr("\"records_done\":2"),
                         HasSubstr("\"records_failed\":1"), HasSubstr("\"line\":2"),
                         HasSubstr("\"records_total\":3")));
  // Without script: a pasted document, and the job's page.
  cli::HttpsResponse pasted =
      Post(admin_, "/app/admin/import", "format=json&content=" + http::PercentEncode(bundle));
  ASSERT_EQ(pasted.status, 303) << pasted.body;
  cli::HttpsResponse page = AppRequest("GET", Header(pasted, "location"), admin_.cookie, "", "",
                                       {{"Accept", "text/html,application/xhtml+xml,*/*"}});
  EXPECT_EQ(page.status, 200);
  EXPECT_THAT(page.body, HasSubstr("<progress id=\"progress\""));
  EXPECT_THAT(AppRequest("GET", "/app/admin/import", admin_.cookie).body,
              AllOf(HasSubstr("64 MiB"), HasSubstr("/app/assets/import.js"), HasSubstr("f.json")));
  EXPECT_EQ(AppRequest("GET", "/app/assets/import.js", "").status, 200);
  EXPECT_EQ(AppRequest("GET", "/app/admin/import/no-such-job", admin_.cookie, "", "",
                       {{"Accept", "application/json"}})
                .status,
            404);

  // The records are readable through the FHIR API; the reads are audited.
  std::string client = AddClient(grpc_port_, "emr", "system/*.read");
  CommandResult token = Token(client, "emr", {"--user", "dr-ana", "--purpose", "TREAT"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  const std::string bearer = Trim(token.out);
  cli::HttpsResponse read = Get("/Observation/o1", bearer);
  EXPECT_EQ(read.status, 200) << read.body;
  EXPECT_THAT(read.body, HasSubstr("weight"));
  EXPECT_EQ(Get("/Patient/p3", bearer).status, 200);

  // The audit log, filtered by patient: p1's reads, not p3's.
  cli::HttpsResponse audit = AppRequest("GET", "/app/admin/audit?patient=p1", admin_.cookie);
  ASSERT_EQ(audit.status, 200) << audit.body;
  EXPECT_THAT(audit.body, AllOf(HasSubstr("Observation/o1"), HasSubstr("dr-ana"),
                                Not(HasSubstr("Patient/p3"))));
  cli::HttpsResponse all = AppRequest("GET", "/app/admin/audit", admin_.cookie);
  EXPECT_THAT(all.body, AllOf(HasSubstr("Observation/o1"), HasSubstr("Patient/p3")));
  // Newest first: p3's read comes before o1's.
  EXPECT_LT(all.body.find("Patient/p3"), all.body.find("Observation/o1"));
  EXPECT_EQ(AppRequest("GET", "/app/admin/audit?from=not-a-date", admin_.cookie).status, 400);

  // Verify: intact; without the token, refused.
  EXPECT_EQ(AppRequest("POST", "/app/admin/audit/verify", admin_.cookie, kForm, "").status, 403);
  cli::HttpsResponse verified = Post(admin_, "/app/admin/audit/verify", "");
  ASSERT_EQ(verified.status, 200) << verified.body;
  EXPECT_THAT(verified.body, HasSubstr("<p id=\"verify-result\"><strong>Intact</strong>"));
}

}  // namespace
}  // namespace hie::testing
