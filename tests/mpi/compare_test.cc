// Field comparators, guards and decisions of the matching engine.
#include "mpi/match/compare.h"

#include <tuple>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mpi/match/engine.h"
#include "mpi/match/text.h"

namespace hie::mpi {
namespace {

Person Base() {
  Person p;
  p.given = {"William", "Henry"};
  p.family = "García-López";
  p.birth_date = {1980, 3, 7};
  p.sex = Sex::kMale;
  p.street = {"12 North Main Street", "Apartment 4B"};
  p.city = "Springfield";
  p.postal_code = "62701";
  p.phones = {"+1 (217) 555-0101"};
  p.identifiers = {{"ssn", "123-45-6789"}};
  return p;
}

// Base() under another name (and family name, unless ""), without its identifier.
Person Renamed(std::vector<std::string> given, const std::string& family = "") {
  Person p = Base();
  p.given = std::move(given);
  if (!family.empty()) p.family = family;
  p.identifiers.clear();
  return p;
}

// The guard CheckGuards finds for two prepared registrations.
Guard GuardOf(const PreparedPerson& a, const PreparedPerson& b) {
  return CheckGuards(a, b, Compare(a, b));
}

// `p` under one given name and a family name.
Person WithNames(Person p, const std::string& given, const std::string& family) {
  p.given = {given};
  p.family = family;
  return p;
}

// The guard between two registrations whose name fields Compare reads as swapped, both
// ways (checked: a swap not read as one would test nothing of the rules across it).
Guard GuardAcrossSwap(const Person& a, const Person& b) {
  PreparedPerson pa = Prepare(a), pb = Prepare(b);
  EXPECT_TRUE(Compare(pa, pb).names_swapped && Compare(pb, pa).names_swapped)
      << absl::StrJoin(a.given, " ") << " " << a.family << " / " << absl::StrJoin(b.given, " ")
      << " " << b.family;
  return GuardOf(pa, pb);
}

Level CompareField(const Person& a, const Person& b, Field f) {
  return Compare(Prepare(a), Prepare(b)).at(f);
}

// True if two registrations share a blocking key: each is the other's candidate.
bool ShareABlockingKey(const Person& a, const Person& b) {
  std::vector<std::string> ka = BlockingKeys(Prepare(a)), kb = BlockingKeys(Prepare(b));
  for (const auto& k : ka) {
    if (std::find(kb.begin(), kb.end(), k) != kb.end()) return true;
  }
  return false;
}

TEST(CompareTest, IdenticalRegistrationsAgreeExactlyEverywhere) {
  Comparison c = Compare(Prepare(Base()), Prepare(Base()));
  for (Level l : c.levels) EXPECT_EQ(l, Level::kExact);
}

TEST(CompareTest, GivenNameLevels) {
  Person b = Base();
  b.given = {"Bill"};
  EXPECT_EQ(CompareField(Base(), b, Field::kGivenName), Level::kEquivalent);
  b.given = {"Henry"};  // the middle name used as first name
  EXPECT_EQ(CompareField(Base(), b, Field::kGivenName), Level::kEquivalent);
  b.given = {"Wiliam"};
  EXPECT_EQ(CompareField(Base(), b, Field::kGivenName), Level::kClose);
  b.given = {"Wil liam", "Henry"};  // a blank typed inside
  EXPECT_EQ(CompareField(Base(), b, Field::kGivenName), Level::kExact);
  b.given = {"W."};  // an initial: weak agreement, as a typo
  EXPECT_EQ(CompareField(Base(), b, Field::kGivenName), Level::kClose);
  b.given = {"O"};
  EXPECT_EQ(CompareField(Base(), b, Field::kGivenName), Level::kDifferent);
  b.given = {"Oscar"};
  EXPECT_EQ(CompareField(Base(), b, Field::kGivenName), Level::kDifferent);
  b.given = {};
  EXPECT_EQ(CompareField(Base(), b, Field::kGivenName), Level::kMissing);
}

TEST(CompareTest, FamilyNameLevels) {
  Person b = Base();
  b.family = "GARCIA LOPEZ";
  EXPECT_EQ(CompareField(Base(), b, Field::kFamilyName), Level::kExact);
  b.family = "Garcia";  // one part of a hyphenated surname
  EXPECT_EQ(CompareField(Base(), b, Field::kFamilyName), Level::kEquivalent);
  Person married = Base();
  married.family = "Smith";
  married.former_family = {"García-López"};
  EXPECT_EQ(CompareField(Base(), married, Field::kFamilyName), Level::kEquivalent);
  b.family = "Garcya-Lopes";  // typos in both parts
  EXPECT_EQ(CompareField(Base(), b, Field::kFamilyName), Level::kClose);
}

// Given and family names swapped, also where the family name has particles.
TEST(CompareTest, SwappedGivenAndFamilyNames) {
  for (auto [given, family] :
       {std::pair<const char*, const char*>{"Donald", "Duck"}, {"Cambell", "de la Cruz"}}) {
    Person a;
    a.given = {given};
    a.family = family;
    Person b;
    b.given = {family};
    b.family = given;
    Comparison c = Compare(Prepare(a), Prepare(b));
    EXPECT_TRUE(c.names_swapped) << given;
    EXPECT_EQ(c.at(Field::kGivenName), Level::kEquivalent) << given;
    EXPECT_EQ(c.at(Field::kFamilyName), Level::kEquivalent) << given;
  }
}

// Swapped where one family field holds more than the other's given name: a former
// name, or a hyphenated married name of which the given field holds one part (each a
// typo away at most).
TEST(CompareTest, SwappedAcrossAFormerOrHyphenatedFamilyName) {
  struct Case {
    std::vector<std::string> given;
    std::string family, former, swapped_given, swapped_family;
  };
  for (const Case& k : std::vector<Case>{
           {{"Patricia"}, "Cromuberg", "Davis", "Davis", "Patricia"},
           {{"John"}, "Borwn-Fitzgerald", "", "Brown", "John"},
           {{"Noah"}, "Esposito-Robinson", "", "Esposito", "Noah"},
           {{"Sqarah", "Carol"}, "Abemfield-Abezwell", "", "Abemlfield Carol", "Sarah"}}) {
    Person a = Renamed(k.given, k.family);
    if (!k.former.empty()) a.former_family = {k.former};
    Person b = Renamed({k.swapped_given}, k.swapped_family);
    PreparedPerson pa = Prepare(a), pb = Prepare(b);
    Comparison c = Compare(pa, pb);
    EXPECT_TRUE(c.names_swapped) << k.swapped_given;
    EXPECT_EQ(c.at(Field::kGivenName), Level::kEquivalent) << k.swapped_given;
    EXPECT_EQ(Compare(pb, pa).levels, c.levels) << k.swapped_given;
    EXPECT_EQ(GuardOf(pa, pb), Guard::kNone) << k.swapped_given;
  }
  // One half of a swap a nickname of the other's first name: Jenny Lee against "Lee,
  // Jennifer", "Johnson, Mike" against Michael Johnson.
  for (auto [given, formal, family] :
       {std::tuple<const char*, const char*, const char*>{"Jenny", "Jennifer", "Lee"},
        {"Mike", "Michael", "Johnson"}}) {
    EXPECT_EQ(GuardAcrossSwap(Renamed({given}, family), Renamed({family}, formal)), Guard::kNone);
  }
  // With the sexes on record differing, a nickname is either's: Sam Lee (Samuel) and
  // "Lee, Samantha" are a brother and a sister, swapped or not; so is a name one edit
  // from the other (Jon / Joan).
  Person sam = Renamed({"Sam"}, "Lee"), samantha = Renamed({"Lee"}, "Samantha");
  sam.sex = Sex::kMale;
  samantha.sex = Sex::kFemale;
  EXPECT_EQ(GuardOf(Prepare(sam), Prepare(samantha)), Guard::kSex);
  samantha.given = {"Samantha"};
  samantha.family = "Lee";
  EXPECT_EQ(GuardOf(Prepare(sam), Prepare(samantha)), Guard::kSex);
  Person jon = Renamed({"Jon"}, "Lee"), joan = Renamed({"Lee"}, "Joan");
  jon.sex = Sex::kMale;
  joan.sex = Sex::kFemale;
  EXPECT_EQ(GuardAcrossSwap(jon, joan), Guard::kSex);
  // A part of the family name that is no given name of the other's is no swap.
  PreparedPerson pa = Prepare(Renamed({"Patricia"}, "Cromuberg-Davis"));
  PreparedPerson pb = Prepare(Renamed({"Adams"}, "Patricia"));
  EXPECT_FALSE(Compare(pa, pb).names_swapped);
}

// A multiple birth on record across a swap of the name fields: the first names read
// crosswise must be one name (as typed, or a nickname), or the pair is twins: Christina
// Shah against "Shah, Christpan" (her brother Christian, mistyped), not one child.
TEST(CompareTest, AMultipleBirthAcrossASwapReadsTheNamesCrosswise) {
  Person christina = Renamed({"Christina"}, "Shah"), christpan = Renamed({"Shah"}, "Christpan");
  christina.sex = christpan.sex = Sex::kUnknown;
  christpan.multiple_birth = true;
  christpan.multiple_birth_order = 2;
  EXPECT_EQ(GuardAcrossSwap(christina, christpan), Guard::kTwins);
  EXPECT_EQ(GuardAcrossSwap(christpan, christina), Guard::kTwins);
  // One child with its names swapped, or a nickname crosswise: one person.
  for (const char* name : {"Christina", "Chris"}) {
    christpan.family = name;
    EXPECT_EQ(GuardAcrossSwap(christina, christpan), Guard::kNone) << name;
  }
}

// Twins across such a swap: Carla Groß, and her sister Carl entered as "Groß,
// Carl-Moreau" after a marriage. The part the swap was read from (Carl) is her name.
TEST(CompareTest, TwinsAcrossASwapWithAHyphenatedName) {
  Person carla = Renamed({"Carla"}, "Groß"), carl = Renamed({"Groß"}, "Carl-Moreau");
  carla.sex = carl.sex = Sex::kFemale;
  EXPECT_EQ(GuardAcrossSwap(carla, carl), Guard::kTwins);
  EXPECT_EQ(GuardAcrossSwap(carl, carla), Guard::kTwins);
  // The same first name in one part of it: one person.
  carl.family = "Carla-Moreau";
  EXPECT_EQ(GuardAcrossSwap(carla, carl), Guard::kNone);
  // A former name on file does not narrow the check to the parts: Antoine Gross against
  // "Gross, Antoinette" (born Moreau), alike by Jaro-Winkler, three edits apart.
  Person antoine = Renamed({"Antoine"}, "Gross"), antoinette = Renamed({"Gross"}, "Antoinette");
  antoinette.former_family = {"Moreau"};
  antoine.sex = antoinette.sex = Sex::kUnknown;
  EXPECT_EQ(GuardAcrossSwap(antoine, antoinette), Guard::kTwins);
  // With the sexes on record, a brother and a sister; hyphenated the same.
  antoine.sex = Sex::kMale;
  antoinette.sex = Sex::kFemale;
  EXPECT_EQ(GuardOf(Prepare(antoine), Prepare(antoinette)), Guard::kSex);
  antoinette.former_family.clear();
  antoinette.family = "Antoinette-Moreau";
  EXPECT_EQ(GuardOf(Prepare(antoine), Prepare(antoinette)), Guard::kSex);
}

// "Weller, Ebony" against "Flynn Weller": the family name went into the given field and
// the family field holds something else. The family name agrees; the first names
// (Flynn, Ebony) do not, and the twin guard still looks at them.
TEST(CompareTest, AFamilyNameTypedAsTheGivenName) {
  Person a = Base();
  a.given = {"Flynn"};
  a.family = "Weller";
  a.sex = Sex::kUnknown;
  a.identifiers.clear();
  a.phones.clear();
  Person b = a;
  b.given = {"Weller"};
  b.family = "Ebony";
  PreparedPerson pa = Prepare(a), pb = Prepare(b);
  Comparison c = Compare(pa, pb);
  EXPECT_FALSE(c.names_swapped);
  EXPECT_EQ(c.at(Field::kFamilyName), Level::kEquivalent);
  EXPECT_EQ(c.at(Field::kGivenName), Level::kDifferent);
  EXPECT_EQ(Compare(pb, pa).levels, c.levels);
  EXPECT_EQ(CheckGuards(pa, pb, c), Guard::kNone);  // nothing on record tells
  b.identifiers = {{"ssn", "987-65-4321"}};
  a.identifiers = {{"ssn", "123-45-6789"}};
  pa = Prepare(a);
  pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kTwins);

