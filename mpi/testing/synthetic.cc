#include "mpi/testing/synthetic.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "mpi/match/text.h"

namespace hie::mpi::testing {
namespace {

const std::vector<std::string>& MaleNames() {
  static const auto* v = new std::vector<std::string>{
      "James",     "John",    "Robert",    "Michael",     "William",  "David",   "Richard",
      "Joseph",    "Thomas",  "Charles",   "Christopher", "Daniel",   "Matthew", "Anthony",
      "Mark",      "Donald",  "Steven",    "Paul",        "Andrew",   "Joshua",  "Kenneth",
      "Kevin",     "Brian",   "George",    "Timothy",     "Ronald",   "Edward",  "Jason",
      "Jeffrey",   "Ryan",    "Jacob",     "Gary",        "Nicholas", "Eric",    "Jonathan",
      "Stephen",   "Larry",   "Justin",    "Scott",       "Benjamin", "Samuel",  "Gregory",
      "Alexander", "Patrick", "Frank",     "Raymond",     "Jack",     "Dennis",  "Jerry",
      "Tyler",     "Aaron",   "José",      "Luis",        "Carlos",   "Juan",    "Jesús",
      "Miguel",    "Ángel",   "Francisco", "Alejandro",   "Muhammad", "Ahmed",   "Wei",
      "Hiroshi",   "Dmitri",  "Lukas",     "Jörg",        "François", "Søren",   "Oliver",
      "Noah",      "Liam",    "Ethan",     "Mason",       "Logan",    "Elijah",  "Owen",
      "Caleb",     "Henry"};
  return *v;
}

const std::vector<std::string>& FemaleNames() {
  static const auto* v = new std::vector<std::string>{
      "Mary",    "Patricia", "Jennifer",  "Linda",    "Elizabeth", "Barbara",   "Susan",
      "Jessica", "Sarah",    "Karen",     "Nancy",    "Margaret",  "Lisa",      "Betty",
      "Dorothy", "Sandra",   "Ashley",    "Kimberly", "Donna",     "Emily",     "Michelle",
      "Carol",   "Amanda",   "Melissa",   "Deborah",  "Stephanie", "Rebecca",   "Laura",
      "Sharon",  "Cynthia",  "Kathleen",  "Amy",      "Shirley",   "Angela",    "Helen",
      "Anna",    "Brenda",   "Pamela",    "Nicole",   "Samantha",  "Katherine", "Christine",
      "Debra",   "Rachel",   "Catherine", "Carolyn",  "Janet",     "Ruth",      "Maria",
      "Heather", "María",    "Guadalupe", "Sofía",    "Lucía",     "Ximena",    "Fatima",
      "Aisha",   "Mei",      "Yuki",      "Olga",     "Zoë",       "Chloé",     "Renée",
      "Ingrid",  "Siobhán",  "Olivia",    "Emma",     "Ava",       "Isabella",  "Mia",
      "Abigail", "Harper",   "Evelyn",    "Ella",     "Grace",     "Victoria",  "Ruby"};
  return *v;
}

const std::vector<std::string>& FamilyNames() {
  static const auto* v = new std::vector<std::string>{
      "Smith",      "Johnson",   "Williams",  "Brown",     "Jones",    "Garcia",   "Miller",
      "Davis",      "Rodriguez", "Martinez",  "Hernandez", "Lopez",    "Gonzalez", "Wilson",
      "Anderson",   "Thomas",    "Taylor",    "Moore",     "Jackson",  "Martin",   "Lee",
      "Perez",      "Thompson",  "White",     "Harris",    "Sanchez",  "Clark",    "Ramirez",
      "Lewis",      "Robinson",  "Walker",    "Young",     "Allen",    "King",     "Wright",
      "Scott",      "Torres",    "Nguyen",    "Hill",      "Flores",   "Green",    "Adams",
      "Nelson",     "Baker",     "Hall",      "Rivera",    "Campbell", "Mitchell", "Carter",
      "Roberts",    "Müller",    "Schäfer",   "Groß",      "Ordóñez",  "Guzmán",   "Núñez",
      "Peña",       "Ibáñez",    "O'Brien",   "O'Connor",  "McDonald", "MacLeod",  "van der Berg",
      "de la Cruz", "da Silva",  "Nakamura",  "Kowalski",  "Nowak",    "Ivanov",   "Papadopoulos",
      "Okafor",     "Adeyemi",   "Oyelaran",  "Haddad",    "Chen",     "Wang",     "Kim",
      "Park",       "Singh",     "Patel",     "Shah",      "Cohen",    "Levy",     "Fitzgerald",
      "Sullivan",   "Kavanagh",  "Lindqvist", "Johansson", "Virtanen", "Rossi",    "Bianchi",
      "Esposito",   "Moreau",    "Lefèvre",   "Dubois",    "Novak",    "Horváth",  "Yilmaz"};
  return *v;
}

const std::vector<std::string>& Streets() {
  static const auto* v = new std::vector<std::string>{
      "Main",   "Oak",      "Pine",     "Maple",  "Cedar",    "Elm",     "Washington",
      "Lake",   "Hill",     "Park",     "Walnut", "Sunset",   "Lincoln", "Jackson",
      "Church", "River",    "Highland", "Meadow", "Forest",   "Spring",  "Ridge",
      "Valley", "Franklin", "Madison",  "Adams",  "Jefferson"};
  return *v;
}

const std::vector<std::string>& StreetTypes() {
  static const auto* v = new std::vector<std::string>{"Street", "Avenue", "Road",      "Drive",
                                                      "Lane",   "Court",  "Boulevard", "Place"};
  return *v;
}

struct City {
  std::string name;
  std::string state;
  int first_postal;  // each city has a few postal codes of its own
};

// 900 towns, each with its own postal codes, as a region's registrations have.
const std::vector<City>& Cities() {
  static const auto* v = [] {
    const std::vector<std::string> first = {
        "Spring", "River", "Green", "Oak",    "Maple",  "Cedar", "Fair", "Ash",
        "Clear",  "Lake",  "Mill",  "Stone",  "Bright", "Glen",  "Wood", "North",
        "South",  "East",  "West",  "New",    "Red",    "White", "Rock", "Sand",
        "Pine",   "Elm",   "Brook", "Silver", "Golden", "Mount"};
    const std::vector<std::string> second = {
        "field", "side", "ville", "ton",   "wood",  "dale",  "view",  "land",  "port",  "ford",
        "haven", "bury", "mont",  "worth", "ridge", "water", "brook", "hill",  "vale",  "burg",
        "crest", "gate", "stead", "wick",  "by",    "more",  "ham",   "shire", "point", "grove"};
    const std::vector<std::string> states = {"IL", "CA", "TN", "SC", "CT", "IA", "OR", "WI",
                                             "TX", "VA", "NJ", "KY", "DE", "MS", "MI", "VT"};
    auto* cities = new std::vector<City>;
    int postal = 1000;
    for (size_t i = 0; i < first.size(); ++i) {
      for (size_t j = 0; j < second.size(); ++j) {
        cities->push_back({first[i] + second[j], states[(i * 7 + j) % states.size()], postal});
        postal += 97;
      }
    }
    return cities;
  }();
  return *v;
}

// The long tail: most people do not carry one of the hundred commonest surnames (in the
// US those cover about a sixth of the population), so most surnames are built from
// syllables, tens of thousands of distinct ones.
std::string SynthesizedSurname(std::mt19937_64& rng) {
  static const std::vector<std::string> onset = {
      "Ab",  "Bal", "Ber",  "Bran", "Cal",  "Car",  "Dal",  "Dor",  "El",   "Fal",
      "Gar", "Hal", "Har",  "Jan",  "Kal",  "Kor",  "Lan",  "Mar",  "Mor",  "Nor",
      "Ol",  "Pen", "Quin", "Ral",  "Ros",  "Sal",  "Sten", "Tal",  "Tor",  "Val",
      "Wal", "Wes", "Yar",  "Zel",  "Brod", "Crom", "Dun",  "Fitz", "Gren", "Hol"};
  static const std::vector<std::string> middle = {
      "a",  "e",  "i",  "o",   "u",   "an", "en", "in", "on", "ar",  "er",  "or", "al", "el",
      "il", "am", "em", "ick", "ott", "ew", "ay", "ov", "ez", "ach", "ist", "ur", "ig", "ab",
      "eb", "ud", "ot", "et",  "as",  "is", "os", "ad", "id", "od",  "ut",  "ag"};
  static const std::vector<std::string> coda = {
      "son", "ley", "ton",  "berg",  "stein", "ski",  "ez",    "ova", "man", "er",
      "ell", "ard", "wood", "field", "ford",  "well", "ridge", "sen", "ing", "ow"};
  auto pick = [&](const std::vector<std::string>& v) {
    return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
  };
  return pick(onset) + pick(middle) + pick(coda);
}

std::string StripAccents(const std::string& s) {
  static const std::vector<std::pair<std::string, std::string>> map = {
      {"á", "a"}, {"é", "e"}, {"í", "i"},  {"ó", "o"}, {"ú", "u"}, {"ñ", "n"}, {"ü", "u"},
      {"ö", "o"}, {"ä", "a"}, {"ß", "ss"}, {"ç", "c"}, {"è", "e"}, {"ë", "e"}, {"ø", "o"},
      {"Á", "A"}, {"É", "E"}, {"Ñ", "N"},  {"Ö", "O"}, {"Ü", "U"}, {"Ä", "A"}, {"à", "a"}};
  std::string out = s;
  for (const auto& [from, to] : map) {
    for (size_t p = out.find(from); p != std::string::npos; p = out.find(from, p)) {
      out.replace(p, from.size(), to);
    }
  }
  return out;
}

const std::vector<std::pair<std::string, std::string>>& Nicknames() {
  static const auto* v = new std::vector<std::pair<std::string, std::string>>{
      {"William", "Bill"},   {"Robert", "Bob"},     {"Richard", "Dick"},      {"James", "Jim"},
      {"Margaret", "Peggy"}, {"Elizabeth", "Liz"},  {"Michael", "Mike"},      {"Joseph", "Joe"},
      {"Thomas", "Tom"},     {"Charles", "Chuck"},  {"Christopher", "Chris"}, {"Daniel", "Dan"},
      {"Matthew", "Matt"},   {"Anthony", "Tony"},   {"Katherine", "Kate"},    {"Patricia", "Patty"},
      {"Jennifer", "Jenny"}, {"Rebecca", "Becky"},  {"Deborah", "Debbie"},    {"Edward", "Ted"},
      {"Samuel", "Sam"},     {"Benjamin", "Ben"},   {"Nicholas", "Nick"},     {"Alexander", "Alex"},
      {"José", "Pepe"},      {"Francisco", "Paco"}, {"Susan", "Sue"},         {"Dorothy", "Dot"}};
  return *v;
}

// Draws from a generator owned by someone else; the same draws SyntheticPeople makes.
class Draw {
 public:
  explicit Draw(std::mt19937_64* rng) : rng_(rng) {}
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(*rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(*rng_); }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(Uniform(0, static_cast<int>(v.size()) - 1))];
  }

