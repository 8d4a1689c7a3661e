// GET /AuditEvent: the node's audit chain as FHIR AuditEvents.
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/audit/fhir_audit_event.h"
#include "http/status.h"
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
  const std::string* patient = request.Query("patient");
  if (patient == nullptr || patient->empty()) {
    responder.RespondError(
        absl::InvalidArgumentError("give patient=<local id> (or patient=Patient/<local id>)"));
    return;
  }
  std::string local = *patient;
  if (absl::StartsWith(local, "Patient/")) local = local.substr(8);
  OnWorker(api, responder, [&api, responder, local] {
    absl::StatusOr<std::vector<hie::v1::AuditEntry>> entries =
        api.state->audit->QueryByPatient(audit::PatientKey::Local(api.state->own_org, local));
    if (!entries.ok()) {
      responder.RespondError(entries.status());
      return;
    }
    responder.Respond(
        Json(200, audit::ToFhirAuditBundle(*entries, absl::StrCat(api.state->own_org, "'s node")),
             http::kFhirJsonContentType));
  });
}

}  // namespace

absl::Status AddAuditRoutes(http::Router& router, Api* api) {
  ResourceCapability& audit = api->capabilities.resources["AuditEvent"];
  audit.interactions.push_back("search-type");
  audit.search_params.push_back(
      {.name = "patient", .type = "reference", .documentation = "the patient's local id"});
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
