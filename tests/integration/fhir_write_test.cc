// Writes through the node's FHIR API on a real hie-node: create, update with If-Match,
// delete and 410 after, history with the deletion, transaction and batch Bundles, and
// every refusal (wrong content type, malformed JSON, an invalid resource with its
// FHIRPath, a stale version, too large, a token that may only read), plus an EMR-side
// write with the practice's own client certificate.
#include <fstream>

#include "absl/strings/str_cat.h"
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

class FhirWriteTest : public FhirApiFixture {
 protected:
  // A token of a client allowed `scope`.
  std::string TokenFor(int port, const std::string& name, const std::string& scope) {
    std::string client = AddClient(port, name, scope);
    CommandResult token =
        Token(client, name, {"--user", "dr-ana", "--purpose", "TREAT", "--scope", scope});
    EXPECT_EQ(token.exit_code, 0) << token.err;
    return Trim(token.out);
  }

  static std::string Field(const std::string& json, const char* key) {
    simdjson::dom::parser parser;
    std::string_view value;
    if (parser.parse(json)[key].get_string().get(value)) return "";
    return std::string(value);
  }
};

constexpr char kJane[] =
    R"({"resourceType":"Patient","identifier":[{"system":"urn:mrn:org-a","value":"MRN-7"}],"name":[{"family":"Oyelaran","given":["Jane"]}],"gender":"female","birthDate":"1984-06-02"})";