 private:
  std::mt19937_64* rng_;
};

std::string RandomSsn(Draw& d) {
  return absl::StrFormat("%03d-%02d-%04d", d.Uniform(100, 899), d.Uniform(10, 99),
                         d.Uniform(1000, 9999));
}

// A clerk's slip in a number: one digit typed as another, or two neighbouring digits
// swapped (not across a '-'; where the two are one digit, one of them changed).
std::string MistypedNumber(Draw& d, const std::string& number) {
  std::vector<size_t> digits;
  for (size_t i = 0; i < number.size(); ++i) {
    if (absl::ascii_isdigit(static_cast<unsigned char>(number[i]))) digits.push_back(i);
  }
  if (digits.empty()) return number;
  std::string out = number;
  size_t at = digits[static_cast<size_t>(d.Uniform(0, static_cast<int>(digits.size()) - 1))];
  const bool neighbour = at + 1 < out.size() && absl::ascii_isdigit(out[at + 1]);
  if (d.Chance(0.25) && neighbour && out[at] != out[at + 1]) {
    std::swap(out[at], out[at + 1]);
  } else {
    out[at] = static_cast<char>('0' + (out[at] - '0' + d.Uniform(1, 9)) % 10);
  }
  return out;
}

std::string RandomPhone(Draw& d) {
  return absl::StrFormat("(%03d) %03d-%04d", d.Uniform(201, 989), d.Uniform(200, 999),
                         d.Uniform(0, 9999));
}

