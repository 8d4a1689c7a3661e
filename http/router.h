// Routes are a table, and the table is the authorization table: every route names the
// method, the path pattern, who may call it, what it is audited as and how large a body
// it takes. A route without an access rule is refused when added, and would be denied
// if it were ever served.
//
//   Router router;
//   HIE_RETURN_IF_ERROR(router.Add({.method = "GET",
//                                   .pattern = "/Patient/{id}/$everything",
//                                   .access = AccessRule::BearerToken("user/Patient."),
//                                   .audit_kind = "patient-everything",
//                                   .handler = EverythingHandler(...)}));
//
// Patterns are '/'-separated segments; a segment is a literal ("Patient", "$everything",
// "_history") or a parameter "{name}" that matches one non-empty segment, decoded. A
// pattern may end in '/' ("/app/"): it matches that path with the '/' only.
// Where several patterns match a path, the one with a literal at the first segment
// where they differ wins ("/Patient/_search" over "/Patient/{id}").
#ifndef HIE_HTTP_ROUTER_H_
#define HIE_HTTP_ROUTER_H_

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/pki/identity.h"
#include "http/request.h"

namespace hie::http {

// Who may call a route. Deny by default: a default-constructed rule admits no one.
struct AccessRule {
  enum class Kind {
    kUnset,                           // no rule was given: refused by Router::Add, denied if served
    kAnonymous,                       // anyone, no credentials: discovery endpoints only
    kClientCertificate,               // a client certificate of the exchange with one of `roles`
    kBearerToken,                     // a bearer token the authenticator accepts, with a scope
                                      // starting with `scope_prefix` (any scope if it is empty)
    kBearerTokenOrClientCertificate,  // a bearer token as kBearerToken when one is
                                      // sent; without one, a client certificate as
                                      // kClientCertificate (EMR-side integrations)
    kSession,  // a web-app session cookie the session authenticator accepts, whose role is
               // one of `session_roles` (any role if empty); state-changing methods must
               // also carry the session's CSRF token
  };
  Kind kind = Kind::kUnset;
  std::vector<pki::Role> roles;
  std::string scope_prefix;
  std::vector<std::string> session_roles;

  static AccessRule Anonymous();
  // REQUIRES: !roles.empty()
  static AccessRule ClientCertificate(std::vector<pki::Role> roles);
  static AccessRule BearerToken(std::string scope_prefix);
  // REQUIRES: !roles.empty()
  static AccessRule BearerTokenOrClientCertificate(std::string scope_prefix,
                                                   std::vector<pki::Role> roles);
  // `roles`: role names (SessionPrincipal::role); empty: any signed-in user.
  static AccessRule Session(std::vector<std::string> roles);
};

// "anonymous", "client certificate (node, operator)", "bearer token (scope user/...)".
std::string DescribeAccessRule(const AccessRule& rule);

struct Route {
  std::string method;   // upper-case, e.g. "GET"
  std::string pattern;  // e.g. "/Patient/{id}/_history/{vid}"
  AccessRule access;
  std::string audit_kind;  // what the audit log calls a call of this route; may be empty
  // The largest request body accepted; unset: ServerOptions::max_body_bytes.
  std::optional<size_t> max_body_bytes;
  // When non-empty, a request with a body must have one of these media types
  // (lower-case, without parameters, e.g. "application/fhir+json"), else 415.
  std::vector<std::string> content_types;
  Handler handler;
};

struct RouteMatch {
  const Route* route = nullptr;               // null: no route for this method
  std::map<std::string, std::string> params;  // decoded {name} segments of `route`
  // When `route` is null: the methods of the routes whose pattern matches the path
  // (sorted). Empty means no pattern matches: 404; otherwise 405 with Allow.
  std::vector<std::string> allowed_methods;
};

// Thread-compatible: add every route before serving; Find is then safe from any thread.
class Router {
 public:
  // Adds `route`. Errors: InvalidArgument if the method, pattern or access rule is
  // missing or malformed, or there is no handler; AlreadyExists if a route with the
  // same method and the same pattern shape (parameter names aside) exists.
  absl::Status Add(Route route);

  // The route for `method` and `path` (the request target's path, percent-encoded).
  RouteMatch Find(absl::string_view method, absl::string_view path) const;

  // Every route, in the order added.
  const std::vector<Route>& routes() const { return routes_; }

 private:
  struct Segment {
    std::string text;  // the literal, or the parameter's name
    bool is_param = false;
  };
  struct Entry {
    std::vector<Segment> segments;
  };
  std::vector<Route> routes_;
  std::vector<Entry> entries_;  // parallel to routes_
};

}  // namespace hie::http

#endif  // HIE_HTTP_ROUTER_H_
