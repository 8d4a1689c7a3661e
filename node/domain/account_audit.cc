#include "node/domain/account_audit.h"

#include "absl/strings/str_cat.h"

namespace hie::node {

hie::v1::AuditEntry AccountAuditEntry(const AccountEvent& event) {
  hie::v1::AuditEntry entry;
  entry.set_action(hie::v1::AUDIT_ACTION_ACCOUNT);
  entry.set_interaction(event.event);
  entry.set_resource(absl::StrCat("login:", event.login));
  entry.mutable_user()->set_user_id(event.actor);
  entry.mutable_user()->set_role(event.actor_role);
  entry.set_outcome(event.outcome);
  // The event leads the detail, so that the AuditEvent's outcomeDesc names it.
  entry.set_detail(event.detail.empty() ? event.event
                                        : absl::StrCat(event.event, " ", event.detail));
  return entry;
}

}  // namespace hie::node
