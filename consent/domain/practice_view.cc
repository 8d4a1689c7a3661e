#include "consent/domain/practice_view.h"

namespace hie::consent {

std::optional<hie::v1::AuditEntry> PracticeView(hie::v1::AuditEntry entry, const std::string& org) {
  if (entry.actor_org() == org) return entry;
  if (entry.has_patient() && entry.patient().org_id() == org) return entry;
  switch (entry.action()) {
    case hie::v1::AUDIT_ACTION_AUTHORIZE:
    case hie::v1::AUDIT_ACTION_QUERY:
    case hie::v1::AUDIT_ACTION_BREAK_GLASS:
      break;
    default:
      return std::nullopt;
  }
  entry.clear_patient();
  // A permit's detail lists the holders named and counts those left out; a deny's is the
  // decision's reason (the policy's rule or the directive that decided), and an alert's
  // names the requester, its user and their reason: neither names a holder.
  const bool deny = entry.action() == hie::v1::AUDIT_ACTION_AUTHORIZE && entry.outcome() == "deny";
  if (entry.action() != hie::v1::AUDIT_ACTION_BREAK_GLASS && !deny) entry.clear_detail();
  if (entry.counterpart_org() != org) entry.clear_counterpart_org();
  return entry;
}

hie::v1::Directive PracticeView(hie::v1::Directive d, const std::string& org) {
  if (d.filed_by_org() == org) return d;
  if (d.has_patient() && d.patient().org_id() == org) return d;
  d.clear_patient();
  d.clear_filed_by_org();
  d.clear_reason();
  d.clear_consent_json();
  return d;
}

}  // namespace hie::consent
