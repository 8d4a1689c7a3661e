// The key encoding preserves order part by part and decodes what it encoded.
#include "common/store/key_codec.h"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::store {
namespace {

std::string S(absl::string_view s) { return KeyBuilder().AddString(s).Build(); }

TEST(KeyCodecTest, StringsKeepTheirOrderIncludingNulsAndPrefixes) {
  std::vector<std::string> plain = {
      "",     std::string("a\0", 2),   "a", std::string("a\0b", 3), "ab", "b",
      "\xff", std::string("\xff\0", 2)};
  std::sort(plain.begin(), plain.end());
  std::vector<std::string> encoded;
  for (const auto& s : plain) encoded.push_back(S(s));
  EXPECT_TRUE(std::is_sorted(encoded.begin(), encoded.end()));
  for (size_t i = 0; i + 1 < encoded.size(); ++i) EXPECT_LT(encoded[i], encoded[i + 1]);
}

TEST(KeyCodecTest, CompositeKeysOrderByFirstPartThenSecond) {
  // ("a", "z") must sort before ("ab", "a") although "az" > "aba" as plain bytes.
  std::string a_z = KeyBuilder().AddString("a").AddString("z").Build();
  std::string ab_a = KeyBuilder().AddString("ab").AddString("a").Build();
  EXPECT_LT(a_z, ab_a);
}

TEST(KeyCodecTest, IntegersKeepTheirOrder) {
  std::vector<int64_t> ints = {std::numeric_limits<int64_t>::min(), -1000, -1, 0, 1, 255, 256,
                               std::numeric_limits<int64_t>::max()};
  for (size_t i = 0; i + 1 < ints.size(); ++i) {
    EXPECT_LT(KeyBuilder().AddInt64(ints[i]).Build(), KeyBuilder().AddInt64(ints[i + 1]).Build())
        << ints[i];
  }
  std::vector<uint64_t> uints = {0, 1, 255, 256, 65536, std::numeric_limits<uint64_t>::max()};
  for (size_t i = 0; i + 1 < uints.size(); ++i) {
    EXPECT_LT(KeyBuilder().AddUint64(uints[i]).Build(),
              KeyBuilder().AddUint64(uints[i + 1]).Build());
  }
}

TEST(KeyCodecTest, RoundTrips) {
  std::string text("pa\0tient", 8);
  std::string key = KeyBuilder().AddString(text).AddInt64(-42).AddUint64(7).AddString("").Build();
  KeyReader reader(key);
  std::string s1, s2;
  int64_t i = 0;
  uint64_t u = 0;
  ASSERT_TRUE(reader.ReadString(&s1));
  ASSERT_TRUE(reader.ReadInt64(&i));
  ASSERT_TRUE(reader.ReadUint64(&u));
  ASSERT_TRUE(reader.ReadString(&s2));
  EXPECT_TRUE(reader.done());
  EXPECT_EQ(s1, text);
  EXPECT_EQ(i, -42);
  EXPECT_EQ(u, 7u);
  EXPECT_EQ(s2, "");
}

TEST(KeyCodecTest, MalformedKeysFailToDecode) {
  std::string s;
  uint64_t u = 0;
  KeyReader unterminated("abc");
  EXPECT_FALSE(unterminated.ReadString(&s));
  EXPECT_FALSE(unterminated.done());
  KeyReader short_int("abc");
  EXPECT_FALSE(short_int.ReadUint64(&u));
  const std::string bad_escape_key("a\0\x05", 3);  // KeyReader views; keep the bytes alive
  KeyReader bad_escape(bad_escape_key);
  EXPECT_FALSE(bad_escape.ReadString(&s));
}

TEST(KeyCodecTest, PrefixSuccessorBoundsAPrefix) {
  EXPECT_EQ(PrefixSuccessor("ab"), "ac");
  EXPECT_EQ(PrefixSuccessor("a\xff"), "b");
  EXPECT_EQ(PrefixSuccessor("\xff\xff"), "");
}

}  // namespace
}  // namespace hie::store
