#include "http/router.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "http/target.h"

namespace hie::http {
namespace {

bool IsMethod(absl::string_view method) {
  return !method.empty() &&
         std::all_of(method.begin(), method.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

bool IsParamName(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return absl::ascii_isalnum(c) || c == '_'; });
}

absl::Status CheckAccessRule(const AccessRule& rule) {
  switch (rule.kind) {
    case AccessRule::Kind::kUnset:
      return absl::InvalidArgumentError("has no access rule");
    case AccessRule::Kind::kClientCertificate:
    case AccessRule::Kind::kBearerTokenOrClientCertificate:
      if (rule.roles.empty()) {
        return absl::InvalidArgumentError("has a client-certificate rule naming no role");
      }
      return absl::OkStatus();
    case AccessRule::Kind::kAnonymous:
    case AccessRule::Kind::kBearerToken:
    case AccessRule::Kind::kSession:
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError("has an unknown access rule");
}

// True if a has a literal where b has a parameter, at the first segment where they
// differ in kind. REQUIRES: same length.
template <typename Segments>
bool MoreSpecific(const Segments& a, const Segments& b) {
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].is_param != b[i].is_param) return !a[i].is_param;
  }
  return false;
}

}  // namespace

AccessRule AccessRule::Anonymous() {
  AccessRule rule;
  rule.kind = Kind::kAnonymous;
  return rule;
}

AccessRule AccessRule::ClientCertificate(std::vector<pki::Role> roles) {
  AccessRule rule;
  rule.kind = Kind::kClientCertificate;
  rule.roles = std::move(roles);
  return rule;
}

AccessRule AccessRule::BearerToken(std::string scope_prefix) {
  AccessRule rule;
  rule.kind = Kind::kBearerToken;
  rule.scope_prefix = std::move(scope_prefix);
  return rule;
}

AccessRule AccessRule::BearerTokenOrClientCertificate(std::string scope_prefix,
                                                      std::vector<pki::Role> roles) {
  AccessRule rule;
  rule.kind = Kind::kBearerTokenOrClientCertificate;
  rule.scope_prefix = std::move(scope_prefix);
  rule.roles = std::move(roles);
  return rule;
}

AccessRule AccessRule::Session(std::vector<std::string> roles) {
  AccessRule rule;
  rule.kind = Kind::kSession;
  rule.session_roles = std::move(roles);
  return rule;
}

std::string DescribeAccessRule(const AccessRule& rule) {
  if (rule.kind == AccessRule::Kind::kBearerTokenOrClientCertificate) {
    AccessRule token = AccessRule::BearerToken(rule.scope_prefix);
    AccessRule certificate = AccessRule::ClientCertificate(rule.roles);
    return absl::StrCat(DescribeAccessRule(token), " or ", DescribeAccessRule(certificate));
  }
  switch (rule.kind) {
    case AccessRule::Kind::kUnset:
      return "none (denied)";
    case AccessRule::Kind::kAnonymous:
      return "anonymous";
    case AccessRule::Kind::kClientCertificate:
      return absl::StrCat("client certificate (",
                          absl::StrJoin(rule.roles, ", ",
                                        [](std::string* out, pki::Role role) {
                                          absl::StrAppend(out, std::string(pki::RoleName(role)));
                                        }),
                          ")");
    case AccessRule::Kind::kBearerToken:
    case AccessRule::Kind::kBearerTokenOrClientCertificate:
      return rule.scope_prefix.empty()
                 ? "bearer token"
                 : absl::StrCat("bearer token (scope ", rule.scope_prefix, "...)");
    case AccessRule::Kind::kSession:
      return rule.session_roles.empty()
                 ? "session"
                 : absl::StrCat("session (", absl::StrJoin(rule.session_roles, ", "), ")");
  }
  return "unknown";
}

absl::Status Router::Add(Route route) {
  const std::string name = absl::StrCat("route ", route.method, " ", route.pattern);
  if (!IsMethod(route.method)) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": the method must be upper-case"));
  }
  if (route.pattern.empty() || route.pattern.front() != '/') {
    return absl::InvalidArgumentError(absl::StrCat(name, ": the pattern must start with '/'"));
  }
  if (absl::Status s = CheckAccessRule(route.access); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(name, " ", s.message()));
  }
  if (!route.handler) {
    return absl::InvalidArgumentError(absl::StrCat(name, " has no handler"));
  }
  Entry entry;
  std::set<std::string> param_names;
  if (route.pattern != "/") {
    std::vector<absl::string_view> texts =
        absl::StrSplit(absl::string_view(route.pattern).substr(1), '/');
    for (size_t i = 0; i < texts.size(); ++i) {
      absl::string_view text = texts[i];
      // A trailing '/' is an empty last segment ("/app/"), matched by the same only.
      const bool trailing_slash = text.empty() && i + 1 == texts.size();
      Segment segment;
      if (text.size() >= 2 && text.front() == '{' && text.back() == '}') {
        segment = {std::string(text.substr(1, text.size() - 2)), true};
        if (!IsParamName(segment.text) || !param_names.insert(segment.text).second) {
          return absl::InvalidArgumentError(
              absl::StrCat(name, ": bad or repeated parameter {", segment.text, "}"));
        }
      } else if ((text.empty() && !trailing_slash) || absl::StrContains(text, "{") ||
                 absl::StrContains(text, "}")) {
        return absl::InvalidArgumentError(absl::StrCat(name, ": bad segment \"", text, "\""));
      } else {
        segment = {std::string(text), false};
      }
      entry.segments.push_back(std::move(segment));
    }
  }
  for (size_t i = 0; i < routes_.size(); ++i) {
    const auto& other = entries_[i].segments;
    bool same_shape =
        routes_[i].method == route.method && other.size() == entry.segments.size() &&
        std::equal(other.begin(), other.end(), entry.segments.begin(),
                   [](const Segment& a, const Segment& b) {
                     return a.is_param == b.is_param && (a.is_param || a.text == b.text);
                   });
    if (same_shape) {
      return absl::AlreadyExistsError(
          absl::StrCat(name, " has the same shape as ", routes_[i].pattern));
    }
  }
  routes_.push_back(std::move(route));
  entries_.push_back(std::move(entry));
  return absl::OkStatus();
}

RouteMatch Router::Find(absl::string_view method, absl::string_view path) const {
  RouteMatch match;
  if (path.empty() || path.front() != '/') return match;
  std::optional<std::vector<std::string>> segments = PathSegments(path);
  if (!segments) return match;
  std::set<std::string> allowed;
  const Entry* best = nullptr;
  for (size_t i = 0; i < routes_.size(); ++i) {
    const std::vector<Segment>& pattern = entries_[i].segments;
    if (pattern.size() != segments->size()) continue;
    bool matches = true;
    for (size_t j = 0; j < pattern.size() && matches; ++j) {
      const std::string& actual = (*segments)[j];
      matches = pattern[j].is_param ? !actual.empty() : pattern[j].text == actual;
    }
    if (!matches) continue;
    allowed.insert(routes_[i].method);
    if (routes_[i].method != method) continue;
    if (best == nullptr || MoreSpecific(pattern, best->segments)) {
      best = &entries_[i];
      match.route = &routes_[i];
    }
  }
  if (match.route == nullptr) {
    match.allowed_methods.assign(allowed.begin(), allowed.end());
    return match;
  }
  for (size_t j = 0; j < best->segments.size(); ++j) {
    if (best->segments[j].is_param) match.params[best->segments[j].text] = (*segments)[j];
  }
  return match;
}

}  // namespace hie::http
