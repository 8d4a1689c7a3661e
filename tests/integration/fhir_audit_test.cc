// GET /AuditEvent on a real node: every read and write through the API is in the node's
// audit chain, found by patient, agent, date and subtype, in pages whose next links work;
// only the practice itself and the exchange's operator may read it.
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/https_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "tests/integration/fhir_fixture.h"

namespace hie::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

class FhirAuditTest : public FhirApiFixture {
 protected:
  cli::HttpsResponse AsCertificate(const std::string& who, const std::string& url) {
    auto r = cli::HttpsRequest("GET", url, Path("ca/ca.crt"), "", "", absl::Seconds(10), {},
                               Path("certs/" + who + ".crt"), Path("certs/" + who + ".key"));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : cli::HttpsResponse{};
  }

  // The bundle's entries' AuditEvent ids and its next link.
  static std::pair<std::vector<std::string>, std::string> Page(const std::string& body) {
    std::vector<std::string> ids;
    std::string next;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(body).get(root)) return {ids, next};
    simdjson::dom::array entries, links;
    if (!root["entry"].get_array().get(entries)) {
      for (auto e : entries) {
        std::string_view id;
        if (!e["resource"]["id"].get_string().get(id)) ids.emplace_back(id);
      }
    }
    if (!root["link"].get_array().get(links)) {
      for (auto l : links) {
        std::string_view relation, url;
        if (!l["relation"].get_string().get(relation) && relation == "next" &&
            !l["url"].get_string().get(url)) {
          next = std::string(url);
        }
      }
    }
    return {ids, next};
  }
};

TEST_F(FhirAuditTest, EveryApiAccessIsInTheChainAndSearchable) {
  int port = StartNodeWithApi();
  ASSERT_GT(port, 0);
  std::string client = AddClient(port, "emr", "system/*.cruds");
  CommandResult token = Token(client, "emr",
                              {"--user", "dr-ana", "--user-name", "Dr Ana Lima", "--purpose",
                               "TREAT", "--scope", "system/*.cruds"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  std::string bearer = Trim(token.out);

  ASSERT_EQ(Send("PUT", "/Patient/p-1", R"({"resourceType":"Patient","id":"p-1"})", bearer).status,
            201);
  ASSERT_EQ(
      Send(
          "PUT", "/Observation/o-1",
          R"({"resourceType":"Observation","id":"o-1","status":"final","code":{"text":"HR"},"subject":{"reference":"Patient/p-1"}})",
          bearer)
          .status,
      201);
  ASSERT_EQ(Get("/Observation/o-1", bearer).status, 200);
  ASSERT_EQ(Get("/Patient/p-1/_history", bearer).status, 200);
  ASSERT_EQ(Get("/Observation?patient=p-1", bearer).status, 200);

  const std::string audit = base_ + "/AuditEvent";
  cli::HttpsResponse about = AsCertificate("node-a", audit + "?patient=Patient/p-1");
  ASSERT_EQ(about.status, 200) << about.body;
  EXPECT_THAT(about.body,
              AllOf(HasSubstr("\"code\": \"rest\""), HasSubstr("\"code\": \"update\""),
                    HasSubstr("\"code\": \"read\""), HasSubstr("\"code\": \"history-instance\""),
                    HasSubstr("\"code\": \"search-type\""), HasSubstr("\"altId\": \"dr-ana\""),
                    HasSubstr("Dr Ana Lima"), HasSubstr("\"reference\": \"Observation/o-1\""),
                    HasSubstr("\"reference\": \"Patient/p-1\""), HasSubstr("\"code\": \"TREAT\"")));
  EXPECT_EQ(Page(about.body).first.size(), 5u);

  // By agent, subtype, action and date.
  EXPECT_EQ(Page(AsCertificate("node-a", audit + "?agent=dr-ana").body).first.size(), 5u);
  EXPECT_EQ(Page(AsCertificate("node-a", audit + "?agent=dr-bo").body).first.size(), 0u);
  EXPECT_EQ(Page(AsCertificate("node-a", audit + "?subtype=AUDIT_ACTION_ACCESS&action=R").body)
                .first.size(),
            2u);
  const std::string today = absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone());
  EXPECT_EQ(
      Page(AsCertificate("node-a", audit + "?agent=dr-ana&date=ge" + today).body).first.size(), 5u);
  EXPECT_EQ(
      Page(AsCertificate("node-a", audit + "?agent=dr-ana&date=lt" + today).body).first.size(), 0u);

  // Pages of one: following next links gives each entry once, in order.
  std::vector<std::string> all;
  std::string url = audit + "?agent=dr-ana&_count=1";
  for (int i = 0; i < 10 && !url.empty(); ++i) {
    cli::HttpsResponse page = AsCertificate("node-a", url);
    ASSERT_EQ(page.status, 200) << page.body;
    auto [ids, next] = Page(page.body);
    all.insert(all.end(), ids.begin(), ids.end());
    url = next;
  }
  ASSERT_EQ(all.size(), 5u);
  EXPECT_NE(all[0], all[4]);

  // The operator may read it; another practice may not; nor may a token.
  EXPECT_EQ(AsCertificate("operator", audit + "?patient=p-1").status, 200);
  cli::HttpsResponse other = AsCertificate("node-b", audit + "?patient=p-1");
  EXPECT_EQ(other.status, 403);
  EXPECT_EQ(Get("/AuditEvent?patient=p-1", bearer).status, 403);
  cli::HttpsResponse bad = AsCertificate("node-a", audit + "?date=ap2025");
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.body, HasSubstr("date"));
  EXPECT_THAT(Get("/metadata").body,
              AllOf(HasSubstr("\"name\": \"agent\""), Not(HasSubstr("\"name\": \"entity\""))));
}

}  // namespace
}  // namespace hie::testing
