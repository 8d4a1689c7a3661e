// JsonQuote always yields a valid JSON string, whatever bytes it is given.
#include "common/json/json_writer.h"

#include "common/json/utf8.h"
#include "gtest/gtest.h"

namespace hie {
namespace {

TEST(JsonQuoteTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonQuote("a\"b\\c\n\t\x01"), "\"a\\\"b\\\\c\\n\\t\\u0001\"");
}

TEST(JsonQuoteTest, KeepsWellFormedUtf8) {
  EXPECT_EQ(JsonQuote("Müller José 日本 😀"), "\"Müller José 日本 😀\"");
}

TEST(JsonQuoteTest, BytesThatAreNotUtf8BecomeReplacementCharacters) {
  // Latin-1 "Müller", a stray continuation byte, a truncated sequence at the end, an
  // overlong slash and a UTF-16 surrogate.
  EXPECT_EQ(JsonQuote("M\xfcller"), "\"M\\ufffdller\"");
  EXPECT_EQ(JsonQuote("a\x80"
                      "b"),
            "\"a\\ufffdb\"");
  EXPECT_EQ(JsonQuote("ab\xe6\x97"), "\"ab\\ufffd\\ufffd\"");
  EXPECT_EQ(JsonQuote("\xc0\xaf"), "\"\\ufffd\\ufffd\"");
  EXPECT_EQ(JsonQuote("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
}

TEST(Utf8Test, SequenceLengths) {
  EXPECT_EQ(Utf8SequenceLength("a", 0), 1u);
  EXPECT_EQ(Utf8SequenceLength("\xc3\xbc", 0), 2u);
  EXPECT_EQ(Utf8SequenceLength("\xe6\x97\xa5", 0), 3u);
  EXPECT_EQ(Utf8SequenceLength("\xf0\x9f\x98\x80", 0), 4u);
  EXPECT_EQ(Utf8SequenceLength("\xf4\x90\x80\x80", 0), 0u);  // beyond U+10FFFF
  EXPECT_EQ(Utf8SequenceLength("\xe0\x80\xaf", 0), 0u);      // overlong
}

}  // namespace
}  // namespace hie
