// The reads: one resource, its versions, and the federated $everything.
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/json/json_writer.h"
#include "common/log/log.h"
#include "google/protobuf/util/time_util.h"
#include "http/status.h"
#include "node/rest/api.h"

namespace hie::node {
namespace {

bool AcceptRead(const Api& api, const http::Request& request, const http::Responder& responder) {
  if (RefuseFormat(request, responder)) return false;
  const std::string& type = request.params.at("type");
  absl::Status s = CheckType(type);
  if (s.ok()) s = CheckScope(api, request, type, "read");
  if (!s.ok()) responder.RespondError(s);
  return s.ok();
}

// A stored version, or 410 if it is the deletion.
http::Response StoredVersion(const hie::v1::RecordEnvelope& record) {
  if (!record.deleted()) return RecordResponse(record);
  http::Response gone = http::ErrorResponse(
      410, absl::StrCat(record.resource_type(), "/", record.resource_id(), " was deleted"));
  gone.SetHeader("ETag", VersionETag(record.version()));
  return gone;
}

void HandleRead(Api& api, http::Request request, http::Responder responder) {
  if (!AcceptRead(api, request, responder)) return;
  const std::string type = request.params["type"];
  const std::string id = request.params["id"];
  OnWorker(api, responder, [&api, responder, type, id, request = std::move(request)] {
    absl::StatusOr<hie::v1::RecordEnvelope> record = api.state->records->Get(type, id);
    if (!record.ok()) {
      responder.RespondError(NotHere(record.status(), type, id));
      return;
    }
    RespondAudited(api, request,
                   {{.interaction = "read",
                     .resource = absl::StrCat(type, "/", id),
                     .patient = record->patient_local_id()}},
                   responder, StoredVersion(*record));
  });
}

void HandleHistory(Api& api, http::Request request, http::Responder responder) {
  if (!AcceptRead(api, request, responder)) return;
  const std::string type = request.params["type"];
  const std::string id = request.params["id"];
  const std::string vid = request.params["vid"];  // "" for the whole history
  OnWorker(api, responder, [&api, responder, type, id, vid, request = std::move(request)] {
    absl::StatusOr<std::vector<hie::v1::RecordEnvelope>> versions =
        api.state->records->History(type, id);
    if (!versions.ok()) {
      responder.RespondError(NotHere(versions.status(), type, id));
      return;
    }
    const std::vector<Touched> touched = {
        {.interaction = vid.empty() ? "history" : "vread",
         .resource = absl::StrCat(type, "/", id, vid.empty() ? "" : "/_history/", vid),
         .patient = versions->back().patient_local_id()}};
    if (!vid.empty()) {
      for (const hie::v1::RecordEnvelope& v : *versions) {
        if (absl::StrCat(v.version()) == vid) {
          RespondAudited(api, request, touched, responder, StoredVersion(v));
          return;
        }
      }
      responder.RespondError(
          absl::NotFoundError(absl::StrCat(type, "/", id, " has no version ", vid)));
      return;
    }
    // Newest first, as FHIR's history is.
    std::vector<std::string> entries;
    // A deletion is an entry with no resource (FHIR history: request.method DELETE);
    // each entry says how its version came to be (request) and what that answered
    // (response, FHIR bdl-4).
    for (auto it = versions->rbegin(); it != versions->rend(); ++it) {
      JsonObject entry;
      entry.Add("fullUrl", absl::StrCat(api.BaseUrl(), "/", type, "/", id));
      if (!it->deleted()) entry.AddRaw("resource", RenderRecord(*it));
      const bool created =
          it->version() == 1 || (it + 1 != versions->rend() && (it + 1)->deleted());
      const char* method = it->deleted() ? "DELETE" : created ? "POST" : "PUT";
      const absl::Time updated = absl::FromUnixNanos(
          google::protobuf::util::TimeUtil::TimestampToNanoseconds(it->last_updated()));
      entries.push_back(
          entry
              .AddRaw(
                  "request",
                  JsonObject()
                      .Add("method", method)
                      .Add("url", it->deleted() || !created ? absl::StrCat(type, "/", id) : type)
                      .Build())
              .AddRaw("response",
                      JsonObject()
                          .Add("status", it->deleted() ? "204 No Content"
                                         : created     ? "201 Created"
                                                       : "200 OK")
                          .Add("etag", VersionETag(it->version()))
                          .Add("lastModified", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", updated,
                                                                absl::UTCTimeZone()))
                          .Build())
              .Build());
    }
    RespondAudited(api, request, touched, responder,
                   Json(200,
                        JsonObject()
                            .Add("resourceType", "Bundle")
                            .Add("type", "history")
                            .Add("total", static_cast<int64_t>(versions->size()))
                            .AddRaw("entry", JsonArray(entries))
                            .Build(),
                        http::kFhirJsonContentType));
  });
}

// One holder that did not answer in full, as the OperationOutcome entry FHIR gives a
// searchset for what it could not do.
std::string HolderOutcomeEntry(const HolderOutcome& h) {
  const char* code = h.state == HolderState::kDenied     ? "forbidden"
                     : h.state == HolderState::kTimedOut ? "timeout"
                     : h.state == HolderState::kFailed   ? "exception"
                                                         : "transient";
  const std::string issue =
      JsonObject()
          .Add("severity", "warning")
          .Add("code", code)
          .Add("diagnostics", absl::StrCat("holder ", h.org_id, ": ", HolderStateName(h.state)))
          .Build();
  return JsonObject()
      .AddRaw("resource", JsonObject()
                              .Add("resourceType", "OperationOutcome")
                              .AddRaw("issue", JsonArray({issue}))
                              .Build())
      .AddRaw("search", JsonObject().Add("mode", "outcome").Build())
      .Build();
}

// Collects one federated query's events and answers with the merged Bundle, each
// holder that did not answer in full as an OperationOutcome entry. Deletes itself.
class EverythingObserver final : public QueryObserver {
 public:
  EverythingObserver(Api* api, http::Responder responder)
      : api_(api), responder_(std::move(responder)) {
    api_->QueryStarted();
  }