TEST_F(FhirWriteTest, CreateUpdateDeleteAndTheirRefusals) {
  int port = StartNodeWithApi("limits { max_import_resource_bytes: 65536 }\n");
  ASSERT_GT(port, 0);
  std::string writer = TokenFor(port, "emr", "system/*.cruds");
  ASSERT_FALSE(writer.empty());

  // Create: 201, a new id, version 1.
  cli::HttpsResponse created = Send("POST", "/Patient", kJane, writer);
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = Field(created.body, "id");
  ASSERT_EQ(id.size(), 32u) << created.body;
  EXPECT_THAT(created.body, AllOf(HasSubstr("\"versionId\":\"1\""), HasSubstr("Oyelaran")));
  cli::HttpsResponse read = Get("/Patient/" + id, writer);
  EXPECT_EQ(read.status, 200);
  EXPECT_THAT(read.body, HasSubstr("\"versionId\":\"1\""));

  // Update with If-Match: the right version moves it on, a stale one is 412.
  std::string married = absl::StrCat(
      R"({"resourceType":"Patient","id":")", id,
      R"(","name":[{"family":"Adeyemi","given":["Jane"]}],"gender":"female","birthDate":"1984-06-02"})");
  cli::HttpsResponse updated =
      Send("PUT", "/Patient/" + id, married, writer, {{"If-Match", "W/\"1\""}});
  EXPECT_EQ(updated.status, 200) << updated.body;
  EXPECT_THAT(updated.body, AllOf(HasSubstr("Adeyemi"), HasSubstr("\"versionId\":\"2\"")));
  cli::HttpsResponse stale =
      Send("PUT", "/Patient/" + id, married, writer, {{"If-Match", "W/\"1\""}});
  EXPECT_EQ(stale.status, 412);
  EXPECT_THAT(stale.body, AllOf(HasSubstr("OperationOutcome"), HasSubstr("at version 2, not 1")));
  // PUT of an id the node does not hold creates it.
  cli::HttpsResponse put_new =
      Send("PUT", "/Patient/p-new",
           R"({"resourceType":"Patient","id":"p-new","birthDate":"1990-01-01"})", writer);
  EXPECT_EQ(put_new.status, 201) << put_new.body;
  EXPECT_EQ(Send("PUT", "/Patient/p-other", married, writer).status, 400);

  // Conditional create: the first creates, the second finds it, a bad condition is 400.
  const std::string mrn = "identifier=urn:mrn:org-a|MRN-9";
  std::string ada =
      R"({"resourceType":"Patient","identifier":[{"system":"urn:mrn:org-a","value":"MRN-9"}],"birthDate":"1990-03-04"})";
  cli::HttpsResponse made = Send("POST", "/Patient", ada, writer, {{"If-None-Exist", mrn}});
  EXPECT_EQ(made.status, 201) << made.body;
  cli::HttpsResponse found = Send("POST", "/Patient", ada, writer, {{"If-None-Exist", mrn}});
  EXPECT_EQ(found.status, 200) << found.body;
  EXPECT_EQ(Field(found.body, "id"), Field(made.body, "id"));
  EXPECT_EQ(Send("POST", "/Patient", ada, writer, {{"If-None-Exist", "shoe-size=9"}}).status, 400);

  // The refusals of a body.
  EXPECT_EQ(Send("POST", "/Patient", "{\"resourceType\": \"Patient\",", writer).status, 400);
  cli::HttpsResponse wrong_type = Send("POST", "/Observation", kJane, writer);
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_THAT(wrong_type.body, HasSubstr("is a Patient, not a Observation"));
  cli::HttpsResponse invalid = Send(
      "POST", "/Observation",
      absl::StrCat(
          R"({"resourceType":"Observation","status":"final","code":{"text":"HR"},"subject":{"reference":"Patient/)",
          id, R"("},"effectiveDateTime":"2020-02-30"})"),
      writer);
  EXPECT_EQ(invalid.status, 422) << invalid.body;
  EXPECT_THAT(invalid.body, HasSubstr("\"expression\": [\"Observation.effectiveDateTime\"]"));
  auto as_xml =
      cli::HttpsRequest("POST", base_ + "/Patient", Path("ca/ca.crt"), "application/xml",
                        "<Patient/>", absl::Seconds(10), {{"Authorization", "Bearer " + writer}});
  ASSERT_TRUE(as_xml.ok());
  EXPECT_EQ(as_xml->status, 415);
  std::string huge =
      absl::StrCat(R"({"resourceType":"Patient","text":{"status":"generated","div":")",
                   std::string(70000, 'x'), R"("}})");
  EXPECT_EQ(Send("POST", "/Patient", huge, writer).status, 413);
  EXPECT_EQ(Send("POST", "/NotAType", kJane, writer).status, 404);
  EXPECT_EQ(Send("PUT", "/Patient/" + id, married, writer, {{"If-Match", "version 2"}}).status,
            400);

  // A token that may only read writes nothing; no token is 401.
  std::string reader = TokenFor(port, "viewer", "system/*.read");
  EXPECT_EQ(Send("POST", "/Patient", kJane, reader).status, 403);
  EXPECT_EQ(Send("DELETE", "/Patient/" + id, "", reader).status, 403);
  EXPECT_EQ(Send("POST", "/Patient", kJane).status, 401);

  // Delete: 204, then 410 on read, the deletion in the history; deleting again is fine.
  cli::HttpsResponse deleted =
      Send("DELETE", "/Patient/" + id, "", writer, {{"If-Match", "W/\"2\""}});
  EXPECT_EQ(deleted.status, 204) << deleted.body;
  cli::HttpsResponse gone = Get("/Patient/" + id, writer);
  EXPECT_EQ(gone.status, 410);
  EXPECT_THAT(gone.body, HasSubstr("was deleted"));
  EXPECT_EQ(Get("/Patient/" + id + "/_history/3", writer).status, 410);
  EXPECT_EQ(Get("/Patient/" + id + "/_history/1", writer).status, 200);
  cli::HttpsResponse history = Get("/Patient/" + id + "/_history", writer);
  EXPECT_THAT(history.body, AllOf(HasSubstr("\"total\": 3"), HasSubstr("\"method\": \"DELETE\"")));
  EXPECT_EQ(Send("DELETE", "/Patient/" + id, "", writer).status, 204);
  EXPECT_EQ(Send("DELETE", "/Patient/nobody", "", writer).status, 404);

  // An EMR-side integration writes with the practice's own certificate, no token; another
  // practice's certificate may not.
  auto emr = cli::HttpsRequest("POST", base_ + "/Patient", Path("ca/ca.crt"),
                               "application/fhir+json", kJane, absl::Seconds(10), {},
                               Path("certs/node-a.crt"), Path("certs/node-a.key"));
  ASSERT_TRUE(emr.ok()) << emr.status();
  EXPECT_EQ(emr->status, 201) << emr->body;
  auto other = cli::HttpsRequest("POST", base_ + "/Patient", Path("ca/ca.crt"),
                                 "application/fhir+json", kJane, absl::Seconds(10), {},
                                 Path("certs/node-b.crt"), Path("certs/node-b.key"));
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->status, 403);
}