  // Neither name in the other's field: nothing agrees.
  b.given = {"Ebony"};
  b.family = "Jones";
  c = Compare(pa, Prepare(b));
  EXPECT_EQ(c.at(Field::kFamilyName), Level::kDifferent);
}

TEST(CompareTest, BirthDateLevels) {
  Person b = Base();
  b.birth_date = {1980, 7, 3};  // day and month transposed
  EXPECT_EQ(CompareField(Base(), b, Field::kBirthDate), Level::kEquivalent);
  b.birth_date = {1980, 3, 8};  // one digit
  EXPECT_EQ(CompareField(Base(), b, Field::kBirthDate), Level::kClose);
  b.birth_date = {1908, 3, 7};  // adjacent digits transposed
  EXPECT_EQ(CompareField(Base(), b, Field::kBirthDate), Level::kClose);
  b.birth_date = {1975, 11, 20};
  EXPECT_EQ(CompareField(Base(), b, Field::kBirthDate), Level::kDifferent);
  b.birth_date = {};
  EXPECT_EQ(CompareField(Base(), b, Field::kBirthDate), Level::kMissing);
}

TEST(CompareTest, AddressAndPhoneLevels) {
  Person b = Base();
  b.street = {"12 N. Main St.", "#4B"};
  EXPECT_EQ(CompareField(Base(), b, Field::kStreet), Level::kExact);
  b.street = {"Apt 4B", "12 N Main St"};  // lines swapped
  EXPECT_EQ(CompareField(Base(), b, Field::kStreet), Level::kEquivalent);
  b.street = {"99 Elm Road"};  // moved
  EXPECT_EQ(CompareField(Base(), b, Field::kStreet), Level::kDifferent);
  b.phones = {"217.555.0101"};
  EXPECT_EQ(CompareField(Base(), b, Field::kPhone), Level::kExact);
  b.postal_code = "62701-1234";
  EXPECT_EQ(CompareField(Base(), b, Field::kPostalCode), Level::kExact);
}

TEST(CompareTest, IdentifiersCompareOnlyWithinTheirSystem) {
  Person b = Base();
  b.identifiers = {{"drivers-licence", "123456789"}};
  EXPECT_EQ(CompareField(Base(), b, Field::kIdentifier), Level::kMissing);
  b.identifiers = {{"ssn", "123456789"}};
  EXPECT_EQ(CompareField(Base(), b, Field::kIdentifier), Level::kExact);
  b.identifiers = {{"ssn", "123456780"}};
  EXPECT_EQ(CompareField(Base(), b, Field::kIdentifier), Level::kClose);
  b.identifiers = {{"ssn", "987654321"}};
  EXPECT_EQ(CompareField(Base(), b, Field::kIdentifier), Level::kDifferent);
}

TEST(GuardTest, TwinsAreGuarded) {
  Person a = Base();
  a.identifiers.clear();
  Person twin = a;
  twin.given = {"Olivia"};
  twin.sex = Sex::kFemale;  // a twin sister: two people, not a question
  PreparedPerson pa = Prepare(a), pt = Prepare(twin);
  EXPECT_EQ(GuardOf(pa, pt), Guard::kSex);
  EXPECT_EQ(Decide(100, Guard::kSex, Thresholds{}).grade, Grade::kNone);
  // A twin of the same sex is a question for an operator.
  twin.sex = Sex::kMale;
  pt = Prepare(twin);
  EXPECT_EQ(GuardOf(pa, pt), Guard::kTwins);
  EXPECT_FALSE(SaysTwoPeople(Guard::kTwins));
  // A registration without a first name is no sex guard: it says nothing of whose sex
  // is right.
  Person nameless = a;
  nameless.given.clear();
  nameless.sex = Sex::kFemale;
  PreparedPerson pn = Prepare(nameless);
  EXPECT_NE(GuardOf(pa, pn), Guard::kSex);
  // A sex mistyped on a duplicate that keeps the name is no guard.
  Person mistyped = a;
  mistyped.sex = Sex::kFemale;
  PreparedPerson pm = Prepare(mistyped);
  EXPECT_EQ(GuardOf(pa, pm), Guard::kNone);
  // A twin brother on a registration that records the multiple birth.
  Person brother = a;
  brother.given = {"Oscar"};
  brother.multiple_birth = true;
  PreparedPerson pbro = Prepare(brother);
  EXPECT_EQ(GuardOf(pa, pbro), Guard::kTwins);
  // Identifiers of one system that differ outright, the sex on both: twins told apart.
  Person a_id = Base(), other_id = Base();
  other_id.given = {"Oscar"};
  other_id.identifiers = {{"ssn", "987-65-4321"}};
  PreparedPerson pai = Prepare(a_id), poi = Prepare(other_id);
  EXPECT_EQ(GuardOf(pai, poi), Guard::kTwinsApart);
  // Birth orders that differ, even with the same given name.
  Person first = a, second = a;
  first.multiple_birth_order = 1;
  second.multiple_birth_order = 2;
  PreparedPerson p1 = Prepare(first), p2 = Prepare(second);
  EXPECT_EQ(GuardOf(p1, p2), Guard::kBirthOrder);
  EXPECT_TRUE(SaysTwoPeople(Guard::kBirthOrder));
  EXPECT_EQ(Decide(100, Guard::kBirthOrder, Thresholds{}).grade, Grade::kNone);
  // Whatever else differs: a family name garbled on one registration.
  second.family = "Evan";
  p2 = Prepare(second);
  EXPECT_EQ(GuardOf(p1, p2), Guard::kBirthOrder);
  // One birth order on both, a first name mistyped on one: one child (Jerry, Jery).
  Person jerry = a, jery = a;
  jerry.given = {"Jerry"};
  jery.given = {"Jery"};
  jerry.multiple_birth = jery.multiple_birth = true;
  jerry.multiple_birth_order = jery.multiple_birth_order = 2;
  PreparedPerson pj = Prepare(jerry), pjy = Prepare(jery);
  EXPECT_EQ(GuardOf(pj, pjy), Guard::kNone);
  // The order on one side only says nothing of which child the other is.
  jery.multiple_birth_order = 0;
  pjy = Prepare(jery);
  EXPECT_EQ(GuardOf(pj, pjy), Guard::kTwins);
  // A nickname is the same person, not a twin.
  Person bill = a;
  bill.given = {"Bill"};
  PreparedPerson pb = Prepare(bill);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kNone);
}