// A new street address, town and phone (none for 30%).
void MoveHouse(Draw& d, Person* p) {
  p->street = {
      absl::StrCat(d.Uniform(1, 9999), " ", d.Pick(Streets()), " ", d.Pick(StreetTypes()))};
  if (d.Chance(0.2))
    p->street.push_back(
        absl::StrCat("Apt ", d.Uniform(1, 40), std::string(1, "ABCD"[d.Uniform(0, 3)])));
  const City& city = d.Pick(Cities());
  p->city = city.name;
  p->state = city.state;
  p->postal_code = absl::StrFormat("%05d", city.first_postal + d.Uniform(0, 5));
  p->phones.clear();
  if (d.Chance(0.7)) p->phones.push_back(RandomPhone(d));
}

// One Febrl-style typing error (insert, delete, substitute, transpose) on ASCII letters.
std::string TypoOf(Draw& d, const std::string& s) {
  // Typos land on ASCII letters only, so that the result stays valid UTF-8.
  std::vector<size_t> ascii;
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (static_cast<unsigned char>(s[i]) < 0x80 && static_cast<unsigned char>(s[i + 1]) < 0x80) {
      ascii.push_back(i);
    }
  }
  if (ascii.empty()) return s;
  std::string out = s;
  size_t at = ascii[static_cast<size_t>(d.Uniform(0, static_cast<int>(ascii.size()) - 1))];
  switch (d.Uniform(0, 3)) {
    case 0:
      out.insert(at, 1, static_cast<char>('a' + d.Uniform(0, 25)));
      break;
    case 1:
      out.erase(at, 1);
      break;
    case 2:
      out[at] = static_cast<char>('a' + d.Uniform(0, 25));
      break;
    default:
      std::swap(out[at], out[at + 1]);
      break;
  }
  return out;
}

const std::vector<std::string>& GivenNames(Sex sex) {
  return sex == Sex::kMale ? MaleNames() : FemaleNames();
}

// Names that are different names, yet an edit or two apart or cognates. `variant` marks
// spellings of one name (Erik / Eric): distinct people may carry them, twins do not.
struct SimilarNames {
  std::string a;
  Sex sex_a;
  std::string b;
  Sex sex_b;
  bool variant = false;
};

const std::vector<SimilarNames>& SimilarGivenNames() {
  constexpr Sex m = Sex::kMale;
  constexpr Sex f = Sex::kFemale;
  static const auto* v = new std::vector<SimilarNames>{{"Jon", m, "Joan", f},
                                                       {"Daniel", m, "Danielle", f},
                                                       {"Francis", m, "Frances", f},
                                                       {"Paul", m, "Paula", f},
                                                       {"Louis", m, "Louise", f},
                                                       {"Gabriel", m, "Gabrielle", f},
                                                       {"Eric", m, "Erica", f},
                                                       {"Carl", m, "Carla", f},
                                                       {"Adrian", m, "Adriana", f},
                                                       {"Christian", m, "Christina", f},
                                                       {"Simon", m, "Simone", f},
                                                       {"Joel", m, "Joelle", f},
                                                       {"Ethan", m, "Evan", m},
                                                       {"Leon", m, "Leo", m},
                                                       {"Martin", m, "Marvin", m},
                                                       {"Dean", m, "Sean", m},
                                                       {"Ian", m, "Ivan", m},
                                                       {"Julian", m, "Julio", m},
                                                       {"Mason", m, "Jason", m},
                                                       {"Ryan", m, "Bryan", m},
                                                       {"Aidan", m, "Adrian", m},
                                                       {"Anna", f, "Anne", f},
                                                       {"Maria", f, "Marie", f},
                                                       {"Julia", f, "Julie", f},
                                                       {"Laura", f, "Lara", f},
                                                       {"Carla", f, "Clara", f},
                                                       {"Ava", f, "Eva", f},
                                                       {"Ellen", f, "Helen", f},
                                                       {"Mia", f, "Maya", f},
                                                       {"Elena", f, "Helena", f},
                                                       {"Tina", f, "Gina", f},
                                                       {"Lily", f, "Lila", f},
                                                       {"Joan", f, "Jean", f},
                                                       {"Diana", f, "Dina", f},
                                                       {"François", m, "Francisco", m},
                                                       {"Erik", m, "Eric", m, true},
                                                       {"Jon", m, "John", m, true},
                                                       {"Marc", m, "Mark", m, true},
                                                       {"Alan", m, "Allan", m, true},
                                                       {"Katherine", f, "Kathryn", f, true},
                                                       {"Sara", f, "Sarah", f, true},
                                                       {"Ann", f, "Anne", f, true}};
  return *v;
}