  void OnHolderSettled(const HolderOutcome& outcome) override {
    if (outcome.state == HolderState::kOk) return;
    // Why stays in the node's log: a peer's or the store's words are not for a client.
    LogInfo("$everything: holder ", outcome.org_id, " ", HolderStateName(outcome.state), ": ",
            outcome.message);
    outcomes_.push_back(HolderOutcomeEntry(outcome));
  }

  void OnQueryDone(absl::StatusOr<QueryAnswer> answer) override {
    if (!answer.ok()) {
      responder_.RespondError(answer.status());
    } else {
      std::string text;
      while (answer->bundle->Next(size_t{1} << 20, &text)) {
      }
      // The writer's text ends with the entry array's "]}": the outcomes join it.
      if (!outcomes_.empty() && absl::EndsWith(text, "]}")) {
        text.resize(text.size() - 2);
        absl::StrAppend(&text, answer->bundle->entries() > 0 ? ", " : "",
                        absl::StrJoin(outcomes_, ", "), "]}");
      }
      http::Response r = Json(200, std::move(text), http::kFhirJsonContentType);
      if (!answer->withheld_categories.empty()) {
        // What consent withheld, for a client to tell its user (also in the audit).
        r.SetHeader("X-Withheld-Categories", absl::StrJoin(answer->withheld_categories, ","));
      }
      r.SetHeader("X-Query-Id", answer->query_id);
      responder_.Respond(std::move(r));
    }
    Api* api = api_;
    delete this;
    api->QueryDone();  // last: shutdown may free everything once it is counted
  }