// Twins named a letter apart are two children whatever the family name says: a twin's
// may be mistyped past recognition on one registration (Green / rGen).
TEST(GuardTest, TwinsNamedALetterApartWhateverTheFamilyName) {
  Person ryan = Renamed({"Ryan"}, "Green");
  Person bryan = ryan;
  bryan.given = {"Bryan"};
  bryan.family = "rGen";
  PreparedPerson pr = Prepare(ryan), pb = Prepare(bryan);
  Comparison c = Compare(pr, pb);
  ASSERT_EQ(c.at(Field::kFamilyName), Level::kDifferent);
  ASSERT_EQ(c.at(Field::kGivenName), Level::kClose);
  EXPECT_EQ(CheckGuards(pr, pb, c), Guard::kTwins);
  // Carl and Carla, a feminine ending.
  Person carl = ryan, carla = bryan;
  carl.given = {"Carl"};
  carla.given = {"Carla"};
  PreparedPerson pc = Prepare(carl), pca = Prepare(carla);
  EXPECT_EQ(GuardOf(pc, pca), Guard::kTwins);
  // A typo of one name is still one name: Elizabeth / Elizabeh under a married name.
  Person liz = ryan, lizz = bryan;
  liz.given = {"Elizabeth"};
  lizz.given = {"Elizabeh"};
  PreparedPerson pl = Prepare(liz), pll = Prepare(lizz);
  EXPECT_EQ(GuardOf(pl, pll), Guard::kNone);
}

// Twins a registration desk told apart: the sex on both, two first names and two
// numbers of a system one person carries everywhere (the SSN). Two people, not a
// question. Anything less stays a question: no sex (a research extract cannot tell a
// record whose first name and number were both replaced), a practice's record numbers
// (two local ids of one practice carry two whoever they are), numbers a slip apart,
// of two lengths or in sequence, or names a letter apart (Ann / Anne).
TEST(GuardTest, TwinsWithTheirOwnNumbersAreTwoPeople) {
  Person olivia = Base();
  olivia.given = {"Olivia"};
  olivia.sex = Sex::kFemale;
  Person katherine = olivia;
  katherine.given = {"Katherine"};
  katherine.identifiers = {{"ssn", "819-79-6517"}};
  auto guard = [](const Person& x, const Person& y) { return GuardOf(Prepare(x), Prepare(y)); };
  EXPECT_EQ(guard(olivia, katherine), Guard::kTwinsApart);
  EXPECT_EQ(Decide(100, Guard::kTwinsApart, Thresholds{}).grade, Grade::kNone);
  // The SSN under its URI is the same system.
  Person olivia_uri = olivia, katherine_uri = katherine;
  olivia_uri.identifiers = {{"http://hl7.org/fhir/sid/us-ssn", "123-45-6789"}};
  katherine_uri.identifiers = {{"urn:oid:2.16.840.1.113883.4.1", "819-79-6517"}};
  EXPECT_EQ(guard(olivia_uri, katherine_uri), Guard::kTwinsApart);
  // A practice's record numbers: a question.
  Person olivia_mrn = olivia, katherine_mrn = katherine;
  olivia_mrn.identifiers = {{"urn:oid:1.2.3.4.5", "100234"}};
  katherine_mrn.identifiers = {{"urn:oid:1.2.3.4.5", "877001"}};
  EXPECT_EQ(guard(olivia_mrn, katherine_mrn), Guard::kTwins);
  // A number with a digit dropped, or in sequence with the other: a question.
  katherine.identifiers = {{"ssn", "123-45-678"}};
  EXPECT_EQ(guard(olivia, katherine), Guard::kTwins);
  katherine.identifiers = {{"ssn", "123-45-6791"}};
  EXPECT_EQ(guard(olivia, katherine), Guard::kTwins);
  // A number one slip apart is one person's whatever the first names say.
  katherine.identifiers = {{"ssn", "123-45-6798"}};
  EXPECT_EQ(guard(olivia, katherine), Guard::kNone);
  // Names a letter apart, spellings of one name as often as two: a question.
  Person ann = olivia, anne = katherine;
  ann.given = {"Ann"};
  anne.given = {"Anne"};
  anne.identifiers = {{"ssn", "819-79-6517"}};
  EXPECT_EQ(guard(ann, anne), Guard::kTwins);
  // Spellings of one name that sound alike, a placeholder for a newborn's name, a
  // placeholder number: a question.
  Person steven = ann, stephen = anne;
  steven.given = {"Steven"};
  stephen.given = {"Stephen"};
  EXPECT_EQ(guard(steven, stephen), Guard::kTwins);
  Person baby = ann, emma = anne;
  baby.given = {"Baby", "Girl"};
  emma.given = {"Emma"};
  EXPECT_EQ(guard(baby, emma), Guard::kTwins);
  Person zeros = anne;
  zeros.identifiers = {{"ssn", "000-00-0000"}};
  EXPECT_EQ(guard(olivia, zeros), Guard::kTwins);
  // A multiple birth on record with a first name mistyped: a question.
  Person jerry = olivia, jery = katherine;
  jerry.given = {"Jerry"};
  jery.given = {"Jery"};
  jery.multiple_birth = true;
  jery.identifiers = {{"ssn", "819-79-6517"}};
  EXPECT_EQ(guard(jerry, jery), Guard::kTwins);
  // No sex on record: a question.
  katherine.identifiers = {{"ssn", "819-79-6517"}};
  olivia.sex = katherine.sex = Sex::kUnknown;
  EXPECT_EQ(guard(olivia, katherine), Guard::kTwins);
}