// Family names a letter or two apart that belong to different families.
const std::vector<std::pair<std::string, std::string>>& SimilarFamilyNames() {
  static const auto* v = new std::vector<std::pair<std::string, std::string>>{
      {"Johnson", "Johnston"}, {"Peterson", "Petersen"}, {"Smith", "Smyth"},
      {"Meyer", "Meier"},      {"Thompson", "Thomson"},  {"Anderson", "Andersen"},
      {"Clark", "Clarke"},     {"Reid", "Reed"},         {"Gray", "Grey"},
      {"Phillips", "Philips"}, {"Hansen", "Hanson"},     {"Schmidt", "Schmitt"},
      {"Fischer", "Fisher"},   {"Stewart", "Stuart"},    {"Nielsen", "Nilsen"},
      {"Garcia", "Garza"},     {"Martin", "Martins"},    {"Kowalski", "Kowalsky"}};
  return *v;
}

// True if no clerk would write one name for the other: they differ after folding, are
// not nicknames of one name and (unless `allow_close`) are more than one edit apart.
bool DifferentNames(const std::string& a, const std::string& b, bool allow_close) {
  std::string fa = FoldText(a);
  std::string fb = FoldText(b);
  if (fa == fb || (!allow_close && WithinOneEdit(fa, fb))) return false;
  std::vector<std::string> forms_b = GivenNameForms(fb);
  for (const std::string& form : GivenNameForms(fa)) {
    if (std::binary_search(forms_b.begin(), forms_b.end(), form)) return false;
  }
  return true;
}

// "YYYYMMDD", as registered, real date or not.
std::string DateDigits(const Date& d) {
  return absl::StrFormat("%04d%02d%02d", d.year, d.month, d.day);
}

Date DateFromDigits(const std::string& digits) {
  Date d;
  (void)absl::SimpleAtoi(digits.substr(0, 4), &d.year);
  (void)absl::SimpleAtoi(digits.substr(4, 2), &d.month);
  (void)absl::SimpleAtoi(digits.substr(6, 2), &d.day);
  return d;
}

// One digit of the date typed wrong (never the first, so that the year stays a year).
// The result need not be a real date (19691194).
Date DigitTypo(Draw& d, const Date& date) {
  std::string digits = DateDigits(date);
  size_t at = static_cast<size_t>(d.Uniform(1, 7));
  char typed = static_cast<char>('0' + d.Uniform(0, 8));
  if (typed >= digits[at]) ++typed;  // any digit but the one there
  digits[at] = typed;
  return DateFromDigits(digits);
}

bool CanSwapDayAndMonth(const Date& date) {
  return date.day >= 1 && date.day <= 12 && date.day != date.month;
}

bool RealDate(const Date& date) {
  return date.year >= 1920 && date.year <= 2023 && date.month >= 1 && date.month <= 12 &&
         date.day >= 1 && date.day <= 28;
}

void CopyAddress(const Person& from, Person* to) {
  to->street = from.street;
  to->city = from.city;
  to->postal_code = from.postal_code;
  to->state = from.state;
}

// The first character of a UTF-8 string.
std::string FirstCharacter(const std::string& s) {
  if (s.empty()) return s;
  auto lead = static_cast<unsigned char>(s[0]);
  size_t n = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  return s.substr(0, std::min(n, s.size()));
}

// A person as they are, before a clerk registers them.
struct TruePerson {
  Person person;
  // As registered after a change of name and address (a marriage): registrations after
  // the first use it.
  std::optional<Person> later;
  std::string maiden_name;
  int min_registrations = 1;
  // Twins: 1 or 2; 0 otherwise.
  int birth_order = 0;
};

// Shares of `persons` (see synthetic.h).
constexpr double kTwinPairShare = 0.025;
constexpr double kSiblingPairShare = 0.02;
constexpr double kMarriedShare = 0.04;
constexpr double kNamesakeShare = 0.6;  // of married women
constexpr double kJuniorSeniorPairShare = 0.015;
constexpr double kNearBirthDatePairShare = 0.015;
constexpr double kSimilarNamePairShare = 0.02;
constexpr double kCommonNameShare = 0.06;
constexpr double kSsnOnFile = 0.6;
constexpr double kSsnSent = 2.0 / 3;

class ClinicSetBuilder {
 public:
  // The slips draw from a stream of their own, so that a set with them is the set
  // without them but for the mistyped numbers.
  ClinicSetBuilder(uint64_t seed, const ClinicSetOptions& options)
      : people_(seed),
        rng_(seed ^ 0x636c696e6963ULL),
        d_(&rng_),
        orgs_(options.orgs),
        ssn_slips_(options.ssn_slips),
        slip_rng_(seed ^ 0x736c697073ULL),
        slip_d_(&slip_rng_) {}

  std::vector<ClinicRegistration> Build(int persons, ClinicSetCounts* counts);

 private:
  Sex AnySex() { return d_.Chance(0.5) ? Sex::kMale : Sex::kFemale; }
  // A new person of `sex` (kUnknown: either), with an SSN on file for kSsnOnFile.
  Person NewPerson(Sex sex);
  void NewSsnOnFile(Person* p);
  // A given name of `sex` that is a different name from `other`.
  std::string OtherGivenName(Sex sex, const std::string& other);
  const SimilarNames& PickSimilarNames(bool allow_variants);
  // Two new people with similar first names (François / Francisco, Jon / Joan).
  std::pair<Person, Person> SimilarlyNamedPair();
  // `b` moves to `a`'s town (another street).
  static void SameTown(const Person& a, Person* b);
  // A real birth date one digit or a day/month swap away from `date`.
  Date NearDate(const Date& date);

  // Each adds its people to truths_ and returns false if there is no room left.
  bool AddTwins(bool similar_names);
  bool AddSiblings();
  bool AddMarried(bool* namesake);
  bool AddJuniorSenior();
  bool AddCousins();
  bool AddSimilarNames();
  void AddCommonName();
  // Adds one person.
  void Keep(Person p, int birth_order = 0);

  // One registration of `truth`: the k-th of that person.
  Person Register(const TruePerson& truth, int k, bool* birth_date_error);
  bool ClerkError(Person* p, bool* birth_date_error);
  int RegistrationCount(int at_least);

