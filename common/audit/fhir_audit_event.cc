#include "common/audit/fhir_audit_event.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/json/json_writer.h"

namespace hie::audit {
namespace {

constexpr char kDicom[] = "http://dicom.nema.org/resources/ontology/DCM";
constexpr char kOrgSystem[] = "urn:hie:org";

struct EventType {
  const char* code;  // DICOM audit event id
  const char* display;
  const char* action;  // FHIR AuditEvent.action: C R U D E
};

EventType TypeOf(hie::v1::AuditAction action) {
  switch (action) {
    case hie::v1::AUDIT_ACTION_AUTHORIZE:
      return {"110100", "Application Activity", "E"};
    case hie::v1::AUDIT_ACTION_DISCLOSE:
      return {"110106", "Export", "R"};
    case hie::v1::AUDIT_ACTION_QUERY:
      return {"110112", "Query", "E"};
    case hie::v1::AUDIT_ACTION_BREAK_GLASS:
      return {"110113", "Security Alert", "E"};
    case hie::v1::AUDIT_ACTION_DIRECTIVE:
      return {"110110", "Patient Record", "U"};
    case hie::v1::AUDIT_ACTION_LINK:
      return {"110110", "Patient Record", "U"};
    case hie::v1::AUDIT_ACTION_REFUSE:
      return {"110113", "Security Alert", "E"};
    case hie::v1::AUDIT_ACTION_MEMBERSHIP:
      return {"110136", "Security Roles Changed", "U"};
    case hie::v1::AUDIT_ACTION_MATCH_MODEL:
      return {"110100", "Application Activity", "U"};
    default:
      return {"110100", "Application Activity", "E"};
  }
}

std::string Coding(const std::string& system, const std::string& code,
                   const std::string& display = "") {
  JsonObject c;
  c.Add("system", system).Add("code", code);
  if (!display.empty()) c.Add("display", display);
  return c.Build();
}

std::string OrgReference(const std::string& org) {
  return JsonObject()
      .AddRaw("identifier", JsonObject().Add("system", kOrgSystem).Add("value", org).Build())
      .Add("display", org)
      .Build();
}

}  // namespace

std::string ToFhirAuditEvent(const hie::v1::AuditEntry& entry, const std::string& observer) {
  EventType type = TypeOf(entry.action());
  absl::Time time =
      absl::FromUnixSeconds(entry.time().seconds()) + absl::Nanoseconds(entry.time().nanos());
  bool failed = entry.outcome() == "deny" || entry.outcome() == "refused";
  JsonObject event;
  event.Add("resourceType", "AuditEvent")
      .Add("id", absl::StrCat("seq-", entry.sequence()))
      .AddRaw("type", Coding(kDicom, type.code, type.display))
      .AddRaw(
          "subtype",
          JsonArray({Coding("urn:hie:audit-action", hie::v1::AuditAction_Name(entry.action()))}))
      .Add("action", type.action)
      .Add("recorded", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone()))
      // 0 success, 4 minor failure (a deny or refusal is the system working as meant).
      .Add("outcome", failed ? "4" : "0")
      .Add("outcomeDesc",
           absl::StrCat(entry.outcome(), entry.detail().empty() ? "" : ": ", entry.detail()));
  if (!entry.purpose().empty()) {
    event.AddRaw(
        "purposeOfEvent",
        JsonArray({JsonObject()
                       .AddRaw("coding", JsonArray({Coding(
                                             "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                                             entry.purpose())}))
                       .Build()}));
  }
  std::vector<std::string> agents;
  JsonObject requester;
  requester.AddRaw("who", OrgReference(entry.actor_org())).Add("requestor", true);
  if (!entry.user().user_id().empty()) requester.Add("altId", entry.user().user_id());
  if (!entry.user().display_name().empty()) requester.Add("name", entry.user().display_name());
  if (!entry.user().role().empty()) {
    requester.AddRaw("role", JsonArray({JsonObject().Add("text", entry.user().role()).Build()}));
  }
  agents.push_back(requester.Build());
  if (!entry.counterpart_org().empty()) {
    agents.push_back(JsonObject()
                         .AddRaw("who", OrgReference(entry.counterpart_org()))
                         .Add("requestor", false)
                         .Build());
  }
  event.AddRaw("agent", JsonArray(agents));
  event.AddRaw(
      "source",
      JsonObject().AddRaw("observer", JsonObject().Add("display", observer).Build()).Build());
  std::vector<std::string> entities;
  if (!entry.euid().empty() || !entry.patient().local_id().empty()) {
    JsonObject patient;
    std::string identifier =
        entry.patient().local_id().empty()
            ? JsonObject().Add("system", "urn:hie:euid").Add("value", entry.euid()).Build()
            : JsonObject()
                  .Add("system", absl::StrCat("urn:hie:org:", entry.patient().org_id()))
                  .Add("value", entry.patient().local_id())
                  .Build();
    patient.AddRaw("what", JsonObject().AddRaw("identifier", identifier).Build())
        .AddRaw("type",
                Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "1", "Person"))
        .AddRaw("role",
                Coding("http://terminology.hl7.org/CodeSystem/object-role", "1", "Patient"));
    if (!entry.euid().empty()) patient.Add("description", absl::StrCat("EUID ", entry.euid()));
    entities.push_back(patient.Build());
  }
  if (!entry.query_id().empty()) {
    entities.push_back(
        JsonObject()
            .AddRaw("what", JsonObject()
                                .AddRaw("identifier", JsonObject()
                                                          .Add("system", "urn:hie:query-id")
                                                          .Add("value", entry.query_id())
                                                          .Build())
                                .Build())
            .AddRaw("type", Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2",
                                   "System Object"))
            .Add("name", "query")
            .Build());
  }
  if (!entities.empty()) event.AddRaw("entity", JsonArray(entities));
  return event.Build();
}

std::string ToFhirAuditBundle(const std::vector<hie::v1::AuditEntry>& entries,
                              const std::string& observer) {
  std::vector<std::string> bundle_entries;
  for (const auto& e : entries) {
    bundle_entries.push_back(
        JsonObject().AddRaw("resource", ToFhirAuditEvent(e, observer)).Build());
  }
  return JsonObject()
      .Add("resourceType", "Bundle")
      .Add("type", "searchset")
      .Add("total", static_cast<int64_t>(entries.size()))
      .AddRaw("entry", JsonArray(bundle_entries))
      .Build();
}

}  // namespace hie::audit