// Namesakes: one name and birth date, two SSNs (not one number's slip), and neither an
// address nor a phone in common. A question, never a link: the name and the birth date
// are all that say one person. With an address or a phone in common, or numbers a slip
// apart, the score decides as before.
TEST(GuardTest, NamesakesWithTheirOwnNumbersAreAQuestion) {
  Person mary = Base();
  mary.given = {"Mary"};
  mary.family = "Brown";
  mary.sex = Sex::kFemale;
  Person other = mary;
  other.identifiers = {{"ssn", "025-17-4140"}};
  other.street = {"36 Bridge Street"};
  other.phones = {"+1 (412) 516-8623"};
  EXPECT_EQ(GuardOf(Prepare(mary), Prepare(other)), Guard::kOtherNumbers);
  EXPECT_FALSE(SaysTwoPeople(Guard::kOtherNumbers));
  EXPECT_EQ(Decide(40, Guard::kOtherNumbers, Thresholds{}).grade, Grade::kPossible);
  // The same under the SSN's URI and OID.
  Person mary_uri = mary, other_uri = other;
  mary_uri.identifiers = {{"http://hl7.org/fhir/sid/us-ssn", "123-45-6789"}};
  other_uri.identifiers = {{"urn:oid:2.16.840.1.113883.4.1", "025-17-4140"}};
  EXPECT_EQ(GuardOf(Prepare(mary_uri), Prepare(other_uri)), Guard::kOtherNumbers);
  // One address: a number replaced at home is the score's to weigh.
  Person at_home = other;
  at_home.street = mary.street;
  EXPECT_EQ(GuardOf(Prepare(mary), Prepare(at_home)), Guard::kNone);
  // One phone, likewise.
  Person same_phone = other;
  same_phone.phones = mary.phones;
  EXPECT_EQ(GuardOf(Prepare(mary), Prepare(same_phone)), Guard::kNone);
  // A number a slip apart is one person's.
  Person slipped = other;
  slipped.identifiers = {{"ssn", "123-45-6798"}};
  EXPECT_EQ(GuardOf(Prepare(mary), Prepare(slipped)), Guard::kNone);
  // A number on one side only is no evidence either way.
  Person without = other;
  without.identifiers.clear();
  EXPECT_EQ(GuardOf(Prepare(mary), Prepare(without)), Guard::kNone);
  // A practice's record numbers are two whoever they are.
  Person mrn_a = mary, mrn_b = other;
  mrn_a.identifiers = {{"urn:oid:1.2.3.4.5", "100234"}};
  mrn_b.identifiers = {{"urn:oid:1.2.3.4.5", "877001"}};
  EXPECT_EQ(GuardOf(Prepare(mrn_a), Prepare(mrn_b)), Guard::kNone);
}

// One SSN on registrations a desk made that otherwise say two people: a guarantor's
// number (a parent's, a spouse's) typed as the patient's. A question, not a link. One
// SSN still outweighs a sex mistyped on one name, a first name replaced on one birth
// date, and, on a research extract without a sex, anything.
TEST(GuardTest, ANumberSharedAcrossTwoPeopleIsAQuestion) {
  Person jeffrey = Base();
  jeffrey.given = {"Jeffrey"};
  jeffrey.family = "Ortiz";
  jeffrey.birth_date = {1996, 2, 24};
  Person guadalupe = jeffrey;
  guadalupe.given = {"Guadalupe"};
  guadalupe.birth_date = {1999, 9, 7};
  EXPECT_EQ(GuardOf(Prepare(jeffrey), Prepare(guadalupe)), Guard::kSharedNumber);
  EXPECT_FALSE(SaysTwoPeople(Guard::kSharedNumber));
  // A husband's number on his wife's registration, her name a letter from his.
  Person gary = jeffrey, mary = jeffrey;
  gary.given = {"Gary"};
  mary.given = {"Mary"};
  mary.sex = Sex::kFemale;
  EXPECT_EQ(GuardOf(Prepare(gary), Prepare(mary)), Guard::kSharedNumber);
  // A sex mistyped on one name is one person.
  Person mistyped = jeffrey;
  mistyped.sex = Sex::kFemale;
  EXPECT_EQ(GuardOf(Prepare(jeffrey), Prepare(mistyped)), Guard::kNone);
  // A first name replaced on one birth date, or a birth date mistyped under another
  // first name: the number decides.
  Person renamed = guadalupe;
  renamed.birth_date = jeffrey.birth_date;
  EXPECT_EQ(GuardOf(Prepare(jeffrey), Prepare(renamed)), Guard::kNone);
  Person redated = jeffrey;
  redated.birth_date = {1996, 2, 25};
  redated.given = {"Guadalupe"};
  EXPECT_EQ(GuardOf(Prepare(jeffrey), Prepare(redated)), Guard::kNone);
  // Without a sex on both (a research extract), one number is one person.
  Person extract_a = jeffrey, extract_b = guadalupe;
  extract_a.sex = extract_b.sex = Sex::kUnknown;
  EXPECT_EQ(GuardOf(Prepare(extract_a), Prepare(extract_b)), Guard::kNone);
}

// A generation of the name (Jr, Sr, II, III) is read from the suffixes, or from a last
// word typed after the family or given names, and is then no part of the name. A hyphen
// joins a name's own parts: Tanaka-Ii is a family name.
TEST(CompareTest, AGenerationIsNoPartOfTheName) {
  Person typed = Base();
  typed.family = "Garcia-Hernandez Jr.";
  PreparedPerson p = Prepare(typed);
  EXPECT_EQ(p.family, "garciahernandez");
  EXPECT_EQ(p.generation, Generation::kSecond);
  Person given = Base();
  given.given = {"William Senior"};
  p = Prepare(given);
  EXPECT_EQ(p.given, std::vector<std::string>({"william"}));
  EXPECT_EQ(p.generation, Generation::kSenior);
  Person entry = Base();
  entry.given = {"William", "Jr"};
  EXPECT_EQ(Prepare(entry).given, std::vector<std::string>({"william"}));
  EXPECT_EQ(Prepare(entry).generation, Generation::kSecond);
  Person suffixed = Base();
  suffixed.suffix = {"MD", "III"};
  EXPECT_EQ(Prepare(suffixed).generation, Generation::kThird);
  // II and Jr are one generation, the second of the name.
  Person second = Base();
  second.suffix = {"II"};
  EXPECT_EQ(Prepare(second).generation, Generation::kSecond);
  // A family name of one word is kept, whatever it reads as; so is a hyphenated part.
  Person one = Base();
  one.family = "Junior";
  EXPECT_EQ(Prepare(one).family, "junior");
  EXPECT_EQ(Prepare(one).generation, Generation::kNone);
  Person hyphen = Base();
  hyphen.family = "Tanaka-Ii";
  EXPECT_EQ(Prepare(hyphen).family, "tanakaii");
  EXPECT_EQ(Prepare(hyphen).generation, Generation::kNone);
  // The family name compares without it.
  Person plain = Base();
  plain.family = "Garcia-Hernandez";
  EXPECT_EQ(CompareField(typed, plain, Field::kFamilyName), Level::kExact);
}