  SyntheticPeople people_;
  std::mt19937_64 rng_;
  Draw d_;
  int orgs_;
  double ssn_slips_;
  std::mt19937_64 slip_rng_;
  Draw slip_d_;
  int room_ = 0;
  std::vector<TruePerson> truths_;
  std::vector<std::pair<std::string, int>> common_names_born_;  // name, birth year
};

Person ClinicSetBuilder::NewPerson(Sex sex) {
  Person p = people_.NewPerson();
  if (sex != Sex::kUnknown && p.sex != sex) {
    p.sex = sex;
    for (std::string& g : p.given) g = d_.Pick(GivenNames(sex));
  }
  NewSsnOnFile(&p);
  return p;
}

void ClinicSetBuilder::NewSsnOnFile(Person* p) {
  p->identifiers.clear();
  if (d_.Chance(kSsnOnFile)) p->identifiers.emplace_back("ssn", RandomSsn(d_));
}

std::string ClinicSetBuilder::OtherGivenName(Sex sex, const std::string& other) {
  for (;;) {
    const std::string& name = d_.Pick(GivenNames(sex));
    if (DifferentNames(name, other, /*allow_close=*/false)) return name;
  }
}

const SimilarNames& ClinicSetBuilder::PickSimilarNames(bool allow_variants) {
  for (;;) {
    const SimilarNames& names = d_.Pick(SimilarGivenNames());
    if (allow_variants) return names;
    if (!names.variant && DifferentNames(names.a, names.b, /*allow_close=*/true)) return names;
  }
}

Date ClinicSetBuilder::NearDate(const Date& date) {
  if (CanSwapDayAndMonth(date) && d_.Chance(0.4)) return {date.year, date.day, date.month};
  for (;;) {
    Date near = DigitTypo(d_, date);
    if (RealDate(near)) return near;
  }
}

bool ClinicSetBuilder::AddTwins(bool similar_names) {
  if (room_ < 2) return false;
  Person a = NewPerson(AnySex());
  Person b = a;
  NewSsnOnFile(&b);
  if (similar_names) {
    const SimilarNames& names = PickSimilarNames(/*allow_variants=*/false);
    Sex sex = d_.Chance(0.5) ? names.sex_a : names.sex_b;
    a.sex = sex;
    b.sex = sex;
    a.given = {names.a};
    b.given = {names.b};
  } else {
    b.sex = AnySex();
    b.given = {OtherGivenName(b.sex, a.given.front())};
    a.given.resize(1);
  }
  if (d_.Chance(0.5)) a.given.push_back(d_.Pick(GivenNames(a.sex)));
  if (d_.Chance(0.5)) b.given.push_back(d_.Pick(GivenNames(b.sex)));
  if (d_.Chance(0.15)) {
    MoveHouse(d_, &b);  // one of them moved out
  } else if (d_.Chance(0.2)) {
    b.phones.clear();  // a phone of their own, or none
    if (d_.Chance(0.7)) b.phones.push_back(RandomPhone(d_));
  }
  bool a_first = d_.Chance(0.5);
  Keep(a, a_first ? 1 : 2);
  Keep(b, a_first ? 2 : 1);
  return true;
}

bool ClinicSetBuilder::AddSiblings() {
  if (room_ < 2) return false;
  Person a = NewPerson(AnySex());
  a.birth_date.year = d_.Uniform(1935, 2014);
  Person b = a;
  NewSsnOnFile(&b);
  b.sex = AnySex();
  b.given = {OtherGivenName(b.sex, a.given.front())};
  if (d_.Chance(0.5)) b.given.push_back(d_.Pick(GivenNames(b.sex)));
  int apart = d_.Uniform(1, 8);
  b.birth_date = {a.birth_date.year + (d_.Chance(0.5) ? apart : -apart), d_.Uniform(1, 12),
                  d_.Uniform(1, 28)};
  if (d_.Chance(0.15)) MoveHouse(d_, &b);
  Keep(a);
  Keep(b);
  return true;
}

bool ClinicSetBuilder::AddMarried(bool* namesake) {
  *namesake = false;
  if (room_ < 1) return false;
  TruePerson woman;
  woman.person = NewPerson(Sex::kFemale);
  woman.person.birth_date.year = d_.Uniform(1940, 2000);
  woman.maiden_name = woman.person.family;
  Person married = woman.person;
  do {
    married.family = d_.Chance(0.5) ? d_.Pick(FamilyNames()) : SynthesizedSurname(rng_);
  } while (FoldText(married.family) == FoldText(woman.maiden_name));
  MoveHouse(d_, &married);  // moved in with her husband
  woman.later = married;
  woman.min_registrations = 2;
  truths_.push_back(woman);
  room_ -= 1;
  if (room_ < 1 || !d_.Chance(kNamesakeShare)) return true;
  // Her husband's relative, or a woman who happens to have her new name.
  Person other = NewPerson(Sex::kFemale);
  other.given = {married.given.front()};
  if (d_.Chance(0.5)) other.given.push_back(d_.Pick(FemaleNames()));
  other.family = married.family;
  do {
    int year = d_.Chance(0.2) ? married.birth_date.year : d_.Uniform(1930, 2005);
    int month = d_.Uniform(1, 12);
    other.birth_date = {year, month, d_.Uniform(1, 28)};
  } while (DateDigits(other.birth_date) == DateDigits(married.birth_date));
  if (d_.Chance(0.4)) {
    CopyAddress(married, &other);
    if (d_.Chance(0.5)) other.phones = married.phones;
  }
  Keep(other);
  *namesake = true;
  return true;
}

bool ClinicSetBuilder::AddJuniorSenior() {
  if (room_ < 2) return false;
  Person senior = NewPerson(Sex::kMale);
  senior.birth_date.year = d_.Uniform(1930, 1985);
  Person junior = senior;
  NewSsnOnFile(&junior);
  int year = senior.birth_date.year + d_.Uniform(20, 35);
  int month = d_.Uniform(1, 12);
  junior.birth_date = {year, month, d_.Uniform(1, 28)};
  if (junior.given.size() > 1 && d_.Chance(0.3)) junior.given.resize(1);
  Keep(senior);
  Keep(junior);
  return true;
}

