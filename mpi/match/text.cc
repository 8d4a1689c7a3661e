#include "mpi/match/text.h"

#include <algorithm>
#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "mpi/match/proper_names.h"

namespace hie::mpi {
namespace {

#include "mpi/match/latin_fold_table.inc"

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes one code point at `*i`, advancing it. Invalid sequences yield the byte as a
// Latin-1 code point.
uint32_t NextCodePoint(absl::string_view s, size_t* i) {
  auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t b0 = byte(*i);
  int len = b0 < 0x80 ? 1 : (b0 >> 5) == 0x6 ? 2 : (b0 >> 4) == 0xE ? 3 : (b0 >> 3) == 0x1E ? 4 : 0;
  if (len == 1 || len == 0 || *i + len > s.size()) {
    ++*i;
    return b0;
  }
  uint32_t cp = b0 & (0xFF >> (len + 1));
  for (int k = 1; k < len; ++k) {
    uint8_t b = byte(*i + k);
    if ((b & 0xC0) != 0x80) {
      ++*i;
      return b0;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  *i += len;
  return cp;
}

bool IsCombiningMark(uint32_t cp) { return cp >= 0x300 && cp <= 0x36F; }
bool IsApostrophe(uint32_t cp) { return cp == '\'' || cp == 0x2019 || cp == 0x2018 || cp == '`'; }

}  // namespace

std::string FoldText(absl::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  bool pending_space = false;
  auto emit = [&](absl::string_view piece) {
    if (pending_space && !out.empty()) out.push_back(' ');
    pending_space = false;
    out.append(piece.data(), piece.size());
  };
  size_t i = 0;
  while (i < utf8.size()) {
    uint32_t cp = NextCodePoint(utf8, &i);
    if (IsCombiningMark(cp) || IsApostrophe(cp)) continue;
    if (cp < 0x80) {
      char c = static_cast<char>(cp);
      if (absl::ascii_isalnum(c)) {
        char lower = absl::ascii_tolower(c);
        emit(absl::string_view(&lower, 1));
      } else {
        pending_space = true;
      }
    } else if (cp >= kLatinFoldFirst && cp <= kLatinFoldLast &&
               kLatinFold[cp - kLatinFoldFirst][0] != '\0') {
      emit(kLatinFold[cp - kLatinFoldFirst]);
    } else if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7 || (cp >= 0x2000 && cp <= 0x206F)) {
      pending_space = true;  // Latin-1 punctuation and symbols, general punctuation
    } else {
      std::string encoded;
      AppendUtf8(cp, &encoded);
      emit(encoded);
    }
  }
  return out;
}

std::vector<std::string> Words(absl::string_view utf8) {
  return absl::StrSplit(FoldText(utf8), ' ', absl::SkipEmpty());
}

bool IsSurnameParticle(absl::string_view w) {
  static const auto* particles = new absl::flat_hash_set<std::string>{
      "van", "von", "der", "den", "de",  "del", "della", "di",  "da",  "das", "dos", "du", "la",
      "le",  "lo",  "y",   "e",   "ten", "ter", "st",    "ste", "bin", "ibn", "al",  "el", "zu"};
  return particles->contains(w);
}

Generation GenerationSuffix(absl::string_view utf8_word) {
  const std::string w = absl::StrJoin(Words(utf8_word), "");
  if (w == "jr" || w == "junior" || w == "jnr" || w == "ii") return Generation::kSecond;
  if (w == "sr" || w == "senior" || w == "snr") return Generation::kSenior;
  if (w == "iii") return Generation::kThird;
  if (w == "iv") return Generation::kFourth;
  return Generation::kNone;
}

std::vector<std::string> SurnameParts(absl::string_view family) {
  std::vector<std::string> words = Words(family);
  std::vector<std::string> parts;
  for (const std::string& w : words) {
    if (!IsSurnameParticle(w)) parts.push_back(w);
  }
  if (parts.empty()) return words;
  return parts;
}

namespace {

// Nickname -> formal names. Diminutives common in English-speaking registrations, plus
// frequent Spanish, German and Italian ones; a formal name maps to itself implicitly.
const absl::flat_hash_map<std::string, std::vector<std::string>>& Nicknames() {
  static const auto* table = new absl::flat_hash_map<std::string, std::vector<std::string>>{
      {"abby", {"abigail"}},
      {"abe", {"abraham"}},
      {"al", {"albert", "alan", "alfred"}},
      {"alex", {"alexander", "alexandra"}},
      {"andy", {"andrew"}},
      {"drew", {"andrew"}},
      {"annie", {"ann", "anna", "anne"}},
      {"nan", {"ann", "anne"}},
      {"nancy", {"ann", "anne"}},
      {"tony", {"anthony", "antonio"}},
      {"art", {"arthur"}},
      {"barb", {"barbara"}},
      {"babs", {"barbara"}},
      {"ben", {"benjamin"}},
      {"benny", {"benjamin"}},
      {"bernie", {"bernard"}},
      {"betty", {"elizabeth"}},
      {"beth", {"elizabeth"}},
      {"liz", {"elizabeth"}},
      {"lizzie", {"elizabeth"}},
      {"eliza", {"elizabeth"}},
      {"bess", {"elizabeth"}},
      {"betsy", {"elizabeth"}},
      {"bill", {"william"}},
      {"billy", {"william"}},
      {"will", {"william"}},
      {"willy", {"william"}},
      {"liam", {"william"}},
      {"bob", {"robert"}},
      {"bobby", {"robert"}},
      {"rob", {"robert"}},
      {"robbie", {"robert"}},
      {"bert", {"albert", "robert", "herbert"}},
      {"brad", {"bradley"}},
      {"cathy", {"catherine", "katherine", "cathleen"}},
      {"kathy", {"katherine", "kathleen", "kathryn"}},
      {"kate", {"katherine", "kathryn", "catherine"}},
      {"katie", {"katherine", "kathryn", "catherine", "kathleen"}},
      {"kitty", {"katherine", "catherine"}},
      {"charlie", {"charles"}},
      {"chuck", {"charles"}},
      {"chas", {"charles"}},
      {"chris", {"christopher", "christine", "christina"}},
      {"kris", {"christopher", "kristen", "christine"}},
      {"cindy", {"cynthia"}},
      {"dan", {"daniel"}},
      {"danny", {"daniel"}},
      {"dave", {"david"}},
      {"davy", {"david"}},
      {"debbie", {"deborah"}},
      {"deb", {"deborah"}},
      {"dick", {"richard"}},
      {"rich", {"richard"}},
      {"rick", {"richard", "frederick"}},
      {"ricky", {"richard"}},
      {"don", {"donald"}},
      {"donnie", {"donald"}},
      {"doug", {"douglas"}},
      {"ed", {"edward", "edwin", "edmund"}},
      {"eddie", {"edward"}},
      {"ted", {"edward", "theodore"}},
      {"ned", {"edward"}},
      {"fred", {"frederick"}},
      {"freddie", {"frederick"}},
      {"frank", {"francis", "franklin"}},
      {"fran", {"frances", "francis"}},
      {"gabe", {"gabriel"}},
      {"gene", {"eugene"}},
      {"greg", {"gregory"}},
      {"hank", {"henry"}},
      {"harry", {"henry", "harold"}},
      {"hal", {"henry", "harold"}},
      {"jack", {"john"}},
      {"johnny", {"john"}},
      {"jon", {"john", "jonathan"}},
      {"jim", {"james"}},
      {"jimmy", {"james"}},
      {"jamie", {"james"}},
      {"jan", {"janet", "janice"}},
      {"jen", {"jennifer"}},
      {"jenny", {"jennifer"}},
      {"jeff", {"jeffrey"}},
      {"jerry", {"gerald", "jerome"}},
      {"joe", {"joseph"}},
      {"joey", {"joseph"}},
      {"jos", {"joseph"}},
      {"josh", {"joshua"}},
      {"judy", {"judith"}},
      {"kim", {"kimberly"}},
      {"larry", {"lawrence"}},
      {"len", {"leonard"}},
      {"lenny", {"leonard"}},
      {"leo", {"leonard"}},
      {"lou", {"louis"}},
      {"maggie", {"margaret"}},
      {"meg", {"margaret"}},
      {"peggy", {"margaret"}},
      {"marge", {"margaret"}},
      {"margie", {"margaret"}},
      {"greta", {"margaret"}},
      {"matt", {"matthew"}},
      {"mike", {"michael"}},
      {"mikey", {"michael"}},
      {"mick", {"michael"}},
      {"mitch", {"mitchell"}},
      {"molly", {"mary"}},
      {"polly", {"mary"}},
      {"mamie", {"mary"}},
      {"nate", {"nathan", "nathaniel"}},
      {"nick", {"nicholas"}},
      {"pam", {"pamela"}},
      {"pat", {"patrick", "patricia"}},
      {"patty", {"patricia"}},
      {"trish", {"patricia"}},
      {"paddy", {"patrick"}},
      {"pete", {"peter"}},
      {"phil", {"philip"}},
      {"ray", {"raymond"}},
      {"ron", {"ronald"}},
      {"ronnie", {"ronald"}},
      {"russ", {"russell"}},
      {"sam", {"samuel", "samantha"}},
      {"sammy", {"samuel"}},
      {"sandy", {"sandra", "alexander"}},
      {"steve", {"steven", "stephen"}},
      {"stevie", {"steven"}},
      {"sue", {"susan"}},
      {"susie", {"susan"}},
      {"terry", {"terence", "teresa"}},
      {"tess", {"teresa"}},
      {"tom", {"thomas"}},
      {"tommy", {"thomas"}},
      {"tim", {"timothy"}},
      {"val", {"valerie"}},
      {"vicky", {"victoria"}},
      {"vince", {"vincent"}},
      {"walt", {"walter"}},
      {"wally", {"walter"}},
      {"zach", {"zachary"}},
      {"becky", {"rebecca"}},
      {"becca", {"rebecca"}},
      {"sally", {"sarah"}},
      {"sadie", {"sarah"}},
      {"jo", {"joanne", "josephine"}},
      {"josie", {"josephine"}},
      {"connie", {"constance"}},
      {"dot", {"dorothy"}},
      {"dottie", {"dorothy"}},
      {"ellie", {"eleanor", "ellen"}},
      {"nell", {"eleanor", "helen"}},
      {"gina", {"regina"}},
      {"lisa", {"elizabeth"}},
      {"mandy", {"amanda"}},
      {"mindy", {"melinda"}},
      {"millie", {"mildred"}},
      {"ginny", {"virginia"}},
      {"pepe", {"jose"}},
      {"paco", {"francisco"}},
      {"pancho", {"francisco"}},
      {"lupe", {"guadalupe"}},
      {"chuy", {"jesus"}},
      {"nacho", {"ignacio"}},
      {"memo", {"guillermo"}},
      {"lalo", {"eduardo"}},
      {"beto", {"roberto", "alberto"}},
      {"toni", {"antonia"}},
      {"hans", {"johannes"}},
      {"sepp", {"josef"}},
      {"beppe", {"giuseppe"}},
      {"gigi", {"luigi"}},
  };
  return *table;
}

}  // namespace

std::vector<std::string> GivenNameForms(absl::string_view folded_given) {
  std::vector<std::string> forms = {std::string(folded_given)};
  auto it = Nicknames().find(folded_given);
  if (it != Nicknames().end()) forms.insert(forms.end(), it->second.begin(), it->second.end());
  std::sort(forms.begin(), forms.end());
  forms.erase(std::unique(forms.begin(), forms.end()), forms.end());
  return forms;
}

bool OneGivenName(absl::string_view x, absl::string_view y) {
  return x == y || Intersects(GivenNameForms(x), GivenNameForms(y));
}

bool Intersects(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (const auto& x : a) {
    if (std::find(b.begin(), b.end(), x) != b.end()) return true;
  }
  return false;
}

bool IsProperName(absl::string_view folded_word) {
  const char* const* begin = internal::kProperNames;
  const char* const* end = begin + internal::kProperNameCount;
  auto it = std::lower_bound(begin, end, folded_word,
                             [](const char* name, absl::string_view w) { return name < w; });
  return it != end && *it == folded_word;
}

std::string Nysiis(absl::string_view folded_word) {
  std::string w;
  for (char c : folded_word) {
    if (absl::ascii_isalpha(c)) w.push_back(absl::ascii_toupper(c));
  }
  if (w.empty()) return "";
  auto starts = [&](absl::string_view p) { return absl::StartsWith(w, p); };
  auto ends = [&](absl::string_view p) { return absl::EndsWith(w, p); };
  // Prefixes.
  if (starts("MAC")) {
    w.replace(0, 3, "MCC");
  } else if (starts("KN")) {
    w.replace(0, 2, "NN");
  } else if (starts("K")) {
    w[0] = 'C';
  } else if (starts("PH") || starts("PF")) {
    w.replace(0, 2, "FF");
  } else if (starts("SCH")) {
    w.replace(0, 3, "SSS");
  }
  // Suffixes.
  if (ends("EE") || ends("IE")) {
    w.replace(w.size() - 2, 2, "Y");
  } else if (ends("DT") || ends("RT") || ends("RD") || ends("NT") || ends("ND")) {
    w.replace(w.size() - 2, 2, "D");
  }
  auto is_vowel = [](char c) { return c == 'A' || c == 'E' || c == 'I' || c == 'O' || c == 'U'; };
  // Transform in place, left to right, so each rule sees the already transformed
  // letters before it; then keep a letter only if it differs from the last one kept.
  std::string key(1, w[0]);
  for (size_t i = 1; i < w.size(); ++i) {
    absl::string_view rest = absl::string_view(w).substr(i);
    char c = w[i];
    if (absl::StartsWith(rest, "EV")) {
      w[i] = 'A';
      w[i + 1] = 'F';
    } else if (is_vowel(c)) {
      w[i] = 'A';
    } else if (c == 'Q') {
      w[i] = 'G';
    } else if (c == 'Z') {
      w[i] = 'S';
    } else if (c == 'M') {
      w[i] = 'N';
    } else if (absl::StartsWith(rest, "KN")) {
      w[i] = 'N';
    } else if (c == 'K') {
      w[i] = 'C';
    } else if (absl::StartsWith(rest, "SCH")) {
      w[i + 1] = 'S';
      w[i + 2] = 'S';
    } else if (absl::StartsWith(rest, "PH")) {
      w[i] = 'F';
      w[i + 1] = 'F';
    } else if (c == 'H' && (!is_vowel(w[i - 1]) || (i + 1 < w.size() && !is_vowel(w[i + 1])))) {
      w[i] = w[i - 1];
    } else if (c == 'W' && is_vowel(w[i - 1])) {
      w[i] = w[i - 1];
    }
    if (key.back() != w[i]) key.push_back(w[i]);
  }
  if (key.size() > 1 && key.back() == 'S') key.pop_back();
  if (key.size() > 2 && absl::EndsWith(key, "AY")) key.replace(key.size() - 2, 2, "Y");
  if (key.size() > 1 && key.back() == 'A') key.pop_back();
  return key;
}

double JaroWinkler(absl::string_view a, absl::string_view b) {
  if (a.empty() && b.empty()) return 1.0;
  if (a.empty() || b.empty()) return 0.0;
  if (a == b) return 1.0;
  int window = std::max<int>(0, static_cast<int>(std::max(a.size(), b.size())) / 2 - 1);
  // Match flags on the stack for the short strings names are.
  constexpr size_t kStack = 64;
  char a_stack[kStack] = {}, b_stack[kStack] = {};
  std::vector<char> a_heap, b_heap;
  char* a_match = a_stack;
  char* b_match = b_stack;
  if (a.size() > kStack || b.size() > kStack) {
    a_heap.assign(a.size(), 0);
    b_heap.assign(b.size(), 0);
    a_match = a_heap.data();
    b_match = b_heap.data();
  }
  int matches = 0;
  for (int i = 0; i < static_cast<int>(a.size()); ++i) {
    int lo = std::max(0, i - window);
    int hi = std::min(static_cast<int>(b.size()) - 1, i + window);
    for (int j = lo; j <= hi; ++j) {
      if (!b_match[j] && a[i] == b[j]) {
        a_match[i] = b_match[j] = 1;
        ++matches;
        break;
      }
    }
  }
  if (matches == 0) return 0.0;
  int transpositions = 0;
  for (size_t i = 0, j = 0; i < a.size(); ++i) {
    if (!a_match[i]) continue;
    while (!b_match[j]) ++j;
    if (a[i] != b[j]) ++transpositions;
    ++j;
  }
  double m = matches;
  double jaro = (m / a.size() + m / b.size() + (m - transpositions / 2.0) / m) / 3.0;
  int prefix = 0;
  while (prefix < 4 && prefix < static_cast<int>(std::min(a.size(), b.size())) &&
         a[prefix] == b[prefix]) {
    ++prefix;
  }
  return jaro + prefix * 0.1 * (1.0 - jaro);
}

int EditDistance(absl::string_view a, absl::string_view b) {
  const size_t n = a.size(), m = b.size();
  if (n == 0) return static_cast<int>(m);
  if (m == 0) return static_cast<int>(n);
  // Three rolling rows (the transposition looks two rows back), on the stack for the
  // short strings names and identifiers are.
  constexpr size_t kStack = 64;
  int stack_rows[3][kStack + 1];
  std::vector<int> heap;
  int* rows[3];
  if (m <= kStack) {
    for (int r = 0; r < 3; ++r) rows[r] = stack_rows[r];
  } else {
    heap.resize(3 * (m + 1));
    for (int r = 0; r < 3; ++r) rows[r] = heap.data() + r * (m + 1);
  }
  int* before = rows[0];  // row i-2
  int* prev = rows[1];    // row i-1
  int* cur = rows[2];     // row i
  for (size_t j = 0; j <= m; ++j) prev[j] = static_cast<int>(j);
  for (size_t i = 1; i <= n; ++i) {
    cur[0] = static_cast<int>(i);
    for (size_t j = 1; j <= m; ++j) {
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      int best = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        best = std::min(best, before[j - 2] + 1);
      }
      cur[j] = best;
    }
    int* recycled = before;
    before = prev;
    prev = cur;
    cur = recycled;
  }
  return prev[m];
}

bool WithinOneEdit(absl::string_view a, absl::string_view b) {
  if (a.size() > b.size()) std::swap(a, b);
  if (b.size() - a.size() > 1) return false;
  size_t i = 0;
  while (i < a.size() && a[i] == b[i]) ++i;  // common prefix
  if (i == a.size()) return true;            // equal, or one character appended
  if (a.size() == b.size()) {
    // One substitution, or one transposition of adjacent characters.
    if (a.substr(i + 1) == b.substr(i + 1)) return true;
    return i + 1 < a.size() && a[i] == b[i + 1] && a[i + 1] == b[i] &&
           a.substr(i + 2) == b.substr(i + 2);
  }
  // One insertion into the shorter string.
  return a.substr(i) == b.substr(i + 1);
}

namespace {

// An upper bound of the characters two strings can have in common, by counting them in
// 32 buckets (characters sharing a bucket only raise the bound).
size_t SharedCharactersBound(absl::string_view a, absl::string_view b) {
  size_t counts[32] = {};
  for (char ch : a) ++counts[static_cast<unsigned char>(ch) & 31];
  size_t shared = 0;
  for (char ch : b) {
    size_t& n = counts[static_cast<unsigned char>(ch) & 31];
    if (n > 0) {
      --n;
      ++shared;
    }
  }
  return shared;
}

}  // namespace

bool Close(absl::string_view a, absl::string_view b) {
  size_t shorter = std::min(a.size(), b.size());
  if (shorter >= 4 && WithinOneEdit(a, b)) return true;
  // Jaro-Winkler >= 0.92 needs Jaro >= 0.866 even with the full prefix bonus, and Jaro
  // is at most (m/|a| + m/|b| + 1) / 3 for m matching characters: skip pairs that
  // cannot get there, first by length (m <= the shorter length), then by the characters
  // they share. Most candidate pairs are different people and end here.
  if (shorter == 0) return false;
  auto jaro_bound = [&](size_t m) {
    return (static_cast<double>(m) / a.size() + static_cast<double>(m) / b.size() + 1.0) / 3.0;
  };
  if (jaro_bound(shorter) < 0.866) return false;
  if (jaro_bound(SharedCharactersBound(a, b)) < 0.866) return false;
  return JaroWinkler(a, b) >= 0.92;
}

bool OneSlipApart(absl::string_view a, absl::string_view b) {
  return a.size() == b.size() && WithinOneEdit(a, b);
}

std::string NormalizePhone(absl::string_view phone) {
  std::string digits;
  for (char c : phone) {
    if (absl::ascii_isdigit(c)) digits.push_back(c);
  }
  if (digits.size() == 11 && digits[0] == '1') digits.erase(0, 1);
  return digits;
}

std::string NormalizeIdentifier(absl::string_view value) {
  std::string out;
  for (char c : value) {
    if (absl::ascii_isalnum(c)) out.push_back(absl::ascii_toupper(c));
  }
  return out;
}

std::string NormalizeIdentifierSystem(absl::string_view system) {
  system = absl::StripAsciiWhitespace(system);
  while (absl::ConsumeSuffix(&system, "/")) {
  }
  absl::string_view oid = system;
  absl::ConsumePrefix(&oid, "urn:oid:");
  if (oid == "2.16.840.1.113883.4.1") return "http://hl7.org/fhir/sid/us-ssn";
  return std::string(system);
}

bool IsPersonWideSystem(absl::string_view normalized_system) {
  return normalized_system == "http://hl7.org/fhir/sid/us-ssn" || normalized_system == "ssn";
}

bool IsPlaceholderNumber(absl::string_view v) {
  return v.size() >= 4 && v.find_first_not_of(v[0]) == absl::string_view::npos;
}

std::string NormalizeStreet(absl::string_view line) {
  static const auto* abbreviations = new absl::flat_hash_map<std::string, std::string>{
      {"street", "st"},    {"str", "st"},        {"avenue", "ave"},   {"av", "ave"},
      {"road", "rd"},      {"drive", "dr"},      {"lane", "ln"},      {"boulevard", "blvd"},
      {"court", "ct"},     {"place", "pl"},      {"terrace", "ter"},  {"circle", "cir"},
      {"highway", "hwy"},  {"parkway", "pkwy"},  {"square", "sq"},    {"crescent", "cres"},
      {"close", "cl"},     {"apartment", "apt"}, {"unit", "apt"},     {"suite", "apt"},
      {"ste", "apt"},      {"flat", "apt"},      {"north", "n"},      {"south", "s"},
      {"east", "e"},       {"west", "w"},        {"northeast", "ne"}, {"northwest", "nw"},
      {"southeast", "se"}, {"southwest", "sw"},  {"mount", "mt"},     {"saint", "st"},
      {"fort", "ft"},      {"calle", "c"},       {"strasse", "st"},
  };
  // '#' is punctuation to FoldText; keep it as a unit marker first.
  std::string marked(line);
  for (size_t p = marked.find('#'); p != std::string::npos; p = marked.find('#', p)) {
    marked.replace(p, 1, " apt ");
  }
  std::vector<std::string> words = Words(marked);
  for (std::string& w : words) {
    auto it = abbreviations->find(w);
    if (it != abbreviations->end()) w = it->second;
  }
  return absl::StrJoin(words, " ");
}

bool IsStreetType(absl::string_view normalized_word) {
  static const auto* types =
      new absl::flat_hash_set<std::string>{"st",  "ave", "rd",  "dr",   "ln", "blvd", "ct", "pl",
                                           "ter", "cir", "hwy", "pkwy", "sq", "cres", "cl"};
  return types->contains(normalized_word);
}

std::string NormalizePostalCode(absl::string_view code) {
  std::string out = NormalizeIdentifier(code);
  if (out.size() == 9 && std::all_of(out.begin(), out.end(), absl::ascii_isdigit)) {
    out.resize(5);
  }
  return out;
}

}  // namespace hie::mpi
