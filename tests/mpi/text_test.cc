// Every normalization rule and comparator the matcher relies on.
#include "mpi/match/text.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::mpi {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Gt;
using ::testing::Lt;

TEST(FoldTextTest, CaseAndAccentsFold) {
  EXPECT_EQ(FoldText("José"), "jose");
  EXPECT_EQ(FoldText("JOSE"), "jose");
  EXPECT_EQ(FoldText("Ordóñez"), "ordonez");
  EXPECT_EQ(FoldText("Ángela Guzmán"), "angela guzman");
  EXPECT_EQ(FoldText("Łukasz Żółć"), "lukasz zolc");
}

TEST(FoldTextTest, GermanUmlautsEqualTheirCustomarySpelling) {
  EXPECT_EQ(FoldText("Müller"), FoldText("Mueller"));
  EXPECT_EQ(FoldText("Strauß"), "strauss");
  EXPECT_EQ(FoldText("Öztürk"), "oeztuerk");
}

TEST(FoldTextTest, DecomposedAccentsFoldLikeComposedOnes) {
  EXPECT_EQ(FoldText("Jose\xCC\x81"), "jose");  // e + U+0301 COMBINING ACUTE ACCENT
}

TEST(FoldTextTest, PunctuationAndSpaces) {
  EXPECT_EQ(FoldText("  O'Brien "), "obrien");
  EXPECT_EQ(FoldText("O\u2019Brien"), "obrien");
  EXPECT_EQ(FoldText("García-López"), "garcia lopez");
  EXPECT_EQ(FoldText("Smith,  John\tA."), "smith john a");
}

TEST(FoldTextTest, NonLatinScriptsAreKept) { EXPECT_EQ(FoldText("张无忌"), "张无忌"); }

TEST(FoldTextTest, Latin1BytesAreReadAsLatin1) {
  EXPECT_EQ(FoldText("Jos\xE9"), "jose");  // a Latin-1 export, not UTF-8
}

TEST(SurnameTest, ParticlesAndMultiPartSurnames) {
  EXPECT_THAT(SurnameParts("van der Berg"), ElementsAre("berg"));
  EXPECT_THAT(SurnameParts("Berg"), ElementsAre("berg"));
  EXPECT_THAT(SurnameParts("García-López"), ElementsAre("garcia", "lopez"));
  EXPECT_THAT(SurnameParts("de la Cruz"), ElementsAre("cruz"));
  EXPECT_THAT(SurnameParts("De La"), ElementsAre("de", "la"));  // all particles: keep them
}

TEST(GivenNameTest, NicknamesReachTheirFormalNames) {
  EXPECT_THAT(GivenNameForms("bill"), Contains("william"));
  EXPECT_THAT(GivenNameForms("peggy"), Contains("margaret"));
  EXPECT_THAT(GivenNameForms("jim"), Contains("james"));
  EXPECT_THAT(GivenNameForms("william"), ElementsAre("william"));
}

TEST(GivenNameTest, OneGivenNameIsEqualOrSharesAForm) {
  EXPECT_TRUE(OneGivenName("jenny", "jenny"));
  EXPECT_TRUE(OneGivenName("jenny", "jennifer"));
  EXPECT_TRUE(OneGivenName("michael", "mike"));  // either way round
  EXPECT_TRUE(OneGivenName("mike", "mick"));     // two nicknames of one name
  EXPECT_FALSE(OneGivenName("jenny", "jenna"));
  // Kate and Katie stand for each spelling of the name, not one.
  for (const char* formal : {"katherine", "kathryn", "catherine"}) {
    EXPECT_TRUE(OneGivenName("katie", formal)) << formal;
    EXPECT_TRUE(OneGivenName("kate", formal)) << formal;
  }
  EXPECT_FALSE(OneGivenName("kathryn", "kathleen"));
  EXPECT_FALSE(OneGivenName("louis", "louise"));
}

TEST(GivenNameTest, ProperNamesComeFromTheWordList) {
  for (const char* name : {"aaron", "gina", "tina", "ivan", "ian", "lily", "lila", "john"}) {
    EXPECT_TRUE(IsProperName(name)) << name;
  }
  // Typos, initials, and what the list holds only in other forms.
  for (const char* word : {"jonh", "kakhleen", "h", "", "Gina", "zzzzzz"}) {
    EXPECT_FALSE(IsProperName(word)) << word;
  }
}