// Two generations of one name on two birth dates are a father and son: two people. On
// one birth date (or none) a question: some desks write Jr and III for one another. A
// generation on one side only makes a birth date a digit away a question, at one
// address too. Jr and II are one generation.
TEST(GuardTest, TwoGenerationsOfANameAreTwoPeople) {
  Person junior = Base();
  junior.family = "Garcia Jr";
  junior.identifiers.clear();
  Person senior = junior;
  senior.family = "Garcia Sr";
  senior.birth_date = {1954, 3, 7};
  EXPECT_EQ(GuardOf(Prepare(junior), Prepare(senior)), Guard::kNamesake);
  Person same_day = senior;
  same_day.birth_date = junior.birth_date;
  EXPECT_EQ(GuardOf(Prepare(junior), Prepare(same_day)), Guard::kBirthDate);
  Person undated = senior;
  undated.birth_date = {};
  EXPECT_EQ(GuardOf(Prepare(junior), Prepare(undated)), Guard::kBirthDate);
  Person the_second = junior;
  the_second.family = "Garcia";
  the_second.suffix = {"II"};
  EXPECT_EQ(GuardOf(Prepare(junior), Prepare(the_second)), Guard::kNone);
  // Jr on one side, a birth year a digit away, one address: a question.
  Person bare = junior;
  bare.family = "Garcia";
  bare.birth_date = {1950, 3, 7};
  EXPECT_EQ(GuardOf(Prepare(junior), Prepare(bare)), Guard::kBirthDate);
  // Without the suffix on either, the typo links as before.
  Person junior_bare = junior;
  junior_bare.family = "Garcia";
  EXPECT_EQ(GuardOf(Prepare(junior_bare), Prepare(bare)), Guard::kNone);
  // One birth date: one person, the suffix left off once.
  EXPECT_EQ(GuardOf(Prepare(junior), Prepare(junior_bare)), Guard::kNone);
}

// One number on both does not make a father and son, or twins, one person: the
// guarantor's (a parent's) number typed on a dependant's registration. A question.
TEST(GuardTest, AGuarantorsNumberOnAFamilyIsAQuestion) {
  Person junior = Base();
  junior.family = "Garcia Jr";
  Person senior = Base();
  senior.family = "Garcia Sr";
  senior.birth_date = {1954, 3, 7};
  EXPECT_EQ(GuardOf(Prepare(junior), Prepare(senior)), Guard::kSharedNumber);
  // Jr on one side only, the father's birth date a digit away.
  Person father = Base();
  father.family = "Garcia";
  father.birth_date = {1950, 3, 7};
  EXPECT_EQ(GuardOf(Prepare(junior), Prepare(father)), Guard::kSharedNumber);
  // A mother and daughter of one name, decades apart.
  Person mary = Base();
  mary.given = {"Mary"};
  mary.sex = Sex::kFemale;
  Person daughter = mary;
  daughter.birth_date = {2004, 11, 21};
  EXPECT_EQ(GuardOf(Prepare(mary), Prepare(daughter)), Guard::kSharedNumber);
  // Twins on their mother's number, birth orders on record.
  Person first = Base(), second = Base();
  first.multiple_birth_order = 1;
  second.multiple_birth_order = 2;
  second.given = {"Olivia"};
  EXPECT_EQ(GuardOf(Prepare(first), Prepare(second)), Guard::kSharedNumber);
  // A birth date a digit off under one number is one person.
  Person slip = Base();
  slip.birth_date = {1980, 3, 8};
  EXPECT_EQ(GuardOf(Prepare(Base()), Prepare(slip)), Guard::kNone);
}

// A placeholder number (000-00-0000 typed for "none") is no number: twins who both
// carry it are not one person by it.
TEST(GuardTest, APlaceholderNumberIsNoNumber) {
  EXPECT_TRUE(IsPlaceholderNumber("000000000"));
  EXPECT_TRUE(IsPlaceholderNumber("999999999"));
  EXPECT_FALSE(IsPlaceholderNumber("000000001"));
  EXPECT_FALSE(IsPlaceholderNumber("819796517"));
  Person laura = Base(), lisa = Base();
  laura.given = {"Laura"};
  lisa.given = {"Lisa"};
  laura.sex = lisa.sex = Sex::kFemale;
  laura.identifiers = lisa.identifiers = {{"ssn", "000-00-0000"}};
  PreparedPerson pa = Prepare(laura), pb = Prepare(lisa);
  EXPECT_TRUE(pa.identifiers.empty());
  EXPECT_EQ(GuardOf(pa, pb), Guard::kTwins);
  // A practice's record number may be anything it issues.
  laura.identifiers = {{"urn:oid:1.2.3.4.5", "000000"}};
  EXPECT_EQ(Prepare(laura).identifiers.size(), 1u);
}

// A first name cut to its initial leaves the middle name to compare: L. Katherine is not
// Laura Mary, on one birth date (twins) or a digit apart.
TEST(GuardTest, AnInitialWithAnotherMiddleNameIsAQuestion) {
  Person laura = Renamed({"Laura", "Mary"});
  laura.sex = Sex::kFemale;
  Person l = laura;
  l.given = {"L.", "Katherine"};
  PreparedPerson pa = Prepare(laura), pl = Prepare(l);
  EXPECT_EQ(GuardOf(pa, pl), Guard::kTwins);
  l.birth_date = {1980, 3, 8};
  pl = Prepare(l);
  EXPECT_EQ(GuardOf(pa, pl), Guard::kBirthDate);
  // The middle name agreeing, or one side without one, is no evidence against.
  l.given = {"L.", "M"};
  l.birth_date = laura.birth_date;
  pl = Prepare(l);
  EXPECT_EQ(GuardOf(pa, pl), Guard::kNone);
  l.given = {"L."};
  pl = Prepare(l);
  EXPECT_EQ(GuardOf(pa, pl), Guard::kNone);
}

// A birth date a digit apart (or day and month swapped) is one date only when the names
// agree as one person's: not two proper names a letter apart (Marvin / Martin), not two
// middle names (Heather Michelle / Heather Sandra), not an initial against a mistyped
// family name (A. Marxtin / Anna Martin).
TEST(GuardTest, ANearBirthDateNeedsNamesThatAreOnePersons) {
  Person marvin = Renamed({"Marvin"}, "Nelson");
  Person martin = marvin;
  martin.given = {"Martin"};
  martin.birth_date = {1980, 7, 3};  // day and month swapped
  PreparedPerson pa = Prepare(marvin), pb = Prepare(martin);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kBirthDate);
  martin.given = {"Marvni"};  // a typo of one name: the date too is a slip
  pb = Prepare(martin);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kNone);

  Person heather = marvin;
  heather.given = {"Heather", "Michelle"};
  heather.sex = Sex::kFemale;
  Person sister = heather;
  sister.given = {"Heather", "Sandra"};
  sister.birth_date = {1980, 3, 8};
  pa = Prepare(heather);
  pb = Prepare(sister);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kBirthDate);
  sister.given = {"Heather", "Michele"};  // one middle name, mistyped
  pb = Prepare(sister);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kNone);

  Person anna = heather;
  anna.given = {"Anna"};
  anna.family = "Martin";
  Person a = anna;
  a.given = {"A"};
  a.family = "Marxtin";
  a.birth_date = {1980, 3, 8};
  pa = Prepare(anna);
  pb = Prepare(a);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kBirthDate);
  a.family = "Martin";  // the family name as written: the initial and the date suffice
  pb = Prepare(a);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kNone);
  a.family = "Martin-Lopez";  // a married name's part is no typo
  pb = Prepare(a);
  ASSERT_EQ(Compare(pa, pb).at(Field::kFamilyName), Level::kEquivalent);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kNone);
}

