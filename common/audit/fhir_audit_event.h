// Audit entries as FHIR R4 AuditEvent resources, for an accounting of disclosures that
// other systems can read (IHE BALP-style: who, what, when, why, outcome).
#ifndef HIE_COMMON_AUDIT_FHIR_AUDIT_EVENT_H_
#define HIE_COMMON_AUDIT_FHIR_AUDIT_EVENT_H_

#include <string>
#include <utility>
#include <vector>

#include "proto/hie/v1/audit.pb.h"

namespace hie::audit {

// FHIR AuditEvent.action (C, R, U, D or E) for an entry.
const char* FhirAuditAction(const hie::v1::AuditEntry& entry);

// One entry as an AuditEvent (JSON). `observer` names the daemon that kept the log
// ("consent", "org-a's node").
std::string ToFhirAuditEvent(const hie::v1::AuditEntry& entry, const std::string& observer);

// A FHIR searchset Bundle of AuditEvents, oldest first, with `links` (relation, url:
// "self", "next").
std::string ToFhirAuditBundle(const std::vector<hie::v1::AuditEntry>& entries,
                              const std::string& observer,
                              const std::vector<std::pair<std::string, std::string>>& links = {});

}  // namespace hie::audit

#endif  // HIE_COMMON_AUDIT_FHIR_AUDIT_EVENT_H_
