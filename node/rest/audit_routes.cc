// GET /AuditEvent: the node's audit chain as FHIR AuditEvents.
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/audit/audit_search.h"
#include "common/audit/fhir_audit_event.h"
#include "http/status.h"
#include "http/target.h"
#include "node/rest/api.h"

namespace hie::node {
namespace {

// The node's audit chain about one patient, as AuditEvents: for the practice's own
// certificate or the exchange's operator (the route admits both roles; the org is
// checked here, as the gRPC AuditLog service does).
void HandleAuditEvents(Api& api, http::Request request, http::Responder responder) {
  if (RefuseFormat(request, responder)) return;
  const pki::CertIdentity& who = *request.caller.certificate;
  if (who.role != pki::Role::kOperator && who.org_id != api.state->own_org) {
    responder.RespondError(absl::PermissionDeniedError(absl::StrCat(
        "this node serves ", api.state->own_org, "; ", who.org_id, " may not read its audit")));
    return;
  }
  std::vector<std::pair<std::string, std::string>> params;
  for (const http::QueryParam& p : request.query) params.emplace_back(p.name, p.value);
  absl::StatusOr<audit::AuditSearch> search = audit::ParseAuditSearch(params, api.state->own_org);
  if (!search.ok()) {
    responder.RespondError(search.status());
    return;
  }
  OnWorker(api, responder, [&api, responder, search = *std::move(search), params] {
    absl::StatusOr<audit::AuditPage> page = audit::RunAuditSearch(*api.state->audit, search);
    if (!page.ok()) {
      responder.RespondError(page.status());
      return;
    }
    // self and next repeat the search; next carries the cursor.
    std::vector<std::pair<std::string, std::string>> links;
    std::vector<std::pair<std::string, std::string>> kept;
    for (const auto& p : params) {
      if (p.first != "_after") kept.push_back(p);
    }
    links.emplace_back("self", http::SearchUrl(api.BaseUrl() + "/AuditEvent", params));
    if (page->next_after > 0) {
      kept.emplace_back("_after", absl::StrCat(page->next_after));
      links.emplace_back("next", http::SearchUrl(api.BaseUrl() + "/AuditEvent", kept));
    }
    responder.Respond(Json(
        200,
        audit::ToFhirAuditBundle(page->entries, absl::StrCat(api.state->own_org, "'s node"), links),
        http::kFhirJsonContentType));
  });
}

}  // namespace

absl::Status AddAuditRoutes(http::Router& router, Api* api) {
  ResourceCapability& audit = api->capabilities.resources["AuditEvent"];
  audit.interactions.push_back("search-type");
  audit.search_params = {
      {.name = "patient", .type = "reference", .documentation = "the patient's local id"},
      {.name = "date",
       .type = "date",
       .documentation = "when recorded, with FHIR's prefixes (ge2025-01-01); repeat to AND"},
      {.name = "agent",
       .type = "reference",
       .documentation = "an organisation or user that acted, or the other party (org-b, "
                        "Organization/org-b, dr-lee); comma for OR"},
      {.name = "subtype",
       .type = "token",
       .documentation = "the hie audit action (AUDIT_ACTION_QUERY, AUDIT_ACTION_ACCESS...)"},
      {.name = "action", .type = "token", .documentation = "C, R, U, D or E"}};
  return router.Add(
      {.method = "GET",
       .pattern = "/AuditEvent",
       .access = http::AccessRule::ClientCertificate({pki::Role::kNode, pki::Role::kOperator}),
       .audit_kind = "audit",
       .handler = [api](http::Request request, http::Responder responder) {
         HandleAuditEvents(*api, std::move(request), std::move(responder));
       }});
}

}  // namespace hie::node
