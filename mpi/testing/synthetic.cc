#include "mpi/testing/synthetic.h"

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

}  // namespace hie::mpi::testing