std::pair<Person, Person> ClinicSetBuilder::SimilarlyNamedPair() {
  const SimilarNames& names = PickSimilarNames(/*allow_variants=*/true);
  Person a = NewPerson(names.sex_a);
  a.given.front() = names.a;
  Person b = NewPerson(names.sex_b);
  b.given.front() = names.b;
  return {std::move(a), std::move(b)};
}

void ClinicSetBuilder::SameTown(const Person& a, Person* b) {
  b->city = a.city;
  b->state = a.state;
  b->postal_code = a.postal_code;
}

bool ClinicSetBuilder::AddCousins() {
  if (room_ < 2) return false;
  auto [a, b] = SimilarlyNamedPair();
  b.family = a.family;
  b.birth_date = NearDate(a.birth_date);
  if (d_.Chance(0.5)) SameTown(a, &b);  // another street
  Keep(a);
  Keep(b);
  return true;
}

bool ClinicSetBuilder::AddSimilarNames() {
  if (room_ < 2) return false;
  auto [a, b] = SimilarlyNamedPair();
  if (d_.Chance(0.5)) {
    b.family = a.family;
  } else {
    const auto& [family_a, family_b] = d_.Pick(SimilarFamilyNames());
    a.family = family_a;
    b.family = family_b;
  }
  while (DateDigits(b.birth_date) == DateDigits(a.birth_date)) b.birth_date.day = d_.Uniform(1, 28);
  if (d_.Chance(0.3)) SameTown(a, &b);
  Keep(a);
  Keep(b);
  return true;
}

void ClinicSetBuilder::AddCommonName() {
  Person p = people_.CommonNamePerson();
  NewSsnOnFile(&p);
  std::string name = absl::StrCat(p.given.front(), " ", p.family);
  std::vector<int> years;
  for (const auto& [seen, year] : common_names_born_) {
    if (seen == name) years.push_back(year);
  }
  if (!years.empty() && d_.Chance(0.25)) p.birth_date.year = d_.Pick(years);
  common_names_born_.emplace_back(name, p.birth_date.year);
  Keep(p);
}

void ClinicSetBuilder::Keep(Person p, int birth_order) {
  TruePerson truth;
  truth.person = std::move(p);
  truth.birth_order = birth_order;
  truths_.push_back(std::move(truth));
  --room_;
}

int ClinicSetBuilder::RegistrationCount(int at_least) {
  static const std::vector<double> kWeights = {0.62, 0.24, 0.09, 0.05};  // 1 to 4
  std::vector<double> weights = kWeights;
  for (int n = 1; n < at_least; ++n) weights[static_cast<size_t>(n - 1)] = 0;
  int count = std::discrete_distribution<int>(weights.begin(), weights.end())(rng_) + 1;
  return std::min(count, orgs_);
}

// The errors a clerk makes, by weight.
enum class ClerkErrorKind {
  kNickname,
  kInitial,
  kMiddleName,
  kAccentsLost,
  kHyphenated,
  kNamesSwapped,
  kGivenTypo,
  kFamilyTypo,
  kBirthDateDigit,
  kBirthDateSwap,
  kMoved,
  kNewPhone,
  kAddressTypo,
};

bool ClinicSetBuilder::ClerkError(Person* p, bool* birth_date_error) {
  static const std::vector<double> kWeights = {2, 1, 1, 1, 1, 0.5, 2, 2, 0.8, 0.5, 1.5, 1, 1};
  auto kind = static_cast<ClerkErrorKind>(
      std::discrete_distribution<int>(kWeights.begin(), kWeights.end())(rng_));
  switch (kind) {
    case ClerkErrorKind::kNickname:
      for (const auto& [formal, nick] : Nicknames()) {
        if (p->given.front() == formal) {
          p->given.front() = nick;
          return true;
        }
      }
      return false;
    case ClerkErrorKind::kInitial:
      p->given.front() = FirstCharacter(p->given.front()) + (d_.Chance(0.5) ? "." : "");
      return true;
    case ClerkErrorKind::kMiddleName:
      if (p->given.size() < 2) return false;
      if (d_.Chance(0.5)) {
        p->given.resize(1);
      } else {
        p->given[1] = FirstCharacter(p->given[1]);
      }
      return true;
    case ClerkErrorKind::kAccentsLost: {
      Person plain = *p;
      for (std::string& g : plain.given) g = StripAccents(g);
      plain.family = StripAccents(plain.family);
      if (plain.given == p->given && plain.family == p->family) return false;
      *p = plain;
      return true;
    }
    case ClerkErrorKind::kHyphenated: {
      size_t hyphen = p->family.find('-');
      if (hyphen == std::string::npos) {
        p->family = absl::StrCat(p->family, "-", d_.Pick(FamilyNames()));
      } else {
        p->family = d_.Chance(0.7) ? p->family.substr(0, hyphen) : p->family.substr(hyphen + 1);
      }
      return true;
    }
    case ClerkErrorKind::kNamesSwapped:
      std::swap(p->given.front(), p->family);
      return true;
    case ClerkErrorKind::kGivenTypo:
      p->given.front() = TypoOf(d_, p->given.front());
      return true;
    case ClerkErrorKind::kFamilyTypo:
      p->family = TypoOf(d_, p->family);
      return true;
    case ClerkErrorKind::kBirthDateDigit:
      if (!p->birth_date.known()) return false;
      p->birth_date = DigitTypo(d_, p->birth_date);
      *birth_date_error = true;
      return true;
    case ClerkErrorKind::kBirthDateSwap:
      if (!CanSwapDayAndMonth(p->birth_date)) return false;
      std::swap(p->birth_date.day, p->birth_date.month);
      *birth_date_error = true;
      return true;
    case ClerkErrorKind::kMoved:
      MoveHouse(d_, p);
      return true;
    case ClerkErrorKind::kNewPhone:
      p->phones = {RandomPhone(d_)};
      return true;
    case ClerkErrorKind::kAddressTypo:
      if (p->street.empty() || d_.Chance(0.3)) {
        p->city = TypoOf(d_, p->city);
      } else {
        p->street.front() = TypoOf(d_, p->street.front());
      }
      return true;
  }
  return false;
}

