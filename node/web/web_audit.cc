#include "node/web/web_audit.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"

namespace hie::node {

hie::v1::AuditEntry WebAuditEntry(const Web& web, const http::SessionPrincipal& session,
                                  hie::v1::AuditAction action, const WebAccess& access) {
  const std::string& own_org = web.options.state->own_org;
  hie::v1::AuditEntry entry;
  entry.set_action(action);
  entry.set_actor_org(own_org);
  entry.set_outcome("ok");
  entry.mutable_user()->set_user_id(session.login);
  entry.mutable_user()->set_display_name(session.display_name);
  entry.mutable_user()->set_role(session.role);
  entry.set_detail("web app session");
  entry.set_interaction(access.interaction);
  entry.set_resource(access.resource);
  if (!access.patient.empty()) {
    entry.mutable_patient()->set_org_id(own_org);
    entry.mutable_patient()->set_local_id(access.patient);
  }
  return entry;
}

void RespondAfterAudit(const Web& web, const http::SessionPrincipal& session,
                       const std::vector<WebAccess>& touched, const http::Responder& responder,
                       http::Response response) {
  if (web.options.auditor == nullptr || web.options.state == nullptr) {
    responder.Respond(ErrorPage(web, &session, 503, "This node cannot record accesses now."));
    return;
  }
  std::vector<hie::v1::AuditEntry> entries;
  for (const WebAccess& access : touched) {
    entries.push_back(WebAuditEntry(web, session, hie::v1::AUDIT_ACTION_ACCESS, access));
  }
  // The refusal page is made now: the callback runs after `web` may no longer be
  // reachable from here, and must not build pages on the committer's thread anyway.
  http::Response refused = ErrorPage(web, &session, 503,
                                     "This node cannot record this access now, so it is not "
                                     "shown: try again in a moment.");
  web.options.auditor->Append(
      std::move(entries), [responder, response = std::move(response),
                           refused = std::move(refused)](absl::Status recorded) mutable {
        if (!recorded.ok()) {
          LogError("the audit chain refused a web access: ", recorded.ToString());
          responder.Respond(std::move(refused));
          return;
        }
        responder.Respond(std::move(response));
      });
}

}  // namespace hie::node
