#include "node/web/web_audit.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"

namespace hie::node {

hie::v1::AuditEntry WebAuditEntry(const Web& web, const http::SessionPrincipal& session,
                                  hie::v1::AuditAction action, const WebAccess& access) {
  const std::string& own_org = web.options.practice_name;
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

void RespondAudited(const Web& web, const http::SessionPrincipal* session,
                    std::vector<hie::v1::AuditEntry> entries, const http::Responder& responder,
                    http::Response response) {
  if (web.options.auditor == nullptr) {
    responder.Respond(ErrorPage(web, session, 503, "This node cannot record accesses now."));
    return;
  }
  for (hie::v1::AuditEntry& entry : entries) {
    entry.set_actor_org(web.options.practice_name);
    if (!entry.patient().local_id().empty()) {
      entry.mutable_patient()->set_org_id(web.options.practice_name);
    }
  }
  // The refusal page is made now: the callback runs on the committer's thread, which
  // must not build pages, after `web` may be gone.
  http::Response refused = ErrorPage(web, session, 503,
                                     "This node cannot record this now, so it is not done or "
                                     "shown: try again in a moment.");
  web.options.auditor->Append(
      std::move(entries), [responder, response = std::move(response),
                           refused = std::move(refused)](absl::Status recorded) mutable {
        if (!recorded.ok()) {
          LogError("the audit chain refused a web-app entry: ", recorded.ToString());
          responder.Respond(std::move(refused));
          return;
        }
        responder.Respond(std::move(response));
      });
}

void RespondAfterAudit(const Web& web, const http::SessionPrincipal& session,
                       const std::vector<WebAccess>& touched, const http::Responder& responder,
                       http::Response response) {
  std::vector<hie::v1::AuditEntry> entries;
  for (const WebAccess& access : touched) {
    entries.push_back(WebAuditEntry(web, session, hie::v1::AUDIT_ACTION_ACCESS, access));
  }
  RespondAudited(web, &session, std::move(entries), responder, std::move(response));
}

}  // namespace hie::node