// Without a sex, a multiple birth or identifiers on record, a registration cannot tell
// a twin from a first name replaced by a clerk: the score decides. With the sex on both,
// a different first name at the same family name and birth date is a twin.
TEST(GuardTest, ADifferentGivenNameIsATwinWhereTheRegistrationsCanTell) {
  Person a = Base();
  a.identifiers.clear();
  Person b = a;
  b.given = {"Oscar"};  // same sex, no multiple birth on record, no identifiers
  PreparedPerson pa = Prepare(a), pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kTwins);
  // Without a sex on one side, the phone both carry still tells: a household.
  b.sex = Sex::kUnknown;
  pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kTwins);
  // An SSN on one side only is no evidence of one person: still twins.
  b.phones.clear();
  a.phones.clear();
  a.identifiers = {{"ssn", "123-45-6789"}};
  pa = Prepare(a);
  pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kTwins);
  // Bare records (no sex, phone or identifier on either side) cannot tell a twin from a
  // replaced first name: the score decides.
  a.identifiers.clear();
  a.sex = Sex::kUnknown;
  pa = Prepare(a);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kNone);
  // One name the other with a feminine ending, the same sex on record: Simon and
  // Simone are two names, not a typo.
  a.given = {"Simon"};
  b.given = {"Simone"};
  a.sex = Sex::kMale;
  b.sex = Sex::kMale;
  pa = Prepare(a);
  pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kTwins);
  // A letter apart with the sexes differing: Jon and Joan.
  a.given = {"Jon"};
  b.given = {"Joan"};
  a.sex = Sex::kMale;
  b.sex = Sex::kFemale;
  pa = Prepare(a);
  pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kSex);  // two people
  // Both recorded female, a letter apart, both names in their own right: twins.
  a.given = {"Gina"};
  b.given = {"Tina"};
  a.sex = b.sex = Sex::kFemale;
  pa = Prepare(a);
  pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kTwins);
  // The same with one registration's names entered in each other's fields.
  Person louis = WithNames(a, "Louis", "Schäfer");
  EXPECT_EQ(GuardAcrossSwap(louis, WithNames(a, "Schäfer", "Louise")), Guard::kTwins);
  // Swapped, one name: one person.
  EXPECT_EQ(GuardAcrossSwap(louis, WithNames(a, "Schäfer", "Louis")), Guard::kNone);
  // Swapped with a feminine ending: Joel Walachberg against "Walachberg, Joelle".
  EXPECT_EQ(
      GuardAcrossSwap(WithNames(a, "Walachberg", "Joel"), WithNames(a, "Joelle", "Walachberg")),
      Guard::kTwins);
  // A bare "e" across a swap is as often the family name's: John Wylde against
  // "Wyld, John" is one John. (Clark / Clarke, both proper names of the word list, are
  // a question: the list cannot tell a family name from a first name.)
  EXPECT_EQ(GuardAcrossSwap(WithNames(a, "John", "Wylde"), WithNames(a, "Wyld", "John")),
            Guard::kNone);
  // A letter apart where one is a typo (Jonh): one person.
  a.given = {"John"};
  b.given = {"Jonh"};
  a.sex = b.sex = Sex::kMale;
  pa = Prepare(a);
  pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kNone);
  // The same a letter apart with identifiers that differ: a question.
  a.identifiers = {{"ssn", "123-45-6789"}};
  b.identifiers = {{"ssn", "987-65-4321"}};
  pa = Prepare(a);
  pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kTwins);
}

// A birth date a digit apart links only when the names and an address, phone or
// identifier confirm it; names only alike on another birth date and address are two
// people; a registration without a name never links by its other fields.
TEST(GuardTest, BirthDateSimilarNamesAndNoName) {
  Person a = Base();
  Person b = a;
  b.birth_date = {1980, 3, 8};
  PreparedPerson pa = Prepare(a), pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kNone);  // all else confirms
  b.identifiers = {{"ssn", "987-65-4321"}};  // another SSN: not one person's slip
  pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kBirthDate);
  b.street = {"7 Other Road"};
  b.phones = {"+1 (312) 555-0199"};
  pb = Prepare(b);  // and at another address: still a question
  EXPECT_EQ(GuardOf(pa, pb), Guard::kBirthDate);
  b.identifiers.clear();
  pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kBirthDate);  // nothing confirms
  b = a;
  b.identifiers.clear();
  b.birth_date = {1980, 7, 3};  // day and month swapped
  b.given = {"Oscar"};
  pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kBirthDate);  // another given name

  // Junior and senior: one name, address and phone, a generation apart: two people.
  b = a;
  b.identifiers.clear();
  b.birth_date = {1955, 11, 20};
  pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kNamesake);
  // Two slips and a swap of day and month (19800307 -> 19810703): still a question.
  b.birth_date = {1981, 7, 3};
  pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kBirthDate);
  // Two digits apart is no longer a typo the names and address can vouch for (a
  // namesake relative born that year at the address looks the same): a question.
  b.birth_date = {1980, 8, 3};  // 19800307 -> 19800803
  pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kBirthDate);
  // One digit is: linked when the names and the address agree.
  b.birth_date = {1980, 3, 8};  // 19800307 -> 19800308
  pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kNone);
  // Bare records (no sex, phone or identifier) cannot tell a parent from a mistyped
  // birth date: the score decides.
  Person bare_a = a, bare_b = a;
  for (Person* p : {&bare_a, &bare_b}) {
    p->sex = Sex::kUnknown;
    p->phones.clear();
    p->identifiers.clear();
  }
  bare_b.birth_date = {1955, 11, 20};
  EXPECT_EQ(GuardOf(Prepare(bare_a), Prepare(bare_b)), Guard::kNone);
  // No birth date on one side: one name at one address and phone is also a mother and
  // daughter of that name; only an identifier in common links it.
  b = a;
  b.birth_date = {};
  pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kNone);  // one SSN
  b.identifiers.clear();
  pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kBirthDate);
  // Bare records cannot tell: there an address must agree, and the score decides, with
  // a name replaced too (a research extract's duplicate, or a household: it cannot say).
  Person bare_undated = bare_a;
  bare_undated.birth_date = {};
  EXPECT_EQ(GuardOf(Prepare(bare_a), Prepare(bare_undated)), Guard::kNone);
  bare_undated.family = "Sherriff";
  EXPECT_EQ(GuardOf(Prepare(bare_a), Prepare(bare_undated)), Guard::kNone);
  bare_undated.street = {"7 Other Road"};
  EXPECT_EQ(GuardOf(Prepare(bare_a), Prepare(bare_undated)), Guard::kBirthDate);
  // The same on a birth date a digit apart: at one address, a first name replaced.
  Person bare_near = bare_a;
  bare_near.birth_date = {1980, 3, 8};
  bare_near.given = {"Oscar"};
  EXPECT_EQ(GuardOf(Prepare(bare_a), Prepare(bare_near)), Guard::kNone);
  bare_near.sex = Sex::kMale;  // a registration desk's record can tell: a question
  EXPECT_EQ(GuardOf(Prepare(bare_a), Prepare(bare_near)), Guard::kBirthDate);
  b.street = {"7 Other Road"};
  b.phones.clear();
  pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kBirthDate);
  // Birth orders that differ are two children, with or without birth dates.
  b = a;
  b.identifiers.clear();
  b.birth_date = {};
  a.multiple_birth_order = 1;
  b.multiple_birth_order = 2;
  pa = Prepare(a);
  pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kBirthOrder);
  a.multiple_birth_order = 0;
  pa = Prepare(a);

  Person francois = Renamed({"François"});
  Person francisco = francois;
  francisco.given = {"Francisco"};
  francisco.birth_date = {1975, 9, 21};
  francisco.street = {"7 Other Road"};
  francisco.phones.clear();
  pa = Prepare(francois);
  pb = Prepare(francisco);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kSimilarNames);
  EXPECT_EQ(Decide(100, Guard::kSimilarNames, Thresholds{}).grade, Grade::kNone);
  // On a birth date a digit away it is a question: Sara and Sarah, Steven and Stephen are
  // as often one person whose date was mistyped.
  francisco.birth_date = {1980, 3, 8};
  pb = Prepare(francisco);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kBirthDate);
  Person sara = Base(), sarah = Base();
  sara.given = {"Sara"};
  sarah.given = {"Sarah"};
  sara.identifiers.clear();
  sarah.identifiers.clear();
  sarah.birth_date = {1980, 3, 8};
  sarah.street = {"7 Other Road"};
  sarah.phones.clear();
  EXPECT_EQ(GuardOf(Prepare(sara), Prepare(sarah)), Guard::kBirthDate);
  // A typo is one name, not two alike (Francoiss): the other rules decide.
  francisco.given = {"Francoiss"};
  pb = Prepare(francisco);
  EXPECT_NE(GuardOf(pa, pb), Guard::kSimilarNames);

  Person unnamed = Base();
  unnamed.given.clear();
  unnamed.family.clear();
  pb = Prepare(unnamed);
  pa = Prepare(Base());
  EXPECT_EQ(GuardOf(pa, pb), Guard::kNoName);
  EXPECT_EQ(Decide(100, Guard::kNoName, Thresholds{}).grade, Grade::kPossible);
}

