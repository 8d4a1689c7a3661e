// Embedded files served by the router: bytes as built (binary ones too), media types,
// ETag and 304, and paths that would escape their prefix refused.
#include "http/static_files.h"

#include <optional>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::http {
const std::vector<EmbeddedFile>& TestAssets();  // tests/http/CMakeLists.txt embeds them

namespace {

using ::hie::testing::IsOk;
using ::hie::testing::StatusIs;

Response Call(const Router& router, const std::string& path, HeaderMap headers = {}) {
  RouteMatch match = router.Find("GET", path);
  EXPECT_NE(match.route, nullptr) << path;
  if (match.route == nullptr) return {};
  std::optional<Response> answer;
  Request request;
  request.method = "GET";
  request.path = path;
  request.headers = std::move(headers);
  match.route->handler(std::move(request), Responder([&](Response r) { answer = std::move(r); }));
  EXPECT_TRUE(answer.has_value());
  return answer.value_or(Response{});
}

const std::string* HeaderOf(const Response& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return &v;
  }
  return nullptr;
}

TEST(StaticFilesTest, ServesEachFileAsBuiltWithItsTypeAndETag) {
  Router router;
  ASSERT_THAT(AddStaticRoutes(router, "/app/assets", TestAssets()), IsOk());
  Response css = Call(router, "/app/assets/site.css");
  EXPECT_EQ(css.status, 200);
  EXPECT_EQ(css.body, "body { color: #222; }\n");
  ASSERT_NE(HeaderOf(css, "Content-Type"), nullptr);
  EXPECT_EQ(*HeaderOf(css, "Content-Type"), "text/css; charset=utf-8");
  EXPECT_EQ(*HeaderOf(css, "Cache-Control"), "no-cache");
  Response js = Call(router, "/app/assets/js/answer.js");
  EXPECT_EQ(*HeaderOf(js, "Content-Type"), "text/javascript; charset=utf-8");
  Response png = Call(router, "/app/assets/dot.png");
  EXPECT_EQ(png.body, std::string("\x89PNG\r\n\x1a\n\x00\x00"
                                  "binary\x00"
                                  "bytes",
                                  22));
  EXPECT_EQ(*HeaderOf(png, "Content-Type"), "image/png");

  // The ETag is the content's: the same again is 304 with no body.
  const std::string* etag = HeaderOf(css, "ETag");
  ASSERT_NE(etag, nullptr);
  EXPECT_EQ(etag->size(), 66u);  // "<64 hex>"
  Response again = Call(router, "/app/assets/site.css", {{"if-none-match", *etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(Call(router, "/app/assets/site.css", {{"if-none-match", "\"old\""}}).status, 200);
  EXPECT_EQ(router.Find("GET", "/app/assets/missing.css").route, nullptr);
}

TEST(StaticFilesTest, PathsThatLeaveThePrefixAreRefused) {
  static const unsigned char kByte[] = {'x'};
  for (const char* bad : {"", "/etc/passwd", "a/../b", "a//b"}) {
    Router router;
    EXPECT_THAT(AddStaticRoutes(router, "/app", {{bad, kByte, 1}}),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
  }
  EXPECT_EQ(MediaTypeFor("x.WOFF2"), "font/woff2");
  EXPECT_EQ(MediaTypeFor("README"), "application/octet-stream");
}

}  // namespace
}  // namespace hie::http