 private:
  Api* const api_;
  http::Responder responder_;
  std::vector<std::string> outcomes_;
};

void HandleEverything(Api& api, http::Request request, http::Responder responder) {
  if (RefuseFormat(request, responder)) return;
  // Every type it may return must be allowed: all of them (a scope reading every type),
  // or each type _type names.
  std::vector<std::string> types;
  if (const std::string* type = request.Query("_type")) {
    for (absl::string_view t : absl::StrSplit(*type, ',', absl::SkipEmpty())) {
      types.emplace_back(t);
    }
  }
  if (types.empty()) {
    if (!CheckScope(api, request, "Resource", "read").ok()) {
      responder.RespondError(absl::PermissionDeniedError(
          "$everything without _type needs a scope that reads every type (system/*.read)"));
      return;
    }
  }
  for (const std::string& type : types) {
    if (absl::Status s = CheckType(type); !s.ok()) {
      responder.RespondError(absl::InvalidArgumentError(s.message()));
      return;
    }
    if (absl::Status s = CheckScope(api, request, type, "read"); !s.ok()) {
      responder.RespondError(s);
      return;
    }
  }
  // A federated read is a person's: a certificate alone names no user.
  if (!request.caller.principal.has_value()) {
    responder.RespondError(absl::PermissionDeniedError(
        "a federated read needs a bearer token naming the requesting user and a purpose of use"));
    return;
  }
  const http::Principal& p = *request.caller.principal;
  if (p.user_id.empty() || p.purpose_of_use.empty()) {
    responder.RespondError(absl::PermissionDeniedError(
        "a federated read needs a token naming the requesting user and a purpose of use "
        "(hiectl fhir token --user ID --purpose CODE)"));
    return;
  }
  FederatedQueryRequest query;
  query.local_patient_id = request.params["id"];
  query.purpose = p.purpose_of_use;
  query.user =
      QueryUser{.id = p.user_id, .role = "", .npi = "", .display_name = p.user_display_name};
  query.break_glass_reason = p.reason;
  query.resource_types = types;
  OnWorker(api, responder, [&api, responder, query = std::move(query)]() mutable {
    api.query->Run(std::move(query), new EverythingObserver(&api, responder));
  });
}

}  // namespace

absl::Status AddReadRoutes(http::Router& router, Api* api) {
  const http::AccessRule access =
      http::AccessRule::BearerTokenOrClientCertificate("system/", {pki::Role::kNode});
  ResourceCapability& every = api->capabilities.resources["Resource"];
  every.interactions.insert(every.interactions.end(), {"read", "vread", "history-instance"});
  api->capabilities.resources["Patient"].operations.push_back(
      {.name = "everything",
       .definition = "http://hl7.org/fhir/OperationDefinition/Patient-everything",
       .documentation =
           "GET /Patient/{id}/$everything: the federated record from every practice the "
           "patient's consent allows, for the token's user and purpose of use"});
  absl::Status s = router.Add({.method = "GET",
                               .pattern = "/{type}/{id}",
                               .access = access,
                               .audit_kind = "read",
                               .handler = [api](http::Request request, http::Responder responder) {
                                 HandleRead(*api, std::move(request), std::move(responder));
                               }});
  if (s.ok()) {
    s = router.Add({.method = "GET",
                    .pattern = "/Patient/{id}/$everything",
                    .access = access,
                    .audit_kind = "everything",
                    .handler = [api](http::Request request, http::Responder responder) {
                      HandleEverything(*api, std::move(request), std::move(responder));
                    }});
  }
  for (const char* pattern : {"/{type}/{id}/_history", "/{type}/{id}/_history/{vid}"}) {
    if (!s.ok()) break;
    s = router.Add({.method = "GET",
                    .pattern = pattern,
                    .access = access,
                    .audit_kind = "history",
                    .handler = [api](http::Request request, http::Responder responder) {
                      HandleHistory(*api, std::move(request), std::move(responder));
                    }});
  }
  return s;
}

}  // namespace hie::node
