// The FHIR R4 (4.0.1) resource types a node accepts.
#ifndef HIE_NODE_DOMAIN_RESOURCE_TYPES_H_
#define HIE_NODE_DOMAIN_RESOURCE_TYPES_H_

#include "absl/strings/string_view.h"

namespace hie::node {

// True for every resource type of FHIR R4 (not data types, not R5 names).
bool IsFhirR4ResourceType(absl::string_view name);

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_RESOURCE_TYPES_H_
