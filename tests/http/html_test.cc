// HtmlEscape: what a page does with text it did not write.
#include "http/html.h"

#include "gtest/gtest.h"

namespace hie::http {
namespace {

TEST(HttpHtmlTest, EscapesMarkupAndQuotes) {
  EXPECT_EQ(HtmlEscape("<img src=x onerror=alert(1)>"), "&lt;img src=x onerror=alert(1)&gt;");
  EXPECT_EQ(HtmlEscape("\" onfocus='x' a=\""), "&quot; onfocus=&#39;x&#39; a=&quot;");
  EXPECT_EQ(HtmlEscape("Tom & Jerry &amp;"), "Tom &amp; Jerry &amp;amp;");
  EXPECT_EQ(HtmlEscape("Zoë Müller"), "Zoë Müller");
  EXPECT_EQ(HtmlEscape(""), "");
}

}  // namespace
}  // namespace hie::http
