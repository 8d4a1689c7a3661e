#include "node/rest/api.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/auth/scope.h"
#include "common/fhir/datetime.h"
#include "common/fhir/resource_json.h"
#include "common/json/json_writer.h"
#include "common/log/log.h"
#include "google/protobuf/util/time_util.h"
#include "http/status.h"
#include "node/domain/resource_types.h"
#include "simdjson.h"

namespace hie::node {

void Api::QueryStarted() {
  absl::MutexLock lock(&mu);
  ++live_queries;
}

void Api::QueryDone() {
  absl::MutexLock lock(&mu);
  --live_queries;
}

void Api::AwaitNoQueries() {
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(
      +[](int* n) { return *n == 0; }, &live_queries));
}

std::string Api::BaseUrl() {
  absl::MutexLock lock(&mu);
  return base_url;
}

http::Response Json(int status, std::string body, absl::string_view content_type) {
  http::Response r;
  r.status = status;
  r.SetHeader("Content-Type", content_type);
  r.body = std::move(body);
  return r;
}

void OnWorker(Api& api, const http::Responder& responder, std::function<void()> work) {
  if (!api.workers->Submit(std::move(work))) {
    responder.RespondError(absl::ResourceExhaustedError("the node is busy; retry in a moment"));
  }
}

absl::Status CheckScope(const Api& api, const http::Request& request, absl::string_view type,
                        absl::string_view interaction) {
  const std::optional<http::Principal>& p = request.caller.principal;
  if (!p.has_value()) {
    // An EMR-side system integration with the practice's own certificate.
    const std::optional<pki::CertIdentity>& cert = request.caller.certificate;
    if (cert.has_value()) {
      if (cert->org_id == api.state->own_org) return absl::OkStatus();
      return absl::PermissionDeniedError(absl::StrCat("this node serves ", api.state->own_org, "; ",
                                                      cert->org_id,
                                                      " may not read or write its records"));
    }
    return absl::UnauthenticatedError(
        "a bearer token (or a client certificate of this practice) is required");
  }
  if (!auth::ScopeAllows(p->scopes, type, interaction)) {
    return absl::PermissionDeniedError(absl::StrCat("the token's scopes (",
                                                    absl::StrJoin(p->scopes, " "),
                                                    ") do not allow ", interaction, " of ", type));
  }
  return absl::OkStatus();
}

absl::Status CheckType(const std::string& type) {
  if (!IsFhirR4ResourceType(type)) {
    return absl::NotFoundError(absl::StrCat("unknown resource type ", type));
  }
  return absl::OkStatus();
}

namespace {

// JSON is what this server speaks: _format and Accept may ask for it (or anything).
bool AcceptsJson(const http::Request& request) {
  if (const std::string* format = request.Query("_format")) {
    if (*format != "json" && *format != "application/fhir+json" && *format != "application/json") {
      return false;
    }
  }
  if (const std::string* accept = request.Header("accept")) {
    if (accept->find("json") == std::string::npos && accept->find("*/*") == std::string::npos) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool RefuseFormat(const http::Request& request, const http::Responder& responder) {
  if (AcceptsJson(request)) return false;
  responder.Respond(http::ErrorResponse(406, "only application/fhir+json is served"));
  return true;
}

std::string RenderRecord(const hie::v1::RecordEnvelope& record) {
  const absl::Time updated = absl::FromUnixNanos(
      google::protobuf::util::TimeUtil::TimestampToNanoseconds(record.last_updated()));
  simdjson::dom::parser parser;
  simdjson::dom::element meta;
  std::string meta_json = "{}";
  if (!parser.parse(record.fhir_json()).get(meta) && !meta["meta"].get(meta) && meta.is_object()) {
    meta_json = simdjson::minify(meta);
  }
  absl::StatusOr<std::string> new_meta =
      fhir::SetMembers(meta_json, {{"versionId", JsonQuote(absl::StrCat(record.version()))},
                                   {"lastUpdated", JsonQuote(fhir::FormatInstant(updated))}});
  absl::StatusOr<std::string> out =
      new_meta.ok() ? fhir::SetMembers(record.fhir_json(), {{"id", JsonQuote(record.resource_id())},
                                                            {"meta", *new_meta}})
                    : new_meta.status();
  if (!out.ok()) {
    // Stored text always parses (it was minified on the way in); should it not, the
    // client gets it as it was accepted rather than nothing.
    LogWarning("rendering ", record.resource_type(), "/", record.resource_id(), ": ",
               out.status().message());
    return record.fhir_json();
  }
  return *std::move(out);
}

http::Response RecordResponse(const hie::v1::RecordEnvelope& record, int status) {
  http::Response r = Json(status, RenderRecord(record), http::kFhirJsonContentType);
  r.SetHeader("ETag", absl::StrCat("W/\"", record.version(), "\""));
  const absl::Time updated = absl::FromUnixNanos(
      google::protobuf::util::TimeUtil::TimestampToNanoseconds(record.last_updated()));
  r.SetHeader("Last-Modified",
              absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", updated, absl::UTCTimeZone()));
  return r;
}

void RespondAudited(Api& api, const http::Request& request, const std::vector<Touched>& touched,
                    const http::Responder& responder, http::Response response) {
  hie::v1::AuditEntry entry;
  entry.set_action(hie::v1::AUDIT_ACTION_ACCESS);
  entry.set_actor_org(api.state->own_org);
  entry.set_outcome("ok");
  if (const std::optional<http::Principal>& p = request.caller.principal; p.has_value()) {
    entry.mutable_user()->set_user_id(p->user_id);
    entry.mutable_user()->set_display_name(p->user_display_name);
    entry.set_purpose(p->purpose_of_use);
    entry.set_detail(absl::StrCat("SMART client ", p->client_id));
  } else if (request.caller.certificate.has_value()) {
    entry.set_detail(absl::StrCat("client certificate ", request.caller.certificate->name, " of ",
                                  request.caller.certificate->org_id));
  }
  std::vector<hie::v1::AuditEntry> entries;
  for (const Touched& t : touched) {
    hie::v1::AuditEntry& e = entries.emplace_back(entry);
    e.set_interaction(t.interaction);
    e.set_resource(t.resource);
    if (!t.patient.empty()) {
      e.mutable_patient()->set_org_id(api.state->own_org);
      e.mutable_patient()->set_local_id(t.patient);
    }
  }
  api.auditor->Append(std::move(entries),
                      [responder, response = std::move(response)](absl::Status recorded) mutable {
                        if (!recorded.ok()) {
                          LogError("the audit chain refused an API access: ", recorded.ToString());
                          responder.RespondError(absl::UnavailableError(
                              "the node cannot record this access now; retry"));
                          return;
                        }
                        responder.Respond(std::move(response));
                      });
}

std::string PageLinks(const std::string& self_url, const std::string& next_url) {
  std::vector<std::string> links = {
      JsonObject().Add("relation", "self").Add("url", self_url).Build()};
  if (!next_url.empty()) {
    links.push_back(JsonObject().Add("relation", "next").Add("url", next_url).Build());
  }
  return JsonArray(links);
}

std::string StatusLine(int status) {
  switch (status) {
    case 200:
      return "200 OK";
    case 201:
      return "201 Created";
    case 204:
      return "204 No Content";
    default:
      return absl::StrCat(status);
  }
}

absl::Status NotHere(const absl::Status& status, const std::string& type, const std::string& id) {
  return absl::IsNotFound(status) ? absl::NotFoundError(absl::StrCat(type, "/", id, " is not here"))
                                  : status;
}

}  // namespace hie::node