TEST(GuardTest, ANamesakeElsewhereOnAnotherBirthDateIsAnotherPerson) {
  Person a = Base();
  a.identifiers.clear();
  Person namesake = a;
  namesake.birth_date = {1949, 8, 27};
  namesake.street = {"4260 Franklin Lane"};
  namesake.city = "Shelbyville";
  namesake.postal_code = "33400";
  namesake.phones = {"+1 (232) 436-0399"};
  PreparedPerson pa = Prepare(a), pn = Prepare(namesake);
  EXPECT_EQ(GuardOf(pa, pn), Guard::kNamesake);
  EXPECT_TRUE(SaysTwoPeople(Guard::kNamesake));
  // A mover whose birth date carries two slips (19800307 -> 19810317): a question.
  Person mover = namesake;
  mover.birth_date = {1981, 3, 17};
  PreparedPerson pm = Prepare(mover);
  EXPECT_EQ(GuardOf(pa, pm), Guard::kBirthDate);
  // At one address, a birth date two digits apart stays a question for an operator.
  Person relative = a;
  relative.birth_date = {1980, 9, 27};  // 19800307 -> 19800927
  PreparedPerson ps = Prepare(relative);
  EXPECT_EQ(GuardOf(pa, ps), Guard::kBirthDate);
  EXPECT_FALSE(SaysTwoPeople(Guard::kBirthDate));
  // Three or more digits apart there, a father and son of one name: two people.
  relative.birth_date = {1949, 8, 27};
  ps = Prepare(relative);
  EXPECT_EQ(GuardOf(pa, ps), Guard::kNamesake);
  // Without a sex on one side (an extract, not a registration desk's record), a birth
  // date mangled past a typo may still be one person's: a question.
  relative.sex = Sex::kUnknown;
  ps = Prepare(relative);
  EXPECT_EQ(GuardOf(pa, ps), Guard::kBirthDate);
  // One identifier value on both sides asks instead: one person whose birth date is
  // wrong, or a parent's number typed on the namesake child's registration (a
  // guarantor's). Without a sex on one side (an extract), the number decides.
  a.identifiers = namesake.identifiers = {{"ssn", "123-45-6789"}};
  pa = Prepare(a);
  pn = Prepare(namesake);
  EXPECT_EQ(GuardOf(pa, pn), Guard::kSharedNumber);
  namesake.sex = Sex::kUnknown;
  pn = Prepare(namesake);
  EXPECT_EQ(GuardOf(pa, pn), Guard::kNone);
}

// Neither name in common, however much else agrees (one address, one phone, one
// birthday): never linked without an operator; names entered in each other's fields are
// still one name.
TEST(GuardTest, NeitherNameInCommonIsAQuestion) {
  Person a = Base();
  a.identifiers.clear();
  Person b = a;
  b.given = {"Barbara"};
  b.family = "Stenewson";
  PreparedPerson pa = Prepare(a), pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kOtherNames);
  EXPECT_FALSE(SaysTwoPeople(Guard::kOtherNames));
  Person swapped = a;
  swapped.given = {"García-López"};
  swapped.family = "William";
  PreparedPerson ps = Prepare(swapped);
  EXPECT_EQ(GuardOf(pa, ps), Guard::kNone);
  // Bare records cannot tell a household from a duplicate with both names replaced.
  for (Person* p : {&a, &b}) {
    p->sex = Sex::kUnknown;
    p->phones.clear();
  }
  pa = Prepare(a);
  pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kNone);
}

TEST(GuardTest, AnAgreeingIdentifierOverridesTheTwinGuard) {
  Person a = Base();
  Person b = Base();
  b.given = {"Oscar"};
  PreparedPerson pa = Prepare(a), pb = Prepare(b);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kNone);
  // The same SSN with a digit mistyped, or two swapped: one person's number.
  for (const char* slipped : {"123-45-6780", "123-54-6789"}) {
    b.identifiers = {{"ssn", slipped}};
    pb = Prepare(b);
    EXPECT_EQ(GuardOf(pa, pb), Guard::kNone) << slipped;
  }
  // A slip does not outweigh what says two people: a sex or a birth order that differs.
  Person sister = a;
  sister.given = {"Olivia"};
  sister.sex = Sex::kFemale;
  sister.identifiers = {{"ssn", "123-45-6780"}};
  PreparedPerson ps = Prepare(sister);
  EXPECT_EQ(GuardOf(pa, ps), Guard::kSex);
  // Member numbers with a family prefix, issued in sequence, are twins' (two apart:
  // triplets').
  Person m1 = Base(), m2 = Base();
  m1.identifiers = {{"member", "XKP2231901"}};
  m2.identifiers = {{"member", "XKP2231903"}};
  m2.given = {"Oscar"};
  PreparedPerson pm1 = Prepare(m1), pm2 = Prepare(m2);
  ASSERT_EQ(Compare(pm1, pm2).at(Field::kIdentifier), Level::kClose);
  EXPECT_EQ(GuardOf(pm1, pm2), Guard::kTwins);
  // The next number is a twin's as often as a slip: Oscar stays a question.
  b.identifiers = {{"ssn", "123-45-6788"}};
  pb = Prepare(b);
  ASSERT_EQ(Compare(pa, pb).at(Field::kIdentifier), Level::kClose);
  EXPECT_EQ(GuardOf(pa, pb), Guard::kTwins);
}

TEST(DecideTest, ThresholdsAndGuards) {
  Thresholds t;
  t.upper = 14;
  t.lower = 7;
  t.possible = 0;
  EXPECT_EQ(Decide(20, Guard::kNone, t).grade, Grade::kCertain);
  EXPECT_EQ(Decide(10, Guard::kNone, t).grade, Grade::kProbable);
  EXPECT_EQ(Decide(3, Guard::kNone, t).grade, Grade::kPossible);
  EXPECT_EQ(Decide(-3, Guard::kNone, t).grade, Grade::kNone);
  Decision twin = Decide(40, Guard::kTwins, t);
  EXPECT_NE(twin.grade, Grade::kCertain);
  EXPECT_STREQ(twin.decided_by, "twin guard");
}