TEST_F(FhirWriteTest, TransactionsAreAllOrNothingAndBatchesAnswerEachEntry) {
  int port = StartNodeWithApi();
  ASSERT_GT(port, 0);
  std::string writer = TokenFor(port, "emr", "system/*.cruds");
  ASSERT_FALSE(writer.empty());

  cli::HttpsResponse tx = Send(
      "POST", "/",
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"fullUrl":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a","resource":{"resourceType":"Patient","name":[{"family":"Oyelaran"}]},"request":{"method":"POST","url":"Patient"}},)"
      R"({"resource":{"resourceType":"Observation","id":"hr-1","status":"final","code":{"text":"HR"},"subject":{"reference":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"},"valueQuantity":{"value":72}},"request":{"method":"PUT","url":"Observation/hr-1"}}]})",
      writer);
  ASSERT_EQ(tx.status, 200) << tx.body;
  EXPECT_THAT(tx.body, AllOf(HasSubstr("transaction-response"), HasSubstr("201 Created"),
                             HasSubstr("/Observation/hr-1/_history/1")));
  cli::HttpsResponse hr = Get("/Observation/hr-1", writer);
  EXPECT_EQ(hr.status, 200);
  EXPECT_THAT(hr.body, AllOf(HasSubstr("\"reference\":\"Patient/"), Not(HasSubstr("urn:uuid"))));

  // One bad entry: 422 naming it as sent, and the good entry before it is not written.
  cli::HttpsResponse refused = Send(
      "POST", "/",
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"resource":{"resourceType":"Patient","id":"p-tx"},"request":{"method":"PUT","url":"Patient/p-tx"}},)"
      R"({"resource":{"resourceType":"Observation","status":"final","code":{"text":"HR"},"subject":{"reference":"Patient/p-tx"},"issued":"soon"},"request":{"method":"POST","url":"Observation"}}]})",
      writer);
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_THAT(refused.body, HasSubstr("Bundle.entry[1].resource.issued"));
  EXPECT_EQ(Get("/Patient/p-tx", writer).status, 404);

  // A stale ifMatch is 412 for the whole transaction.
  cli::HttpsResponse stale = Send(
      "POST", "/",
      R"({"resourceType":"Bundle","type":"transaction","entry":[)"
      R"({"resource":{"resourceType":"Patient","id":"p-tx"},"request":{"method":"PUT","url":"Patient/p-tx"}},)"
      R"({"request":{"method":"DELETE","url":"Observation/hr-1","ifMatch":"W/\"7\""}}]})",
      writer);
  EXPECT_EQ(stale.status, 412) << stale.body;
  EXPECT_EQ(Get("/Patient/p-tx", writer).status, 404);

  // A batch: each entry its own answer.
  cli::HttpsResponse batch = Send(
      "POST", "/",
      R"({"resourceType":"Bundle","type":"batch","entry":[)"
      R"({"resource":{"resourceType":"Patient","id":"p-b"},"request":{"method":"PUT","url":"Patient/p-b"}},)"
      R"({"request":{"method":"DELETE","url":"Patient/nobody"}},)"
      R"({"request":{"method":"GET","url":"Observation/hr-1"}}]})",
      writer);
  ASSERT_EQ(batch.status, 200) << batch.body;
  EXPECT_THAT(batch.body,
              AllOf(HasSubstr("batch-response"), HasSubstr("\"status\": \"201 Created\""),
                    HasSubstr("\"status\": \"404\""), HasSubstr("\"status\": \"200 OK\"")));
  EXPECT_EQ(Get("/Patient/p-b", writer).status, 200);
  EXPECT_EQ(Send("POST", "/", R"({"resourceType":"Bundle","type":"collection"})", writer).status,
            400);

  // /metadata says what was just used.
  cli::HttpsResponse metadata = Get("/metadata");
  EXPECT_THAT(metadata.body,
              AllOf(HasSubstr("\"code\": \"create\""), HasSubstr("\"code\": \"transaction\""),
                    HasSubstr("\"versioning\": \"versioned-update\"")));
}

