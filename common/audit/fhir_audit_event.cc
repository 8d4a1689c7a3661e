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
    case hie::v1::AUDIT_ACTION_ACCOUNT:
      return {"110137", "User Security Attributes Changed", "U"};
    default:
      return {"110100", "Application Activity", "E"};
  }
}

// An entry's event type: its action's, but for a sign-in or sign-out, which DICOM calls
// User Authentication.
EventType TypeOf(const hie::v1::AuditEntry& entry) {
  if (entry.action() == hie::v1::AUDIT_ACTION_ACCOUNT &&
      (entry.interaction() == "sign-in" || entry.interaction() == "sign-out")) {
    return {"110114", "User Authentication", "E"};
  }
  return TypeOf(entry.action());
}

// A REST access (IHE BALP): type "rest", the interaction as subtype, and its action.
struct RestInteraction {
  const char* code;  // http://hl7.org/fhir/restful-interaction
  const char* action;
};

RestInteraction RestOf(const std::string& interaction) {
  if (interaction == "create") return {"create", "C"};
  if (interaction == "update") return {"update", "U"};
  if (interaction == "delete") return {"delete", "D"};
  if (interaction == "vread") return {"vread", "R"};
  if (interaction == "history") return {"history-instance", "R"};
  if (interaction == "search") return {"search-type", "E"};
  if (interaction == "transaction") return {"transaction", "E"};
  return {"read", "R"};
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

const char* FhirAuditAction(const hie::v1::AuditEntry& entry) {
  if (entry.action() == hie::v1::AUDIT_ACTION_ACCESS) return RestOf(entry.interaction()).action;
  return TypeOf(entry).action;
}

std::string ToFhirAuditEvent(const hie::v1::AuditEntry& entry, const std::string& observer) {
  EventType type = TypeOf(entry);
  const bool rest = entry.action() == hie::v1::AUDIT_ACTION_ACCESS;
  absl::Time time =
      absl::FromUnixSeconds(entry.time().seconds()) + absl::Nanoseconds(entry.time().nanos());
  bool failed = entry.outcome() == "deny" || entry.outcome() == "refused";
  JsonObject event;
  event.Add("resourceType", "AuditEvent")
      .Add("id", absl::StrCat("seq-", entry.sequence()))
      .AddRaw("type", rest ? Coding("http://terminology.hl7.org/CodeSystem/audit-event-type",
                                    "rest", "Restful Operation")
                           : Coding(kDicom, type.code, type.display));
  std::vector<std::string> subtypes = {
      Coding("urn:hie:audit-action", hie::v1::AuditAction_Name(entry.action()))};
  if (rest) {
    subtypes.insert(subtypes.begin(), Coding("http://hl7.org/fhir/restful-interaction",
                                             RestOf(entry.interaction()).code));
  }
  event.AddRaw("subtype", JsonArray(subtypes))
      .Add("action", FhirAuditAction(entry))
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
    JsonObject what;
    if (!entry.patient().local_id().empty() && entry.patient().org_id() == entry.actor_org() &&
        rest) {
      what.Add("reference", absl::StrCat("Patient/", entry.patient().local_id()));
    }
    patient.AddRaw("what", what.AddRaw("identifier", identifier).Build())
        .AddRaw("type",
                Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "1", "Person"))
        .AddRaw("role",
                Coding("http://terminology.hl7.org/CodeSystem/object-role", "1", "Patient"));
    if (!entry.euid().empty()) patient.Add("description", absl::StrCat("EUID ", entry.euid()));
    entities.push_back(patient.Build());
  }
  if (!entry.resource().empty()) {
    JsonObject what;
    if (entry.resource().find('/') != std::string::npos) what.Add("reference", entry.resource());
    entities.push_back(
        JsonObject()
            .AddRaw("what", what.Add("display", entry.resource()).Build())
            .AddRaw("type", Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2",
                                   "System Object"))
            .AddRaw("role", Coding("http://terminology.hl7.org/CodeSystem/object-role", "4",
                                   "Domain Resource"))
            .Build());
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
                              const std::string& observer,
                              const std::vector<std::pair<std::string, std::string>>& links) {
  std::vector<std::string> bundle_entries;
  for (const auto& e : entries) {
    bundle_entries.push_back(
        JsonObject().AddRaw("resource", ToFhirAuditEvent(e, observer)).Build());
  }
  JsonObject bundle;
  bundle.Add("resourceType", "Bundle").Add("type", "searchset");
  if (links.empty()) bundle.Add("total", static_cast<int64_t>(entries.size()));
  std::vector<std::string> link_json;
  for (const auto& [relation, url] : links) {
    link_json.push_back(JsonObject().Add("relation", relation).Add("url", url).Build());
  }
  if (!link_json.empty()) bundle.AddRaw("link", JsonArray(link_json));
  return bundle.AddRaw("entry", JsonArray(bundle_entries)).Build();
}

}  // namespace hie::audit