Person ClinicSetBuilder::Register(const TruePerson& truth, int k, bool* birth_date_error) {
  *birth_date_error = false;
  Person p = truth.person;
  if (k > 0 && truth.later.has_value()) {
    p = *truth.later;
    if (d_.Chance(0.5)) p.former_family = {truth.maiden_name};
    if (d_.Chance(0.15)) p.family = absl::StrCat(truth.maiden_name, "-", p.family);
  }
  static const std::vector<double> kErrorCounts = {0.5, 0.3, 0.15, 0.05};  // 0 to 3
  int errors = std::discrete_distribution<int>(kErrorCounts.begin(), kErrorCounts.end())(rng_);
  for (int e = 0; e < errors; ++e) {
    // Some errors do not apply to everyone (a nickname, a middle name): draw another.
    for (int attempt = 0; attempt < 10 && !ClerkError(&p, birth_date_error); ++attempt) {
    }
  }
  // What this practice did not ask for or did not write down.
  if (!p.identifiers.empty() && !d_.Chance(kSsnSent)) p.identifiers.clear();
  if (!p.phones.empty() && d_.Chance(0.15)) p.phones.clear();
  if (d_.Chance(0.04)) {
    p.street.clear();
  } else if (p.street.size() > 1 && d_.Chance(0.3)) {
    p.street.resize(1);
  }
  if (d_.Chance(0.05)) p.postal_code.clear();
  if (d_.Chance(0.02)) p.city.clear();
  if (d_.Chance(0.03)) p.state.clear();
  if (d_.Chance(0.02)) p.sex = Sex::kUnknown;
  if (d_.Chance(0.01)) {
    p.birth_date = {};
    *birth_date_error = false;
  }
  if (p.given.size() > 1 && d_.Chance(0.3)) p.given.resize(1);
  if (truth.birth_order > 0 && d_.Chance(0.4)) {
    p.multiple_birth_order = truth.birth_order;
    p.multiple_birth = true;
  }
  return p;
}

std::vector<ClinicRegistration> ClinicSetBuilder::Build(int persons, ClinicSetCounts* counts) {
  ClinicSetCounts c;
  room_ = persons;
  auto quota = [&](double share) { return static_cast<int>(std::lround(share * persons)); };
  int twins = quota(kTwinPairShare);
  for (int i = 0; i < twins && AddTwins(/*similar_names=*/i % 2 == 1); ++i) {
    ++c.twin_pairs;
    c.similar_name_twin_pairs += i % 2 == 1;
  }
  // A married name needs a second practice to register it.
  for (int i = 0, n = orgs_ > 1 ? quota(kMarriedShare) : 0; i < n; ++i) {
    bool namesake = false;
    if (!AddMarried(&namesake)) break;
    ++c.married_women;
    c.married_name_namesakes += namesake;
  }
  for (int i = 0, n = quota(kJuniorSeniorPairShare); i < n && AddJuniorSenior(); ++i) {
    ++c.junior_senior_pairs;
  }
  for (int i = 0, n = quota(kSiblingPairShare); i < n && AddSiblings(); ++i) ++c.sibling_pairs;
  for (int i = 0, n = quota(kNearBirthDatePairShare); i < n && AddCousins(); ++i) {
    ++c.near_birth_date_pairs;
  }
  for (int i = 0, n = quota(kSimilarNamePairShare); i < n && AddSimilarNames(); ++i) {
    ++c.similar_name_pairs;
  }
  for (int i = 0, n = quota(kCommonNameShare); i < n && room_ > 0; ++i) {
    AddCommonName();
    ++c.common_name_persons;
  }
  while (room_ > 0) {
    Keep(NewPerson(Sex::kUnknown));
  }

  // Person indices shuffled across families, so that an index says nothing of kinship.
  std::vector<int> index(truths_.size());
  std::iota(index.begin(), index.end(), 0);
  std::shuffle(index.begin(), index.end(), rng_);
  std::vector<int> practices(static_cast<size_t>(orgs_));
  std::iota(practices.begin(), practices.end(), 0);
  std::vector<ClinicRegistration> registrations;
  for (size_t t = 0; t < truths_.size(); ++t) {
    const TruePerson& truth = truths_[t];
    int count = RegistrationCount(truth.min_registrations);
    std::shuffle(practices.begin(), practices.end(), rng_);
    for (int k = 0; k < count; ++k) {
      int org = practices[static_cast<size_t>(k)];
      bool birth_date_error = false;
      Person p = Register(truth, k, &birth_date_error);
      c.birth_date_error_registrations += birth_date_error;
      if (ssn_slips_ > 0 && !p.identifiers.empty() && slip_d_.Chance(ssn_slips_)) {
        std::string& ssn = p.identifiers.front().second;
        ssn = MistypedNumber(slip_d_, ssn);
        ++c.ssn_slip_registrations;
      }
      registrations.push_back({absl::StrCat("rec-", index[t], "-", org, "-", k),
                               absl::StrCat("org-", std::string(1, static_cast<char>('a' + org))),
                               std::move(p)});
    }
    c.true_pairs += static_cast<int64_t>(count) * (count - 1) / 2;
  }
  // Practices send their loads over time: a person's registrations are not adjacent.
  std::shuffle(registrations.begin(), registrations.end(), rng_);
  c.persons = static_cast<int>(truths_.size());
  c.registrations = static_cast<int>(registrations.size());
  if (counts != nullptr) *counts = c;
  return registrations;
}

}  // namespace