// GET /{type}/_history: every version of the type's records, newest first, in pages
// whose next links give each version once, also while versions are written between
// pages.
TEST_F(FhirWriteTest, TypeHistoryPagesNewestFirst) {
  int port = StartNodeWithApi();
  ASSERT_GT(port, 0);
  std::string writer = TokenFor(port, "emr", "system/*.cruds");
  ASSERT_FALSE(writer.empty());
  for (const char* id : {"p-1", "p-2", "p-3"}) {
    ASSERT_EQ(Send("PUT", absl::StrCat("/Patient/", id),
                   absl::StrCat(R"({"resourceType":"Patient","id":")", id, R"("})"), writer)
                  .status,
              201);
  }
  ASSERT_EQ(Send("PUT", "/Patient/p-1",
                 R"({"resourceType":"Patient","id":"p-1","gender":"female"})", writer)
                .status,
            200);
  ASSERT_EQ(Send("DELETE", "/Patient/p-2", "", writer).status, 204);
  // 5 versions: p-2 deleted, p-1 v2, p-3, p-2 v1, p-1 v1, newest first.

  std::vector<std::string> seen;  // "id method"
  std::string url = base_ + "/Patient/_history?_count=2";
  for (int page = 0; page < 10 && !url.empty(); ++page) {
    auto r = cli::HttpsRequest("GET", url, Path("ca/ca.crt"), "", "", absl::Seconds(10),
                               {{"Authorization", "Bearer " + writer}});
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 200) << r->body;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ASSERT_FALSE(parser.parse(r->body).get(root));
    simdjson::dom::array entries, links;
    if (!root["entry"].get_array().get(entries)) {
      for (auto e : entries) {
        std::string_view full_url, method;
        ASSERT_FALSE(e["fullUrl"].get_string().get(full_url));
        ASSERT_FALSE(e["request"]["method"].get_string().get(method));
        seen.push_back(std::string(full_url.substr(full_url.rfind('/') + 1)) + " " +
                       std::string(method));
      }
    }
    url.clear();
    if (!root["link"].get_array().get(links)) {
      for (auto l : links) {
        std::string_view relation, next;
        if (!l["relation"].get_string().get(relation) && relation == "next" &&
            !l["url"].get_string().get(next)) {
          url = std::string(next);
        }
      }
    }
    // A version written between pages is newer than every page's: it comes on none.
    if (page == 0) {
      ASSERT_EQ(
          Send("PUT", "/Patient/p-4", R"({"resourceType":"Patient","id":"p-4"})", writer).status,
          201);
    }
  }
  EXPECT_THAT(seen,
              ::testing::ElementsAre("p-2 DELETE", "p-1 PUT", "p-3 POST", "p-2 POST", "p-1 POST"));
  cli::HttpsResponse newest = Get("/Patient/_history?_count=1", writer);
  EXPECT_THAT(newest.body, HasSubstr("/Patient/p-4"));
  EXPECT_EQ(Get("/Patient/_history?_count=zero", writer).status, 400);
  EXPECT_EQ(Get("/Patient/_history?_since=yesterday", writer).status, 400);
  EXPECT_EQ(Get("/Patient/_history?_at=forged", writer).status, 400);
  EXPECT_THAT(Get("/metadata").body, HasSubstr("\"code\": \"history-type\""));
}

}  // namespace
}  // namespace hie::testing
