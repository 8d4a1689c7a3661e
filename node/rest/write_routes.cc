// The writes: create, update, delete, and transaction or batch Bundles (POST /), each a
// call of the node's RecordWrites on a worker.
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/json/json_writer.h"
#include "google/protobuf/util/time_util.h"
#include "http/status.h"
#include "node/domain/record_writes.h"
#include "node/rest/api.h"

namespace hie::node {
namespace {

const std::vector<std::string> kFhirJson = {"application/fhir+json", "application/json"};

// The HTTP status and OperationOutcome of a write that did nothing.
http::Response Refusal(const WriteResult& w) {
  if (!w.problems.empty()) {
    return Json(422, OperationOutcomeJson(w.problems), http::kFhirJsonContentType);
  }
  return http::ErrorResponse(w.status);
}

int SuccessStatus(const WriteResult& w, const std::string& method) {
  if (method == "DELETE") return 204;
  return w.kind == PutOutcome::kCreated ? 201 : 200;
}

std::string Location(Api& api, const hie::v1::RecordEnvelope& r) {
  return absl::StrCat(api.BaseUrl(), "/", r.resource_type(), "/", r.resource_id(), "/_history/",
                      r.version());
}

http::Response WriteResponse(Api& api, const WriteResult& w, const std::string& method) {
  if (!w.ok()) return Refusal(w);
  const int status = SuccessStatus(w, method);
  if (status == 204) {
    http::Response r;
    r.status = 204;
    r.SetHeader("ETag", VersionETag(w.record.version()));
    return r;
  }
  http::Response r = RecordResponse(w.record, status);
  if (status == 201) r.SetHeader("Location", Location(api, w.record));
  return r;
}

// Checks the format, the type and the scope; answers and returns false when one fails.
bool Admit(Api& api, const http::Request& request, const http::Responder& responder,
           const std::string& type, absl::string_view interaction) {
  if (RefuseFormat(request, responder)) return false;
  absl::Status s = CheckType(type);
  if (s.ok()) s = CheckScope(api, request, type, interaction);
  if (!s.ok()) responder.RespondError(s);
  return s.ok();
}

// The version an If-Match header names (0: none). Answers 400 and returns false for a
// malformed one.
bool IfMatch(const http::Request& request, const http::Responder& responder, int64_t* version) {
  *version = 0;
  const std::string* header = request.Header("if-match");
  if (header == nullptr) return true;
  absl::StatusOr<int64_t> v = VersionFromIfMatch(*header);
  if (!v.ok()) {
    responder.RespondError(v.status());
    return false;
  }
  *version = *v;
  return true;
}

// Answers a write once it is in the audit chain (a refused one at once). A write the
// chain cannot record is answered 503; it is durable all the same (the store wrote it
// first, as an import does).
void RespondWrite(Api& api, const http::Request& request, absl::string_view interaction,
                  const WriteResult& w, const std::string& method,
                  const http::Responder& responder) {
  if (!w.ok()) {
    responder.Respond(WriteResponse(api, w, method));
    return;
  }
  const hie::v1::RecordEnvelope& r = w.record;
  RespondAudited(api, request,
                 {{.interaction = std::string(interaction),
                   .resource = absl::StrCat(r.resource_type(), "/", r.resource_id()),
                   .patient = r.patient_local_id()}},
                 responder, WriteResponse(api, w, method));
}

void HandleCreate(Api& api, http::Request request, http::Responder responder) {
  const std::string type = request.params["type"];
  if (!Admit(api, request, responder, type, "create")) return;
  const std::string* if_none_exist = request.Header("if-none-exist");
  std::string condition = if_none_exist != nullptr ? *if_none_exist : "";
  std::string body = std::move(request.body);
  OnWorker(api, responder,
           [&api, responder, type, condition, body = std::move(body),
            request = std::move(request)]() mutable {
             RespondWrite(api, request, "create", api.writes->Create(type, body, condition), "POST",
                          responder);
           });
}

void HandleUpdate(Api& api, http::Request request, http::Responder responder) {
  const std::string type = request.params["type"];
  const std::string id = request.params["id"];
  if (!Admit(api, request, responder, type, "update")) return;
  int64_t version = 0;
  if (!IfMatch(request, responder, &version)) return;
  std::string body = std::move(request.body);
  OnWorker(api, responder,
           [&api, responder, type, id, version, body = std::move(body),
            request = std::move(request)]() mutable {
             RespondWrite(api, request, "update", api.writes->Update(type, id, body, version),
                          "PUT", responder);
           });
}

void HandleDelete(Api& api, http::Request request, http::Responder responder) {
  const std::string type = request.params["type"];
  const std::string id = request.params["id"];
  if (!Admit(api, request, responder, type, "delete")) return;
  int64_t version = 0;
  if (!IfMatch(request, responder, &version)) return;
  OnWorker(api, responder, [&api, responder, type, id, version, request = std::move(request)] {
    WriteResult w = api.writes->Delete(type, id, version);
    if (!w.ok() && absl::IsNotFound(w.status)) {
      w.status = absl::NotFoundError(absl::StrCat(type, "/", id, " is not here"));
    }
    RespondWrite(api, request, "delete", w, "DELETE", responder);
  });
}

// One entry of a transaction-response or batch-response Bundle.
std::string ResponseEntry(Api& api, const EntryResult& e) {
  JsonObject response;
  if (!e.write.ok()) {
    http::Response refusal = Refusal(e.write);
    response.Add("status", absl::StrCat(refusal.status)).AddRaw("outcome", refusal.body);
    return JsonObject().AddRaw("response", response.Build()).Build();
  }
  const hie::v1::RecordEnvelope& r = e.write.record;
  const absl::Time updated = absl::FromUnixNanos(
      google::protobuf::util::TimeUtil::TimestampToNanoseconds(r.last_updated()));
  response.Add("status", StatusLine(SuccessStatus(e.write, e.method)));
  if (e.method != "GET") response.Add("location", Location(api, r));
  response.Add("etag", VersionETag(r.version()));
  if (r.last_updated().seconds() > 0) {
    response.Add("lastModified",
                 absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", updated, absl::UTCTimeZone()));
  }
  JsonObject entry;
  if (e.method != "DELETE" && !r.deleted()) {
    entry.Add("fullUrl", absl::StrCat(api.BaseUrl(), "/", r.resource_type(), "/", r.resource_id()));
    entry.AddRaw("resource", RenderRecord(r));
  }
  return entry.AddRaw("response", response.Build()).Build();
}

void HandleBundle(Api& api, http::Request request, http::Responder responder) {
  if (RefuseFormat(request, responder)) return;
  // Each entry's type and interaction are checked against the token before anything is
  // written (RecordWrites::Bundle asks for each).
  OnWorker(api, responder, [&api, responder, request = std::move(request)] {
    BundleResult result =
        api.writes->Bundle(request.body, [&](const std::string& type, absl::string_view what) {
          return CheckScope(api, request, type, what);
        });
    if (!result.status.ok()) {
      if (!result.problems.empty()) {
        responder.Respond(
            Json(422, OperationOutcomeJson(result.problems), http::kFhirJsonContentType));
      } else {
        responder.RespondError(result.status);
      }
      return;
    }
    // Every entry that did something, in one audit append: a Bundle the chain cannot
    // record is answered 503 (what it wrote is durable all the same).
    std::vector<Touched> touched;
    for (const EntryResult& e : result.entries) {
      if (!e.write.ok()) continue;
      const hie::v1::RecordEnvelope& r = e.write.record;
      touched.push_back({.interaction = e.method == "POST"     ? "create"
                                        : e.method == "PUT"    ? "update"
                                        : e.method == "DELETE" ? "delete"
                                                               : "read",
                         .resource = absl::StrCat(r.resource_type(), "/", r.resource_id()),
                         .patient = r.patient_local_id()});
    }
    std::vector<std::string> entries;
    for (const EntryResult& e : result.entries) entries.push_back(ResponseEntry(api, e));
    RespondAudited(
        api, request, touched, responder,
        Json(200,
             JsonObject()
                 .Add("resourceType", "Bundle")
                 .Add("type", result.transaction ? "transaction-response" : "batch-response")
                 .AddRaw("entry", JsonArray(entries))
                 .Build(),
             http::kFhirJsonContentType));
  });
}

}  // namespace

absl::Status AddWriteRoutes(http::Router& router, Api* api) {
  const http::AccessRule access =
      http::AccessRule::BearerTokenOrClientCertificate("system/", {pki::Role::kNode});
  const size_t max_body = api->state->ingester->options().max_resource_bytes;
  ResourceCapability& every = api->capabilities.resources["Resource"];
  every.interactions.insert(every.interactions.end(), {"create", "update", "delete"});
  every.versioning = "versioned-update";
  every.update_create = true;
  every.conditional_create = api->writes->conditional_create();
  api->capabilities.resources["Bundle"].documentation =
      "A Bundle is not stored as a resource (create and update answer 422): POST a "
      "transaction or batch to the base URL; its entries are stored one by one";
  api->capabilities.system_interactions.insert(api->capabilities.system_interactions.end(),
                                               {"transaction", "batch"});
  absl::Status s = router.Add({.method = "POST",
                               .pattern = "/{type}",
                               .access = access,
                               .audit_kind = "create",
                               .max_body_bytes = max_body,
                               .content_types = kFhirJson,
                               .handler = [api](http::Request request, http::Responder responder) {
                                 HandleCreate(*api, std::move(request), std::move(responder));
                               }});
  if (s.ok()) {
    s = router.Add({.method = "PUT",
                    .pattern = "/{type}/{id}",
                    .access = access,
                    .audit_kind = "update",
                    .max_body_bytes = max_body,
                    .content_types = kFhirJson,
                    .handler = [api](http::Request request, http::Responder responder) {
                      HandleUpdate(*api, std::move(request), std::move(responder));
                    }});
  }
  if (s.ok()) {
    s = router.Add({.method = "DELETE",
                    .pattern = "/{type}/{id}",
                    .access = access,
                    .audit_kind = "delete",
                    .handler = [api](http::Request request, http::Responder responder) {
                      HandleDelete(*api, std::move(request), std::move(responder));
                    }});
  }
  if (s.ok()) {
    s = router.Add({.method = "POST",
                    .pattern = "/",
                    .access = access,
                    .audit_kind = "transaction",
                    .max_body_bytes = max_body,
                    .content_types = kFhirJson,
                    .handler = [api](http::Request request, http::Responder responder) {
                      HandleBundle(*api, std::move(request), std::move(responder));
                    }});
  }
  return s;
}

}  // namespace hie::node