TEST(NysiisTest, KnownCodes) {
  EXPECT_EQ(Nysiis("johnson"), Nysiis("jonson"));
  EXPECT_EQ(Nysiis("johnson"), "JANSAN");
  EXPECT_EQ(Nysiis("catherine"), Nysiis("katherine"));
  EXPECT_EQ(Nysiis("mueller"), Nysiis("muller"));
  EXPECT_EQ(Nysiis("knight"), Nysiis("night"));
  EXPECT_EQ(Nysiis("phillips"), Nysiis("fillips"));
  EXPECT_NE(Nysiis("smith"), Nysiis("jones"));
  EXPECT_EQ(Nysiis(""), "");
  EXPECT_EQ(Nysiis("macdonald").substr(0, 3), "MCD");
}

TEST(JaroWinklerTest, ClassicValues) {
  EXPECT_NEAR(JaroWinkler("martha", "marhta"), 0.961, 0.001);
  EXPECT_NEAR(JaroWinkler("dwayne", "duane"), 0.84, 0.001);
  EXPECT_NEAR(JaroWinkler("dixon", "dicksonx"), 0.813, 0.001);
  EXPECT_EQ(JaroWinkler("same", "same"), 1.0);
  EXPECT_EQ(JaroWinkler("", "x"), 0.0);
  EXPECT_THAT(JaroWinkler("smith", "jones"), Lt(0.5));
}

TEST(EditDistanceTest, CountsTranspositionsAsOne) {
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3);
  EXPECT_EQ(EditDistance("martha", "marhta"), 1);
  EXPECT_EQ(EditDistance("", "abc"), 3);
  EXPECT_EQ(EditDistance("abc", "abc"), 0);
}

TEST(EditDistanceTest, WithinOneEditAgreesWithTheFullDistance) {
  const char* words[] = {"",      "a",     "ab",   "ba",       "abc",      "acb",      "abd",
                         "abcd",  "abdc",  "xbcd", "bcd",      "abcde",    "martha",   "marhta",
                         "smith", "smyth", "smit", "19840602", "19840620", "19480602", "19840603"};
  for (const char* x : words) {
    for (const char* y : words) {
      EXPECT_EQ(WithinOneEdit(x, y), EditDistance(x, y) <= 1) << x << " / " << y;
    }
  }
}

// A number's typed slip keeps its length: one digit changed or two swapped, not one
// dropped or added.
TEST(EditDistanceTest, OneSlipApartKeepsTheLength) {
  EXPECT_TRUE(OneSlipApart("123456789", "123456789"));
  EXPECT_TRUE(OneSlipApart("123456789", "123456780"));
  EXPECT_TRUE(OneSlipApart("123456789", "123546789"));
  EXPECT_FALSE(OneSlipApart("123456789", "12345678"));
  EXPECT_FALSE(OneSlipApart("123456789", "1234567890"));
  EXPECT_FALSE(OneSlipApart("123456789", "123456700"));
}

TEST(PhoneTest, DigitsOnlyWithoutNorthAmericanCountryCode) {
  EXPECT_EQ(NormalizePhone("+1 (555) 010-2030"), "5550102030");
  EXPECT_EQ(NormalizePhone("555.010.2030"), "5550102030");
  EXPECT_EQ(NormalizePhone("+44 20 7946 0018"), "442079460018");
}

TEST(IdentifierTest, UpperAlphanumericOnly) {
  EXPECT_EQ(NormalizeIdentifier("123-45-6789"), "123456789");
  EXPECT_EQ(NormalizeIdentifier("d1234 567"), "D1234567");
}

TEST(AddressTest, AbbreviationsAndUnitNumbersUnify) {
  EXPECT_EQ(NormalizeStreet("12 North Main Street, Apartment 4B"), "12 n main st apt 4b");
  EXPECT_EQ(NormalizeStreet("12 N. Main St. #4B"), "12 n main st apt 4b");
  EXPECT_EQ(NormalizeStreet("12 N Main St Unit 4b"), "12 n main st apt 4b");
  EXPECT_EQ(NormalizePostalCode("02139-4307"), "02139");
  EXPECT_EQ(NormalizePostalCode("sw1a 1aa"), "SW1A1AA");
}

TEST(AddressTest, StreetTypesAsNormalized) {
  for (const char* type : {"Street", "Avenue", "Boulevard", "Parkway", "Crescent", "Close"}) {
    EXPECT_TRUE(IsStreetType(NormalizeStreet(type))) << type;
  }
  EXPECT_FALSE(IsStreetType("blackbutt"));
  EXPECT_FALSE(IsStreetType("n"));
}

}  // namespace
}  // namespace hie::mpi
