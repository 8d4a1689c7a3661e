// The one error path without a server: the status table, OperationOutcome bodies, the
// security headers every response carries, and Responder's answer-once contract.
#include "http/status.h"

#include <simdjson.h>

#include <thread>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/security_headers.h"

namespace hie::http {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(HttpStatusTableTest, MapsEveryCode) {
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kFailedPrecondition), 412);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kUnimplemented), 501);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kDeadlineExceeded), 504);
  for (auto code :
       {absl::StatusCode::kInternal, absl::StatusCode::kUnknown, absl::StatusCode::kDataLoss,
        absl::StatusCode::kAborted, absl::StatusCode::kOutOfRange, absl::StatusCode::kCancelled}) {
    EXPECT_EQ(HttpStatusFor(code), 500) << code;
  }
}

TEST(HttpStatusTableTest, IssueCodes) {
  EXPECT_EQ(IssueCodeFor(400), "invalid");
  EXPECT_EQ(IssueCodeFor(401), "login");
  EXPECT_EQ(IssueCodeFor(403), "forbidden");
  EXPECT_EQ(IssueCodeFor(404), "not-found");
  EXPECT_EQ(IssueCodeFor(405), "not-supported");
  EXPECT_EQ(IssueCodeFor(408), "timeout");
  EXPECT_EQ(IssueCodeFor(409), "conflict");
  EXPECT_EQ(IssueCodeFor(412), "conflict");
  EXPECT_EQ(IssueCodeFor(413), "too-long");
  EXPECT_EQ(IssueCodeFor(415), "not-supported");
  EXPECT_EQ(IssueCodeFor(429), "throttled");
  EXPECT_EQ(IssueCodeFor(431), "too-long");
  EXPECT_EQ(IssueCodeFor(500), "exception");
  EXPECT_EQ(IssueCodeFor(501), "not-supported");
  EXPECT_EQ(IssueCodeFor(503), "transient");
  EXPECT_EQ(IssueCodeFor(504), "timeout");
  EXPECT_EQ(IssueCodeFor(418), "invalid");
  EXPECT_EQ(IssueCodeFor(599), "exception");
}

struct Outcome {
  std::string resource_type, severity, code, diagnostics;
};

Outcome ParseOutcome(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(json);
  simdjson::dom::element issue = doc["issue"].at(0);
  Outcome out;
  out.resource_type = std::string(std::string_view(doc["resourceType"]));
  out.severity = std::string(std::string_view(issue["severity"]));
  out.code = std::string(std::string_view(issue["code"]));
  out.diagnostics = std::string(std::string_view(issue["diagnostics"]));
  return out;
}

TEST(HttpErrorResponseTest, ClientErrorsSayWhatToFix) {
  Response response = ErrorResponse(absl::NotFoundError("no Patient \"x\"\nhere"));
  EXPECT_EQ(response.status, 404);
  ASSERT_NE(response.FindHeader("content-type"), nullptr);
  EXPECT_EQ(*response.FindHeader("content-type"), kFhirJsonContentType);
  Outcome outcome = ParseOutcome(response.body);
  EXPECT_EQ(outcome.resource_type, "OperationOutcome");
  EXPECT_EQ(outcome.severity, "error");
  EXPECT_EQ(outcome.code, "not-found");
  EXPECT_EQ(outcome.diagnostics, "no Patient \"x\"\nhere");
}

TEST(HttpErrorResponseTest, ServerErrorsSayNothingInternal) {
  Response response = ErrorResponse(absl::InternalError("leveldb: /var/lib/hie/store corrupt"));
  EXPECT_EQ(response.status, 500);
  EXPECT_THAT(response.body, Not(HasSubstr("leveldb")));
  Outcome outcome = ParseOutcome(response.body);
  EXPECT_EQ(outcome.code, "exception");
  EXPECT_EQ(outcome.diagnostics, "internal error");
  EXPECT_EQ(
      ParseOutcome(ErrorResponse(absl::UnavailableError("peer 10.0.0.7 down")).body).diagnostics,
      "internal error");
}

TEST(HttpErrorResponseTest, ServerOwnStatuses) {
  Response response = ErrorResponse(413, "the body may be at most 10 bytes");
  EXPECT_EQ(response.status, 413);
  Outcome outcome = ParseOutcome(response.body);
  EXPECT_EQ(outcome.code, "too-long");
  EXPECT_EQ(outcome.diagnostics, "the body may be at most 10 bytes");
}

TEST(HttpSecurityHeadersTest, EveryHeaderAndNoStoreByDefault) {
  Response response;
  response.SetHeader("Content-Security-Policy", "default-src *");
  ApplySecurityHeaders(&response);
  EXPECT_EQ(*response.FindHeader("strict-transport-security"), "max-age=31536000");
  EXPECT_EQ(*response.FindHeader("x-content-type-options"), "nosniff");
  EXPECT_EQ(*response.FindHeader("referrer-policy"), "no-referrer");
  EXPECT_EQ(*response.FindHeader("content-security-policy"),
            "default-src 'self'; frame-ancestors 'none'");
  EXPECT_EQ(*response.FindHeader("cache-control"), "no-store");
  int csp = 0;
  for (const auto& [name, value] : response.headers) csp += name == "Content-Security-Policy";
  EXPECT_EQ(csp, 1);
}

TEST(HttpSecurityHeadersTest, KeepsAHandlersCacheControl) {
  Response response;
  response.SetHeader("cache-control", "public, max-age=31536000, immutable");
  ApplySecurityHeaders(&response);
  EXPECT_EQ(*response.FindHeader("Cache-Control"), "public, max-age=31536000, immutable");
}

TEST(HttpResponderTest, AnswersOnceFromAnyThread) {
  std::vector<int> sent;
  Responder responder([&](Response r) { sent.push_back(r.status); });
  std::thread other([copy = responder] { EXPECT_TRUE(copy.Respond(Response{.status = 201})); });
  other.join();
  EXPECT_FALSE(responder.Respond(Response{.status = 200}));
  EXPECT_FALSE(responder.RespondError(absl::NotFoundError("x")));
  EXPECT_TRUE(responder.answered());
  EXPECT_THAT(sent, ElementsAre(201));
}

TEST(HttpResponderTest, DroppedWithoutAnswerSends500) {
  std::vector<Response> sent;
  {
    Responder responder([&](Response r) { sent.push_back(std::move(r)); }, "GET /x");
    Responder copy = responder;
  }
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].status, 500);
  EXPECT_THAT(sent[0].body, HasSubstr("internal error"));
}

}  // namespace
}  // namespace hie::http