std::string SyntheticPeople::NewSsn() {
  Draw d(&rng_);
  return RandomSsn(d);
}

void SyntheticPeople::NewAddress(Person* p) {
  Draw d(&rng_);
  MoveHouse(d, p);
}

Person SyntheticPeople::NewPerson() {
  Person p;
  bool male = Chance(0.5);
  p.sex = male ? Sex::kMale : Sex::kFemale;
  const auto& names = male ? MaleNames() : FemaleNames();
  p.given.push_back(Pick(names));
  if (Chance(0.5)) p.given.push_back(Pick(names));
  p.family = Chance(0.4) ? Pick(FamilyNames()) : SynthesizedSurname(rng_);
  if (Chance(0.05)) p.family = absl::StrCat(p.family, "-", Pick(FamilyNames()));
  p.birth_date = {Uniform(1930, 2022), Uniform(1, 12), Uniform(1, 28)};
  NewAddress(&p);
  if (Chance(0.4)) p.identifiers.emplace_back("ssn", NewSsn());
  return p;
}

Person SyntheticPeople::CommonNamePerson() {
  Person p = NewPerson();
  static const std::vector<std::pair<std::string, std::string>> common = {
      {"James", "Smith"}, {"Maria", "Garcia"}, {"Michael", "Johnson"},
      {"Mary", "Smith"},  {"John", "Brown"},   {"Jennifer", "Lee"}};
  const auto& [given, family] = Pick(common);
  p.given = {given};
  p.family = family;
  p.sex = (given == "Maria" || given == "Mary" || given == "Jennifer") ? Sex::kFemale : Sex::kMale;
  return p;
}

Person SyntheticPeople::TwinOf(const Person& person) {
  Person twin = person;
  bool male = Chance(0.5);
  twin.sex = male ? Sex::kMale : Sex::kFemale;
  do {
    twin.given = {Pick(male ? MaleNames() : FemaleNames())};
    // Twins' names differ for real, not only in accents (María / Maria).
  } while (FoldText(twin.given.front()) == FoldText(person.given.front()));
  twin.identifiers.clear();
  if (!person.identifiers.empty()) twin.identifiers.emplace_back("ssn", NewSsn());
  if (Chance(0.5)) {
    twin.multiple_birth_order = 2;
    twin.multiple_birth = true;
  }
  return twin;
}

std::string SyntheticPeople::Typo(const std::string& s) {
  Draw d(&rng_);
  return TypoOf(d, s);
}

Person SyntheticPeople::ClinicVariant(const Person& person) {
  Person v = person;
  int errors = Uniform(1, 3);
  for (int e = 0; e < errors; ++e) {
    switch (Uniform(0, 8)) {
      case 0: {  // nickname
        for (const auto& [formal, nick] : Nicknames()) {
          if (!v.given.empty() && v.given.front() == formal) v.given.front() = nick;
        }
        break;
      }
      case 1:  // married: a new surname, the old one kept as former
        if (v.sex == Sex::kFemale) {
          v.former_family.push_back(v.family);
          v.family = Pick(FamilyNames());
        }
        break;
      case 2:  // hyphenated with a partner's surname
        v.family = absl::StrCat(v.family, "-", Pick(FamilyNames()));
        break;
      case 3:  // day and month swapped
        if (v.birth_date.day <= 12) std::swap(v.birth_date.day, v.birth_date.month);
        break;
      case 4:  // accents lost in transliteration
        for (auto& g : v.given) g = StripAccents(g);
        v.family = StripAccents(v.family);
        break;
      case 5:  // given and family swapped
        if (!v.given.empty()) std::swap(v.given.front(), v.family);
        break;
      case 6:  // moved house
        NewAddress(&v);
        break;
      case 7:  // no identifier at this clinic
        v.identifiers.clear();
        break;
      default:  // a typo in a name
        if (!v.given.empty()) v.given.front() = Typo(v.given.front());
        break;
    }
  }
  if (Chance(0.5)) v.given.resize(std::min<size_t>(v.given.size(), 1));  // middle name dropped
  return v;
}

Person SyntheticPeople::TypoVariant(const Person& person) {
  Person v = person;
  int fields = Uniform(1, 2);
  for (int f = 0; f < fields; ++f) {
    switch (Uniform(0, 3)) {
      case 0:
        if (!v.given.empty()) v.given.front() = Typo(v.given.front());
        break;
      case 1:
        v.family = Typo(v.family);
        break;
      case 2:
        if (!v.street.empty()) v.street.front() = Typo(v.street.front());
        break;
      default:
        v.city = Typo(v.city);
        break;
    }
  }
  return v;
}

LabelledSet MakeClinicSet(uint64_t seed, int persons, double variant_share) {
  SyntheticPeople gen(seed);
  LabelledSet set;
  std::vector<Person> originals;
  for (int i = 0; i < persons; ++i) {
    Person p;
    if (i > 0 && i % 20 == 0) {
      p = gen.TwinOf(originals[static_cast<size_t>(i - 1)]);
    } else if (i % 20 == 7) {
      p = gen.CommonNamePerson();
    } else {
      p = gen.NewPerson();
    }
    originals.push_back(p);
    set.people.push_back(p);
    set.truth.push_back(absl::StrCat("p", i));
  }
  std::bernoulli_distribution pick(variant_share);
  std::mt19937_64 rng(seed ^ 0x5eed);
  for (int i = 0; i < persons; ++i) {
    if (!pick(rng)) continue;
    set.people.push_back(gen.ClinicVariant(originals[static_cast<size_t>(i)]));
    set.truth.push_back(absl::StrCat("p", i));
  }
  return set;
}

std::vector<ClinicRegistration> MakeClinicRegistrations(uint64_t seed, int persons,
                                                        const ClinicSetOptions& options,
                                                        ClinicSetCounts* counts) {
  return ClinicSetBuilder(seed, options).Build(persons, counts);
}

}  // namespace hie::mpi::testing
