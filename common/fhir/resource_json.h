// Small edits to a FHIR resource's JSON without a full object model: parse with
// simdjson, re-emit with some top-level members set. Used where a service must assign
// an id or change a status of a resource it otherwise keeps exactly as sent.
#ifndef HIE_COMMON_FHIR_RESOURCE_JSON_H_
#define HIE_COMMON_FHIR_RESOURCE_JSON_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hie::fhir {

// `json_object` (a JSON object) minified, with each of `members` (name, raw JSON value)
// replacing the member of that name where present, or added right after
// "resourceType" (first, if there is none) where absent.
// Errors: InvalidArgument if `json_object` is not a JSON object.
absl::StatusOr<std::string> SetMembers(
    absl::string_view json_object, const std::vector<std::pair<std::string, std::string>>& members);

}  // namespace hie::fhir

#endif  // HIE_COMMON_FHIR_RESOURCE_JSON_H_
