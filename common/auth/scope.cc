#include "common/auth/scope.h"

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace hie::auth {
namespace {

// One bit per interaction, in SMART v2's letter order.
constexpr char kLetters[] = "cruds";
constexpr unsigned kCreate = 1, kRead = 2, kUpdate = 4, kDelete = 8, kSearch = 16;
constexpr unsigned kAll = kCreate | kRead | kUpdate | kDelete | kSearch;
constexpr unsigned kV1Read = kRead | kSearch;
constexpr unsigned kV1Write = kCreate | kUpdate | kDelete;
constexpr size_t kMaxTypeLength = 64;

struct Scope {
  std::string type;  // a FHIR resource type or "*"
  unsigned interactions = 0;
  bool v1 = false;  // written in SMART v1 form (read, write, *)
};

bool IsResourceType(absl::string_view type) {
  if (type.empty() || type.size() > kMaxTypeLength || !absl::ascii_isupper(type[0])) return false;
  for (char c : type) {
    if (!absl::ascii_isalpha(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// v2 letters: each of c r u d s at most once, in that order.
std::optional<unsigned> ParseLetters(absl::string_view letters) {
  unsigned out = 0;
  size_t next = 0;
  for (char c : letters) {
    absl::string_view rest = absl::string_view(kLetters).substr(next);
    size_t at = rest.find(c);
    if (at == absl::string_view::npos) return std::nullopt;
    next += at + 1;
    out |= 1u << (next - 1);
  }
  if (out == 0) return std::nullopt;
  return out;
}

std::optional<Scope> ParseScope(absl::string_view text) {
  if (!absl::ConsumePrefix(&text, "system/")) return std::nullopt;
  size_t dot = text.find('.');
  if (dot == absl::string_view::npos) return std::nullopt;
  Scope scope;
  scope.type = std::string(text.substr(0, dot));
  absl::string_view permissions = text.substr(dot + 1);
  if (scope.type != "*" && !IsResourceType(scope.type)) return std::nullopt;
  scope.v1 = true;
  if (permissions == "read") {
    scope.interactions = kV1Read;
  } else if (permissions == "write") {
    scope.interactions = kV1Write;
  } else if (permissions == "*") {
    scope.interactions = kAll;
  } else {
    std::optional<unsigned> letters = ParseLetters(permissions);
    if (!letters.has_value()) return std::nullopt;
    scope.interactions = *letters;
    scope.v1 = false;
  }
  return scope;
}

std::string Render(const Scope& scope) {
  std::string permissions;
  if (scope.v1 && scope.interactions == kV1Read) {
    permissions = "read";
  } else if (scope.v1 && scope.interactions == kV1Write) {
    permissions = "write";
  } else if (scope.v1 && scope.interactions == kAll) {
    permissions = "*";
  } else {
    for (int bit = 0; bit < 5; ++bit) {
      if (scope.interactions & (1u << bit)) permissions.push_back(kLetters[bit]);
    }
  }
  return absl::StrCat("system/", scope.type, ".", permissions);
}

bool Covers(const Scope& wide, const Scope& narrow) {
  return (wide.type == "*" || wide.type == narrow.type) &&
         (narrow.interactions & ~wide.interactions) == 0;
}

// What `requested` and `allowed` both permit, if anything.
std::optional<Scope> Overlap(const Scope& requested, const Scope& allowed) {
  if (requested.type != "*" && allowed.type != "*" && requested.type != allowed.type) {
    return std::nullopt;
  }
  Scope out;
  out.type = requested.type == "*" ? allowed.type : requested.type;
  out.interactions = requested.interactions & allowed.interactions;
  out.v1 = requested.v1;
  if (out.interactions == 0) return std::nullopt;
  return out;
}

std::vector<Scope> ParseAll(const std::vector<std::string>& scopes) {
  std::vector<Scope> out;
  for (const std::string& text : scopes) {
    if (std::optional<Scope> scope = ParseScope(text)) out.push_back(*std::move(scope));
  }
  return out;
}

// `granted` without the scopes another one already covers (the first of equals stays).
std::vector<std::string> WithoutRedundant(
    const std::vector<std::pair<std::string, Scope>>& granted) {
  std::vector<std::string> out;
  for (size_t i = 0; i < granted.size(); ++i) {
    bool redundant = false;
    for (size_t j = 0; j < granted.size() && !redundant; ++j) {
      if (i == j || !Covers(granted[j].second, granted[i].second)) continue;
      redundant = !Covers(granted[i].second, granted[j].second) || j < i;
    }
    if (!redundant) out.push_back(granted[i].first);
  }
  return out;
}

std::optional<unsigned> InteractionBit(absl::string_view interaction) {
  if (interaction == "read") return kRead;
  if (interaction == "search") return kSearch;
  if (interaction == "create") return kCreate;
  if (interaction == "update") return kUpdate;
  if (interaction == "delete") return kDelete;
  return std::nullopt;
}

}  // namespace

bool IsSystemScope(absl::string_view scope) { return ParseScope(scope).has_value(); }

std::vector<std::string> GrantScopes(absl::string_view requested,
                                     const std::vector<std::string>& allowed) {
  std::vector<Scope> permitted = ParseAll(allowed);
  std::vector<std::pair<std::string, Scope>> granted;
  for (absl::string_view text : absl::StrSplit(requested, ' ', absl::SkipEmpty())) {
    std::optional<Scope> scope = ParseScope(text);
    if (!scope.has_value()) continue;
    bool whole = std::any_of(permitted.begin(), permitted.end(),
                             [&](const Scope& p) { return Covers(p, *scope); });
    if (whole) {
      granted.emplace_back(std::string(text), *scope);
      continue;
    }
    for (const Scope& p : permitted) {
      if (std::optional<Scope> part = Overlap(*scope, p)) {
        granted.emplace_back(Render(*part), *part);
      }
    }
  }
  return WithoutRedundant(granted);
}

bool ScopeAllows(const std::vector<std::string>& granted, absl::string_view resource_type,
                 absl::string_view interaction) {
  std::optional<unsigned> bit = InteractionBit(interaction);
  if (!bit.has_value() || !IsResourceType(resource_type)) return false;
  Scope wanted{std::string(resource_type), *bit, false};
  std::vector<Scope> scopes = ParseAll(granted);
  return std::any_of(scopes.begin(), scopes.end(),
                     [&](const Scope& scope) { return Covers(scope, wanted); });
}

}  // namespace hie::auth
