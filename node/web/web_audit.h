// The web app's entries in the node's audit chain, each durable before the page that
// depends on it is sent: what a signed-in user searched or opened (as the FHIR API
// records its clients' accesses, node/rest/api.h RespondAudited, with the session's
// login, name and role as the user), every sign-in and account change
// (node/domain/account_audit.h), and emergency access.
#ifndef HIE_NODE_WEB_WEB_AUDIT_H_
#define HIE_NODE_WEB_WEB_AUDIT_H_

#include <string>
#include <vector>

#include "http/request.h"
#include "node/web/pages.h"
#include "proto/hie/v1/audit.pb.h"

namespace hie::node {

// What one page touched.
struct WebAccess {
  std::string interaction;  // "search", "read", "match"...
  std::string resource;     // "Patient/p-1", or the type searched
  std::string patient;      // the patient's local id, or ""
};

// An audit entry of `action` by `session`'s user at this node, about `access`.
hie::v1::AuditEntry WebAuditEntry(const Web& web, const http::SessionPrincipal& session,
                                  hie::v1::AuditAction action, const WebAccess& access);

// Answers `response` once `entries` are durable in the node's chain
// (web.options.auditor's group commit; actor_org set to this practice, and the org of
// any patient named), or a 503 page if the chain cannot take them: no page shows
// records, and no account change is confirmed, that the chain does not hold. `session`
// (may be null) is who the refusal page is for. Never blocks.
void RespondAudited(const Web& web, const http::SessionPrincipal* session,
                    std::vector<hie::v1::AuditEntry> entries, const http::Responder& responder,
                    http::Response response);

// Answers `response` once one AUDIT_ACTION_ACCESS entry per element of `touched` is
// durable in the node's chain (web.options.auditor); 503 instead if the chain cannot
// record them, or if the node has no audit chain. Never blocks: the answer is sent from
// the committer's thread.
void RespondAfterAudit(const Web& web, const http::SessionPrincipal& session,
                       const std::vector<WebAccess>& touched, const http::Responder& responder,
                       http::Response response);

}  // namespace hie::node

#endif  // HIE_NODE_WEB_WEB_AUDIT_H_
