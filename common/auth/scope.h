// SMART system scopes: what a backend client may do to which FHIR resource types.
//
//   system/<Type|*>.<permissions>
//   SMART v1 permissions: read (read, search), write (create, update, delete), * (all)
//   SMART v2 permissions: a non-empty subset of "cruds" in that order, e.g. rs, cud, cruds
//
// patient/ and user/ scopes, openid, launch and v2 scopes with query parameters
// (system/Observation.rs?category=...) are not system scopes here: they are never
// granted, so a request for them gains nothing.
#ifndef HIE_COMMON_AUTH_SCOPE_H_
#define HIE_COMMON_AUTH_SCOPE_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace hie::auth {

// True if `scope` is a system scope in one of the forms above.
bool IsSystemScope(absl::string_view scope);

// The part of the space-separated `requested` scopes that `allowed` permits, in the
// order requested and without repeats. A requested scope that one allowed scope covers
// is granted as written; one that allowed scopes cover only in part is narrowed to each
// overlap (system/*.read with only system/Patient.read allowed grants
// system/Patient.read). Scopes that are not system scopes are dropped. Empty if nothing
// requested is allowed.
std::vector<std::string> GrantScopes(absl::string_view requested,
                                     const std::vector<std::string>& allowed);

// True if some scope in `granted` permits `interaction` ("read", "search", "create",
// "update" or "delete") on `resource_type` (a FHIR type such as "Patient"). Any other
// interaction, and anything that is not a system scope, is denied.
bool ScopeAllows(const std::vector<std::string>& granted, absl::string_view resource_type,
                 absl::string_view interaction);

}  // namespace hie::auth

#endif  // HIE_COMMON_AUTH_SCOPE_H_