TEST(BlockingTest, OneCorruptedFieldLeavesASharedKey) {
  Person a = Base();
  for (auto corrupt :
       {+[](Person& p) { p.family = "Xyzzy"; },
        +[](Person& p) {
          p.birth_date = {1911, 1, 1};
        },
        +[](Person& p) { p.given = {"Zed"}; }, +[](Person& p) { p.postal_code = "99999"; }}) {
    Person b = a;
    b.identifiers.clear();
    b.phones.clear();
    corrupt(b);
    EXPECT_TRUE(ShareABlockingKey(a, b));
  }
}

// A registration: a name, a birth date ({} for none) and an address.
Person Registered(const char* given, const char* family, Date birth, const char* street,
                  const char* city, const char* postal) {
  Person p;
  p.given = {given};
  p.family = family;
  p.birth_date = birth;
  p.street = {street};
  p.city = city;
  p.postal_code = postal;
  return p;
}

// `p` at another address.
Person Moved(Person p, const char* street, const char* city, const char* postal) {
  p.street = {street};
  p.city = city;
  p.postal_code = postal;
  return p;
}

// A mover whose name changed and whose birth date was mistyped still meets: a married
// name meets the maiden one (and each part of a hyphenated name meets the name alone)
// with the birth year; a mistyped year meets through the first name with the day and
// month.
TEST(BlockingTest, AChangedNameOrAMistypedYearStillMeets) {
  Person maiden =
      Registered("Yuki", "Berabez", {1970, 12, 14}, "3284 Highland Street", "Rockshire", "67641");
  Person married = Moved(maiden, "2006 Main Court", "Newstead", "58425");
  married.given = {"Yuky"};
  married.family = "Valamberg";
  married.former_family = {"Berabez"};
  married.birth_date = {1970, 12, 24};
  EXPECT_TRUE(ShareABlockingKey(maiden, married));
  Person hyphenated = married;
  hyphenated.family = "Berabez-Valamberg";
  hyphenated.former_family.clear();
  EXPECT_TRUE(ShareABlockingKey(maiden, hyphenated));
  Person year_typo = Moved(maiden, "461 Pine Lane", "Northstead", "46788");
  year_typo.family = "Okafor";  // married since, the maiden name not recorded
  year_typo.birth_date = {1907, 12, 14};
  EXPECT_TRUE(ShareABlockingKey(maiden, year_typo));
}

// A mistyped family name with day and month swapped, at another address: the first
// name with the birth year still meets (Aaron Fitzisridge, Aaron Fitjzisridge).
// A registration whose names, birth date and address were all replaced still meets
// the right one through an identifier with one digit changed or two swapped (Febrl3's
// rec-312-dup-0), and not through another person's number.
TEST(BlockingTest, AMistypedIdentifierStillMeets) {
  Person a = Base();
  Person b;
  b.given = {"Zoltan"};
  b.family = "Quirke";
  b.street = {"4 Far Away Road"};
  b.city = "Elsewhere";
  b.identifiers = {{"ssn", "123-45-6780"}};  // the last digit changed
  EXPECT_TRUE(ShareABlockingKey(a, b));
  b.identifiers = {{"ssn", "123-54-6789"}};  // two swapped
  EXPECT_TRUE(ShareABlockingKey(a, b));
  b.identifiers = {{"ssn", "987-65-4321"}};
  EXPECT_FALSE(ShareABlockingKey(a, b));
  // A practice's record numbers are issued densely, in sequence: no such keys.
  a.identifiers = {{"urn:oid:1.2.3.4.5", "1002345"}};
  b.identifiers = {{"urn:oid:1.2.3.4.5", "1002346"}};
  EXPECT_FALSE(ShareABlockingKey(a, b));
  // A value far longer than any SSN makes one key, not one a character.
  Person huge;
  huge.family = "Quirke";
  std::string long_value;
  while (long_value.size() < 100000) long_value += "1234567890";
  huge.identifiers = {{"ssn", long_value}};
  ASSERT_EQ(Prepare(huge).identifiers.size(), 1u);
  EXPECT_LT(BlockingKeys(Prepare(huge)).size(), 10u);
}

TEST(BlockingTest, AMistypedFamilyNameAndBirthDayStillMeet) {
  Person a =
      Registered("Aaron", "Fitzisridge", {1930, 11, 1}, "8792 Oak Road", "Riverland", "04593");
  Person b = Moved(a, "3327 Valley Place", "Elmhill", "75401");
  b.family = "Fitjzisridge";
  b.birth_date = {1930, 1, 11};
  EXPECT_TRUE(ShareABlockingKey(a, b));
}

// A mistyped first name with a mistyped birth year at another address meets through
// the family name with the day and month (Joseph Haluer 2012, Josmph Haluer 2052); a
// married name without a birth date meets the maiden one through the first name.
TEST(BlockingTest, AMistypedYearAndNameOrAMarriedNameWithoutABirthDateMeet) {
  Person a = Registered("Joseph", "Haluer", {2012, 10, 19}, "3157 Main Road", "Sandville", "68129");
  Person b = Moved(a, "8134 Adams Road", "Glenfield", "38833");
  b.given = {"Josmph"};
  b.birth_date = {2052, 10, 19};
  EXPECT_TRUE(ShareABlockingKey(a, b));
  Person maiden = Registered("Donna", "Green", {}, "1065 Jackson Court", "Elmton", "74046");
  Person married = Moved(maiden, "5756 Madison Boulevard", "Maplehaven", "13615");
  married.family = "Balosell";
  married.former_family = {"Green"};
  married.birth_date = {1973, 7, 12};
  EXPECT_TRUE(ShareABlockingKey(maiden, married));
}

// A search by name alone finds the person whichever form of the given name was
// registered: a nickname shares a blocking key with its formal names.
TEST(BlockingTest, ANicknameMeetsItsFormalName) {
  for (auto [nickname, formal] : {std::pair<const char*, const char*>{"Bob", "Robert"},
                                  {"Peggy", "Margaret"},
                                  {"Bill", "William"}}) {
    Person a;
    a.given = {formal};
    a.family = "Lindqvist";
    Person b;
    b.given = {nickname};
    b.family = "Lindqvist";
    EXPECT_TRUE(ShareABlockingKey(a, b)) << nickname << " / " << formal;
  }
}

// Mistyped names, different birth dates, and the house number left out or the street
// type mistyped: the street's name in the same postal code with the same family initial
// (a household), or in the same city with the same birth year, still meets.
TEST(BlockingTest, TheStreetMeetsWithoutItsHouseNumber) {
  Person a =
      Registered("Blake", "Moody", {1959, 8, 28}, "121 Blackbutt Street", "Maitland", "3088");
  auto shares_key = [&](const Person& b) { return ShareABlockingKey(a, b); };
  Person b;
  b.given = {"Jacobie"};
  b.family = "Mxoday";
  b.birth_date = {1959, 5, 8};
  b.street = {"Blackbutt Steet"};
  b.city = "Maitkand";
  b.postal_code = "3088";
  EXPECT_TRUE(shares_key(b));
  // Another family in the same street is not a candidate.
  b.family = "Tilleq";
  EXPECT_FALSE(shares_key(b));
  b.city = "Maitland";
  b.postal_code = "3089";
  EXPECT_TRUE(shares_key(b));
  // The same street in the town, another postal code and another birth year: a
  // neighbour, not a candidate.
  b.birth_date = {1960, 5, 8};
  EXPECT_FALSE(shares_key(b));
  // The same street name in another town is another street.
  b.birth_date = {1959, 5, 8};
  b.city = "Woodend";
  EXPECT_FALSE(shares_key(b));
  // A street type is not the street's name.
  a.street = {"12 Oak Boulevard"};
  b.street = {"40 Elm Boulevard"};
  b.postal_code = "3088";
  EXPECT_FALSE(shares_key(b));
}

}  // namespace
}  // namespace hie::mpi
