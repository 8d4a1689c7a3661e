// The route table: matching, 404 against 405, which pattern wins, what Add refuses, and
// that every route has an access rule. Also the target decoder the router relies on.
#include "http/router.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/target.h"

namespace hie::http {
namespace {

using ::hie::testing::IsOk;
using ::hie::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

void Ignore(Request, Responder) {}

Route MakeRoute(std::string method, std::string pattern,
                AccessRule access = AccessRule::Anonymous()) {
  return {.method = std::move(method),
          .pattern = std::move(pattern),
          .access = std::move(access),
          .audit_kind = "test",
          .handler = Ignore};
}

// A table shaped like the FHIR REST API's, built the way a daemon builds its own.
Router FhirLikeRouter() {
  Router router;
  auto bearer = AccessRule::BearerToken("user/Patient.");
  for (Route route : {
           MakeRoute("GET", "/metadata"),
           MakeRoute("GET", "/Patient/{id}", bearer),
           MakeRoute("PUT", "/Patient/{id}", bearer),
           MakeRoute("GET", "/Patient/{id}/_history/{vid}", bearer),
           MakeRoute("GET", "/Patient/{id}/$everything", bearer),
           MakeRoute("POST", "/Patient/_search", bearer),
           MakeRoute("GET", "/admin/peers", AccessRule::ClientCertificate({pki::Role::kOperator})),
       }) {
    EXPECT_THAT(router.Add(std::move(route)), IsOk());
  }
  return router;
}

TEST(HttpRouterTest, EveryRouteHasAnAccessRule) {
  Router router = FhirLikeRouter();
  ASSERT_EQ(router.routes().size(), 7u);
  for (const Route& route : router.routes()) {
    EXPECT_NE(route.access.kind, AccessRule::Kind::kUnset)
        << route.method << " " << route.pattern << " has no access rule";
  }
}

TEST(HttpRouterTest, RefusesARouteWithoutAnAccessRule) {
  Router router;
  EXPECT_THAT(router.Add(MakeRoute("GET", "/open", AccessRule{})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no access rule")));
  EXPECT_THAT(router.Add(MakeRoute("GET", "/open", AccessRule::ClientCertificate({}))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no role")));
  EXPECT_THAT(router.routes(), IsEmpty());
}

TEST(HttpRouterTest, RefusesMalformedRoutes) {
  Router router;
  EXPECT_THAT(router.Add(MakeRoute("get", "/x")), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(router.Add(MakeRoute("GET", "x")), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(router.Add(MakeRoute("GET", "/a//b")), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(router.Add(MakeRoute("GET", "/a//")), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(router.Add(MakeRoute("GET", "/a/{id}/{id}")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(router.Add(MakeRoute("GET", "/a/{}")), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(router.Add(MakeRoute("GET", "/a/x{id}")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  Route no_handler = MakeRoute("GET", "/x");
  no_handler.handler = nullptr;
  EXPECT_THAT(router.Add(std::move(no_handler)), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(HttpRouterTest, RefusesTheSameShapeTwice) {
  Router router;
  ASSERT_THAT(router.Add(MakeRoute("GET", "/Patient/{id}")), IsOk());
  EXPECT_THAT(router.Add(MakeRoute("GET", "/Patient/{other}")),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(router.Add(MakeRoute("DELETE", "/Patient/{id}")), IsOk());
  EXPECT_THAT(router.Add(MakeRoute("GET", "/Patient/_search")), IsOk());
}

TEST(HttpRouterTest, ATrailingSlashIsItsOwnPath) {
  Router router;
  ASSERT_THAT(router.Add(MakeRoute("GET", "/app/")), IsOk());
  RouteMatch match = router.Find("GET", "/app/");
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.route->pattern, "/app/");
  EXPECT_EQ(router.Find("GET", "/app").route, nullptr);
  EXPECT_EQ(router.Find("GET", "/app/x").route, nullptr);
  ASSERT_THAT(router.Add(MakeRoute("GET", "/app")), IsOk());
  EXPECT_EQ(router.Find("GET", "/app").route->pattern, "/app");
}

TEST(HttpRouterTest, MatchesParametersDecoded) {
  Router router = FhirLikeRouter();
  RouteMatch match = router.Find("GET", "/Patient/a%2Fb/_history/7");
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.route->pattern, "/Patient/{id}/_history/{vid}");
  EXPECT_THAT(match.params, ElementsAre(Pair("id", "a/b"), Pair("vid", "7")));
}

TEST(HttpRouterTest, MatchesLiteralOperationNames) {
  Router router = FhirLikeRouter();
  RouteMatch match = router.Find("GET", "/Patient/123/$everything");
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.route->pattern, "/Patient/{id}/$everything");
  EXPECT_THAT(match.params, ElementsAre(Pair("id", "123")));
  EXPECT_EQ(router.Find("GET", "/Patient/123/$other").route, nullptr);
}

TEST(HttpRouterTest, LiteralSegmentBeatsParameter) {
  Router router;
  ASSERT_THAT(router.Add(MakeRoute("GET", "/Patient/{id}")), IsOk());
  ASSERT_THAT(router.Add(MakeRoute("GET", "/Patient/_search")), IsOk());
  EXPECT_EQ(router.Find("GET", "/Patient/_search").route->pattern, "/Patient/_search");
  EXPECT_EQ(router.Find("GET", "/Patient/x").route->pattern, "/Patient/{id}");
}

TEST(HttpRouterTest, UnknownPathHasNoAllowedMethods) {
  Router router = FhirLikeRouter();
  for (const char* path :
       {"/nothing", "/Patient", "/Patient/", "/Patient/1/extra", "/", "/Patient/%zz", ""}) {
    RouteMatch match = router.Find("GET", path);
    EXPECT_EQ(match.route, nullptr) << path;
    EXPECT_THAT(match.allowed_methods, IsEmpty()) << path;
  }
}

TEST(HttpRouterTest, KnownPathWithAnotherMethodListsTheAllowedOnes) {
  Router router = FhirLikeRouter();
  RouteMatch match = router.Find("DELETE", "/Patient/1");
  EXPECT_EQ(match.route, nullptr);
  EXPECT_THAT(match.allowed_methods, ElementsAre("GET", "PUT"));
  // "_search" also matches "/Patient/{id}": GET is allowed there too.
  EXPECT_THAT(router.Find("PATCH", "/Patient/_search").allowed_methods,
              ElementsAre("GET", "POST", "PUT"));
}

TEST(HttpRouterTest, RootPattern) {
  Router router;
  ASSERT_THAT(router.Add(MakeRoute("GET", "/")), IsOk());
  EXPECT_NE(router.Find("GET", "/").route, nullptr);
  EXPECT_EQ(router.Find("GET", "/x").route, nullptr);
}

TEST(HttpRouterTest, DescribesAccessRules) {
  EXPECT_EQ(DescribeAccessRule(AccessRule::Anonymous()), "anonymous");
  EXPECT_EQ(
      DescribeAccessRule(AccessRule::ClientCertificate({pki::Role::kNode, pki::Role::kOperator})),
      "client certificate (node, operator)");
  EXPECT_EQ(DescribeAccessRule(AccessRule::BearerToken("user/")), "bearer token (scope user/...)");
  EXPECT_EQ(DescribeAccessRule(AccessRule{}), "none (denied)");
}

TEST(HttpTargetTest, SplitsPathAndDecodesQuery) {
  absl::StatusOr<Target> target = ParseTarget("/Patient?name=O%27Brien&given=Mary+Ann&x&_count=");
  ASSERT_THAT(target, IsOk());
  EXPECT_EQ(target->path, "/Patient");
  ASSERT_EQ(target->query.size(), 4u);
  EXPECT_EQ(target->query[0].name, "name");
  EXPECT_EQ(target->query[0].value, "O'Brien");
  EXPECT_EQ(target->query[1].value, "Mary Ann");
  EXPECT_EQ(target->query[2].name, "x");
  EXPECT_EQ(target->query[2].value, "");
  EXPECT_EQ(target->query[3].name, "_count");
}

TEST(HttpTargetTest, RepeatedParametersKeepTheirOrder) {
  absl::StatusOr<Target> target = ParseTarget("/Observation?date=ge2020&date=lt2021");
  ASSERT_THAT(target, IsOk());
  ASSERT_EQ(target->query.size(), 2u);
  EXPECT_EQ(target->query[0].value, "ge2020");
  EXPECT_EQ(target->query[1].value, "lt2021");
}

TEST(HttpTargetTest, SearchUrlsRoundTripThroughParseTarget) {
  std::string url = SearchUrl(
      "/AuditEvent",
      {{"agent", "org-b,dr lee"}, {"date", "ge2025-01-01T00:00:00+01:00"}, {"_after", "42"}});
  EXPECT_EQ(
      url, "/AuditEvent?agent=org-b%2Cdr%20lee&date=ge2025-01-01T00%3A00%3A00%2B01%3A00&_after=42");
  absl::StatusOr<Target> target = ParseTarget(url);
  ASSERT_THAT(target, IsOk());
  ASSERT_EQ(target->query.size(), 3u);
  EXPECT_EQ(target->query[0].value, "org-b,dr lee");
  EXPECT_EQ(target->query[1].value, "ge2025-01-01T00:00:00+01:00");
}

TEST(HttpTargetTest, RefusesWhatDoesNotDecode) {
  EXPECT_THAT(ParseTarget("http://example.org/x"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseTarget("*"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseTarget("/a%2"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseTarget("/a?x=%G0"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseTarget("/a?x=%00"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(HttpTargetTest, PercentDecodeKeepsPlusInPaths) {
  EXPECT_EQ(PercentDecode("a+b%20c", /*plus_is_space=*/false), "a+b c");
  EXPECT_EQ(PercentDecode("a+b%20c", /*plus_is_space=*/true), "a b c");
  EXPECT_EQ(PercentDecode("%", false), std::nullopt);
  EXPECT_EQ(PercentDecode("%4", false), std::nullopt);
}

}  // namespace
}  // namespace hie::http
