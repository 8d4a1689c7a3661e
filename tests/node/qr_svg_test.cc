#include "node/web/qr_svg.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::node {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(QrSvgTest, ASmallTextIsAVersionOneCodeWithItsQuietZone) {
  absl::StatusOr<std::string> svg = QrCodeSvg("HELLO", "a \"label\" <b>");
  ASSERT_TRUE(svg.ok()) << svg.status();
  // Version 1 is 21 modules a side; four more on each side are left white.
  EXPECT_THAT(*svg, AllOf(HasSubstr("viewBox=\"0 0 29 29\""), HasSubstr("role=\"img\""),
                          HasSubstr("aria-label=\"a &quot;label&quot; &lt;b&gt;\""),
                          Not(HasSubstr("style="))));
  // The three finder patterns' corners are dark: top-left, top-right, bottom-left.
  EXPECT_THAT(*svg, AllOf(HasSubstr("M4 4h1v1h-1z"), HasSubstr("M24 4h1v1h-1z"),
                          HasSubstr("M4 24h1v1h-1z")));
  // ...and the module just inside the top-left finder's dark ring is light.
  EXPECT_THAT(*svg, Not(HasSubstr("M5 5h1v1h-1z")));
}

TEST(QrSvgTest, AnAuthenticatorUriFitsAndTheSameTextGivesTheSameCode) {
  const std::string uri =
      "otpauth://totp/hie%20org-a:dr.lee?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=hie%20org-a"
      "&algorithm=SHA1&digits=6&period=30";
  absl::StatusOr<std::string> first = QrCodeSvg(uri, "key");
  absl::StatusOr<std::string> second = QrCodeSvg(uri, "key");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, *second);
  absl::StatusOr<std::string> other = QrCodeSvg(uri + "x", "key");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE(*first, *other);
}

TEST(QrSvgTest, TooLongForAQrCodeIsRefused) {
  EXPECT_EQ(QrCodeSvg(std::string(8000, 'a'), "x").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hie::node
