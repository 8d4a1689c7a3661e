// The reads: one resource, its versions, and the federated $everything.
#include <algorithm>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/fhir/datetime.h"
#include "common/json/json_writer.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"
#include "common/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "http/status.h"
#include "http/target.h"
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

// One version as a history Bundle entry. A deletion is an entry with no resource (FHIR
// history: request.method DELETE); each entry says how its version came to be (request)
// and what that answered (response, FHIR bdl-4). `created`: the version made the record
// (its first, or the first after a deletion).
std::string HistoryEntry(Api& api, const hie::v1::RecordEnvelope& v, bool created) {
  const std::string& type = v.resource_type();
  const std::string& id = v.resource_id();
  JsonObject entry;
  entry.Add("fullUrl", absl::StrCat(api.BaseUrl(), "/", type, "/", id));
  if (!v.deleted()) entry.AddRaw("resource", RenderRecord(v));
  const char* method = v.deleted() ? "DELETE" : created ? "POST" : "PUT";
  const absl::Time updated = absl::FromUnixNanos(
      google::protobuf::util::TimeUtil::TimestampToNanoseconds(v.last_updated()));
  return entry
      .AddRaw("request",
              JsonObject()
                  .Add("method", method)
                  .Add("url", v.deleted() || !created ? absl::StrCat(type, "/", id) : type)
                  .Build())
      .AddRaw("response", JsonObject()
                              .Add("status", StatusLine(v.deleted() ? 204
                                                        : created   ? 201
                                                                    : 200))
                              .Add("etag", VersionETag(v.version()))
                              .Add("lastModified", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", updated,
                                                                    absl::UTCTimeZone()))
                              .Build())
      .Build();
}

// The order of a type's history: newest first, then by id and version, so that a page
// boundary is one point in it.
struct HistoryKey {
  int64_t updated_nanos = 0;
  std::string id;
  int64_t version = 0;
  // True if this comes before `other` in the history (is newer).
  bool Before(const HistoryKey& other) const {
    if (updated_nanos != other.updated_nanos) return updated_nanos > other.updated_nanos;
    if (id != other.id) return id < other.id;
    return version > other.version;
  }
  std::string Cursor() const { return absl::StrCat(updated_nanos, ".", version, ".", id); }
  static std::optional<HistoryKey> FromCursor(absl::string_view text) {
    std::vector<std::string> parts = absl::StrSplit(text, absl::MaxSplits('.', 2));
    HistoryKey key;
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &key.updated_nanos) ||
        !absl::SimpleAtoi(parts[1], &key.version) || parts[2].empty()) {
      return std::nullopt;
    }
    key.id = parts[2];
    return key;
  }
};

HistoryKey KeyOf(const hie::v1::RecordEnvelope& v) {
  return {google::protobuf::util::TimeUtil::TimestampToNanoseconds(v.last_updated()),
          v.resource_id(), v.version()};
}

// GET /{type}/_history[?_count=&_since=]: every version of the type's records, newest
// first, in pages; the next link carries the place the page stopped (_at), so versions
// written while a client pages come on no page twice.
void HandleTypeHistory(Api& api, http::Request request, http::Responder responder) {
  if (!AcceptRead(api, request, responder)) return;
  const std::string type = request.params["type"];
  int64_t count = 100;
  std::optional<absl::Time> since;
  std::optional<HistoryKey> at;
  for (const http::QueryParam& p : request.query) {
    absl::Status bad;
    if (p.name == "_count") {
      if (!absl::SimpleAtoi(p.value, &count) || count < 1) {
        bad = absl::InvalidArgumentError("_count must be a number of 1 or more");
      }
      count = std::min<int64_t>(count, 1000);
    } else if (p.name == "_since") {
      absl::StatusOr<fhir::TimeRange> t = fhir::ParseDateTime(p.value);
      if (t.ok()) {
        since = t->begin;
      } else {
        bad = absl::InvalidArgumentError(
            absl::StrCat("_since must be a FHIR instant: ", t.status().message()));
      }
    } else if (p.name == "_at") {
      at = HistoryKey::FromCursor(p.value);
      if (!at) bad = absl::InvalidArgumentError("_at must be the value a next link gives");
    } else if (p.name != "_format") {
      bad = absl::InvalidArgumentError(
          absl::StrCat("\"", p.name, "\" is not a parameter of history (_count, _since)"));
    }
    if (!bad.ok()) {
      responder.RespondError(bad);
      return;
    }
  }
  OnWorker(api, responder, [&api, responder, type, count, since, at, request = std::move(request)] {
    // The newest `count` + 1 versions after `at` (one more tells whether a next page is
    // due), held in a heap whose top is the oldest kept: memory is bounded by the page.
    auto newer = [](const hie::v1::RecordEnvelope& a, const hie::v1::RecordEnvelope& b) {
      return KeyOf(a).Before(KeyOf(b));
    };
    std::vector<hie::v1::RecordEnvelope> kept;
    const size_t want = static_cast<size_t>(count) + 1;
    absl::Status s =
        api.state->records->ForTypeHistory(type, [&](const hie::v1::RecordEnvelope& v) {
          if (since && absl::FromUnixNanos(KeyOf(v).updated_nanos) < *since) return true;
          if (at && !at->Before(KeyOf(v))) return true;
          if (kept.size() == want && !newer(v, kept.front())) return true;
          kept.push_back(v);
          std::push_heap(kept.begin(), kept.end(), newer);
          if (kept.size() > want) {
            std::pop_heap(kept.begin(), kept.end(), newer);
            kept.pop_back();
          }
          return true;
        });
    if (!s.ok()) {
      responder.RespondError(s);
      return;
    }
    std::sort(kept.begin(), kept.end(), newer);
    const bool more = kept.size() > static_cast<size_t>(count);
    if (more) kept.resize(static_cast<size_t>(count));
    std::vector<std::string> entries;
    std::vector<Touched> touched;
    absl::flat_hash_set<std::string> patients;
    for (const hie::v1::RecordEnvelope& v : kept) {
      entries.push_back(HistoryEntry(api, v, v.version() == 1));
      if (patients.insert(v.patient_local_id()).second) {
        touched.push_back(
            {.interaction = "history", .resource = type, .patient = v.patient_local_id()});
      }
    }
    if (touched.empty())
      touched.push_back({.interaction = "history", .resource = type, .patient = ""});
    std::vector<std::pair<std::string, std::string>> params = {{"_count", absl::StrCat(count)}};
    if (since) params.emplace_back("_since", fhir::FormatInstant(*since));
    JsonObject bundle;
    bundle.Add("resourceType", "Bundle").Add("type", "history");
    const std::string base = absl::StrCat(api.BaseUrl(), "/", type, "/_history");
    const std::string self = http::SearchUrl(base, params);
    std::string next;
    if (more) {
      params.emplace_back("_at", KeyOf(kept.back()).Cursor());
      next = http::SearchUrl(base, params);
    }
    bundle.AddRaw("link", PageLinks(self, next));
    if (!entries.empty()) bundle.AddRaw("entry", JsonArray(entries));
    RespondAudited(api, request, touched, responder,
                   Json(200, bundle.Build(), http::kFhirJsonContentType));
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
    for (auto it = versions->rbegin(); it != versions->rend(); ++it) {
      const bool created =
          it->version() == 1 || (it + 1 != versions->rend() && (it + 1)->deleted());
      entries.push_back(HistoryEntry(api, *it, created));
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

// ---- $everything: the federated query, its answer given in pages.

constexpr int64_t kDefaultEverythingCount = 500;
constexpr int64_t kMaxEverythingCount = 1000;

// What one $everything request asks: a new query, or (with _page) a page of the kept
// answer of one that ran.
struct EverythingParams {
  std::vector<std::string> types;  // _type
  int64_t count = kDefaultEverythingCount;
  std::string page_token;  // _page
  int64_t offset = 0;      // _offset
};

absl::StatusOr<EverythingParams> ParseEverything(const http::Request& request) {
  EverythingParams params;
  auto number = [](const http::QueryParam& p, int64_t* out) {
    if (!absl::SimpleAtoi(p.value, out) || *out < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(p.name, "=", p.value, ": a number (0 or more) is expected"));
    }
    return absl::OkStatus();
  };
  bool offset_given = false;
  for (const http::QueryParam& p : request.query) {
    if (p.name == "_type") {
      for (absl::string_view t : absl::StrSplit(p.value, ',', absl::SkipEmpty())) {
        params.types.emplace_back(t);
      }
    } else if (p.name == "_count") {
      HIE_RETURN_IF_ERROR(number(p, &params.count));
      // FHIR lets a server give fewer than asked.
      params.count = std::min(params.count, kMaxEverythingCount);
    } else if (p.name == "_page") {
      if (p.value.empty()) return absl::InvalidArgumentError("_page is empty");
      params.page_token = p.value;
    } else if (p.name == "_offset") {
      HIE_RETURN_IF_ERROR(number(p, &params.offset));
      offset_given = true;
    }
  }
  if (offset_given && params.page_token.empty()) {
    return absl::InvalidArgumentError("_offset is for a page of a kept answer: give _page too");
  }
  if (!params.page_token.empty() && !params.types.empty()) {
    return absl::InvalidArgumentError(
        "_type narrows a new query; a page (_page) is of the answer as it was asked");
  }
  return params;
}

// Every type the answer may hold must be readable with the caller's token: all of them
// (a scope reading every type), or each type of `types`.
absl::Status CheckEverythingScope(const Api& api, const http::Request& request,
                                  const std::vector<std::string>& types) {
  if (types.empty() && !CheckScope(api, request, "Resource", "read").ok()) {
    return absl::PermissionDeniedError(
        "$everything without _type needs a scope that reads every type (system/*.read)");
  }
  for (const std::string& type : types) {
    if (absl::Status s = CheckType(type); !s.ok()) {
      return absl::InvalidArgumentError(s.message());
    }
    HIE_RETURN_IF_ERROR(CheckScope(api, request, type, "read"));
  }
  return absl::OkStatus();
}

// Who asks a federated read: a person, named by a token with a purpose of use (a
// certificate alone names no user). The pages of an answer are for the same client,
// user and purpose, about the same patient: the string returned names them.
absl::StatusOr<std::string> FederatedRequester(const http::Request& request) {
  if (!request.caller.principal.has_value()) {
    return absl::PermissionDeniedError(
        "a federated read needs a bearer token naming the requesting user and a purpose of use");
  }
  const http::Principal& p = *request.caller.principal;
  if (p.user_id.empty() || p.purpose_of_use.empty()) {
    return absl::PermissionDeniedError(
        "a federated read needs a token naming the requesting user and a purpose of use "
        "(hiectl fhir token --user ID --purpose CODE)");
  }
  return absl::StrCat(p.client_id, "\n", p.user_id, "\n", p.purpose_of_use, "\n",
                      request.params.at("id"));
}

// An OperationOutcome entry of the searchset (search.mode outcome) with one issue.
std::string OutcomeEntry(absl::string_view severity, absl::string_view code,
                         absl::string_view details, absl::string_view diagnostics) {
  JsonObject issue;
  issue.Add("severity", severity).Add("code", code);
  if (!details.empty()) issue.AddRaw("details", JsonObject().Add("text", details).Build());
  issue.Add("diagnostics", diagnostics);
  return JsonObject()
      .AddRaw("resource", JsonObject()
                              .Add("resourceType", "OperationOutcome")
                              .AddRaw("issue", JsonArray({issue.Build()}))
                              .Build())
      .AddRaw("search", JsonObject().Add("mode", "outcome").Build())
      .Build();
}

// One holder that did not answer in full: what FHIR gives a searchset for what it could
// not do.
std::string HolderOutcomeEntry(const HolderOutcome& h) {
  const char* code = h.state == HolderState::kDenied     ? "forbidden"
                     : h.state == HolderState::kTimedOut ? "timeout"
                     : h.state == HolderState::kFailed   ? "exception"
                                                         : "transient";
  return OutcomeEntry("warning", code, "",
                      absl::StrCat("holder ", h.org_id, ": ", HolderStateName(h.state)));
}

// The sensitivity categories the consent decision withheld at every holder. Whether
// any record was in fact withheld is not said: that a holder has such records is
// itself what the patient's consent protects.
std::string WithheldEntry(const std::vector<std::string>& categories) {
  const std::string list = absl::StrJoin(categories, ", ");
  return OutcomeEntry(
      "information", "suppressed", absl::StrCat("withheld by consent: ", list),
      absl::StrCat("The patient's consent and the exchange's policy withhold records in these "
                   "sensitivity categories from this requester: ",
                   list,
                   ". Records of these kinds, wherever they are held, are not in this answer: "
                   "records may exist that this requester may not see."));
}

// One page of a query's answer, and how to name it and the next.
struct PageSpec {
  std::string assembler;  // this node's organisation
  std::string url;        // the base URL and the request's path
  std::vector<std::pair<std::string, std::string>> self_params;
  std::string token;  // the kept answer's; "" when it is not kept (no next page)
  int64_t offset = 0;
  int64_t count = 0;
  // The answer could not be kept for paging, so this page is all of it.
  bool not_kept = false;
};

// The page as a searchset Bundle: the merged entries [offset, offset + count), a
// Provenance per organisation they came from, and on the first page the outcomes (every
// holder that did not answer in full, the withheld categories).
http::Response EverythingPage(KeptAnswer& kept, const PageSpec& spec) {
  absl::MutexLock lock(&kept.mu);
  BundleWriter& bundle = *kept.answer.bundle;
  BundlePage page;
  page.begin = std::min(spec.offset, bundle.entries());
  page.end = std::min(bundle.entries(), page.begin + spec.count);
  page.links.push_back({"self", http::SearchUrl(spec.url, spec.self_params)});
  if (!spec.token.empty() && spec.count > 0 && page.end < bundle.entries()) {
    page.links.push_back(
        {"next", http::SearchUrl(spec.url, {{"_page", spec.token},
                                            {"_offset", absl::StrCat(page.end)},
                                            {"_count", absl::StrCat(spec.count)}})});
  }
  page.more_entries = ProvenanceEntries(bundle, page.begin, page.end, kept.answer.completed_at,
                                        kept.answer.query_id, spec.assembler);
  if (page.begin == 0) {
    for (const HolderOutcome& h : kept.holders) {
      if (h.state != HolderState::kOk) page.more_entries.push_back(HolderOutcomeEntry(h));
    }
    if (!kept.answer.withheld_categories.empty()) {
      page.more_entries.push_back(WithheldEntry(kept.answer.withheld_categories));
    }
    if (spec.not_kept) {
      page.more_entries.push_back(OutcomeEntry(
          "information", "informational", "",
          "The node keeps as many answers for paging as it can hold now: this answer is given "
          "whole, in one page."));
    }
  }
  bundle.SelectPage(std::move(page));
  std::string text;
  while (bundle.Next(size_t{1} << 20, &text)) {
  }
  http::Response r = Json(200, std::move(text), http::kFhirJsonContentType);
  if (!kept.answer.withheld_categories.empty()) {
    r.SetHeader("X-Withheld-Categories", absl::StrJoin(kept.answer.withheld_categories, ","));
  }
  r.SetHeader("X-Query-Id", kept.answer.query_id);
  return r;
}

// Collects one federated query's events and answers with the first page of its answer,
// keeping the answer for the next pages when there are more. Deletes itself.
class EverythingObserver final : public QueryObserver {
 public:
  EverythingObserver(Api* api, std::shared_ptr<KeptAnswers> kept, std::string requester,
                     FederatedQueryRequest request, PageSpec first_page, http::Responder responder)
      : api_(api),
        kept_(std::move(kept)),
        requester_(std::move(requester)),
        request_(std::move(request)),
        first_page_(std::move(first_page)),
        responder_(std::move(responder)) {
    api_->QueryStarted();
  }

  void OnHolderSettled(const HolderOutcome& outcome) override {
    if (outcome.state != HolderState::kOk) {
      // Why stays in the node's log: a peer's or the store's words are not for a client.
      LogInfo("$everything: holder ", outcome.org_id, " ", HolderStateName(outcome.state), ": ",
              outcome.message);
    }
    holders_.push_back(outcome);
  }

  void OnQueryDone(absl::StatusOr<QueryAnswer> answer) override {
    if (!answer.ok()) {
      responder_.RespondError(answer.status());
    } else {
      auto kept = std::make_shared<KeptAnswer>();
      kept->request = std::move(request_);
      kept->holders = std::move(holders_);
      kept->answer = *std::move(answer);
      const int64_t entries = kept->answer.bundle->entries();
      if (first_page_.count > 0 && entries > first_page_.count) {
        absl::StatusOr<std::string> token = kept_->Keep(requester_, kept);
        if (token.ok()) {
          first_page_.token = *std::move(token);
        } else {
          // Refused rather than grown without bound: the query ran and every holder
          // disclosed, so the answer is given whole rather than lost.
          LogWarning("$everything: answer of query ", kept->answer.query_id,
                     " not kept for paging: ", token.status().message());
          first_page_.not_kept = true;
          first_page_.count = entries;
        }
      }
      responder_.Respond(EverythingPage(*kept, first_page_));
    }
    Api* api = api_;
    delete this;
    api->QueryDone();  // last: shutdown may free everything once it is counted
  }

 private:
  Api* const api_;
  const std::shared_ptr<KeptAnswers> kept_;
  const std::string requester_;
  FederatedQueryRequest request_;
  PageSpec first_page_;
  http::Responder responder_;
  std::vector<HolderOutcome> holders_;
};

// A later page: read from the kept answer, for its requester only; no new query, consent
// decision or audit entry.
void HandleEverythingPage(Api& api, KeptAnswers& kept, const http::Request& request,
                          const http::Responder& responder, const EverythingParams& params) {
  absl::StatusOr<std::string> requester = FederatedRequester(request);
  if (!requester.ok()) {
    responder.RespondError(requester.status());
    return;
  }
  absl::StatusOr<std::shared_ptr<KeptAnswer>> answer = kept.Find(params.page_token, *requester);
  if (!answer.ok()) {
    responder.RespondError(answer.status());
    return;
  }
  if (absl::Status s = CheckEverythingScope(api, request, (*answer)->request.resource_types);
      !s.ok()) {
    responder.RespondError(s);
    return;
  }
  const int64_t entries = (*answer)->answer.bundle->entries();
  if (params.offset > entries) {
    responder.RespondError(absl::InvalidArgumentError(
        absl::StrCat("_offset ", params.offset, " is past the answer's ", entries, " entries")));
    return;
  }
  PageSpec spec;
  spec.assembler = api.state->own_org;
  spec.url = absl::StrCat(api.BaseUrl(), request.path);
  spec.self_params = {{"_page", params.page_token},
                      {"_offset", absl::StrCat(params.offset)},
                      {"_count", absl::StrCat(params.count)}};
  spec.token = params.page_token;
  spec.offset = params.offset;
  spec.count = params.count;
  OnWorker(api, responder, [responder, answer = *std::move(answer), spec = std::move(spec)] {
    responder.Respond(EverythingPage(*answer, spec));
  });
}

void HandleEverything(Api& api, const std::shared_ptr<KeptAnswers>& kept, http::Request request,
                      http::Responder responder) {
  if (RefuseFormat(request, responder)) return;
  absl::StatusOr<EverythingParams> params = ParseEverything(request);
  if (!params.ok()) {
    responder.RespondError(params.status());
    return;
  }
  if (!params->page_token.empty()) {
    HandleEverythingPage(api, *kept, request, responder, *params);
    return;
  }
  absl::Status s = CheckEverythingScope(api, request, params->types);
  absl::StatusOr<std::string> requester =
      s.ok() ? FederatedRequester(request) : absl::StatusOr<std::string>(s);
  if (!requester.ok()) {
    responder.RespondError(requester.status());
    return;
  }
  const http::Principal& p = *request.caller.principal;
  FederatedQueryRequest query;
  query.local_patient_id = request.params["id"];
  query.purpose = p.purpose_of_use;
  query.user =
      QueryUser{.id = p.user_id, .role = "", .npi = "", .display_name = p.user_display_name};
  query.break_glass_reason = p.reason;
  query.resource_types = params->types;
  PageSpec first;
  first.assembler = api.state->own_org;
  first.url = absl::StrCat(api.BaseUrl(), request.path);
  first.count = params->count;
  if (!params->types.empty()) {
    first.self_params.push_back({"_type", absl::StrJoin(params->types, ",")});
  }
  first.self_params.push_back({"_count", absl::StrCat(params->count)});
  OnWorker(api, responder,
           [&api, kept, responder, requester = *std::move(requester), query = std::move(query),
            first = std::move(first)]() mutable {
             FederatedQueryRequest asked = query;
             api.query->Run(std::move(query),
                            new EverythingObserver(&api, kept, std::move(requester),
                                                   std::move(asked), std::move(first), responder));
           });
}

}  // namespace

absl::Status AddReadRoutes(http::Router& router, Api* api) {
  const http::AccessRule access =
      http::AccessRule::BearerTokenOrClientCertificate("system/", {pki::Role::kNode});
  ResourceCapability& every = api->capabilities.resources["Resource"];
  every.interactions.insert(every.interactions.end(),
                            {"read", "vread", "history-instance", "history-type"});
  api->capabilities.resources["Patient"].operations.push_back(
      {.name = "everything",
       .definition = "http://hl7.org/fhir/OperationDefinition/Patient-everything",
       .documentation =
           "GET /Patient/{id}/$everything: the federated record from every practice the "
           "patient's consent allows, for the token's user and purpose of use; _type narrows "
           "it, _count (default 500, at most 1000) pages it"});
  absl::Status s = router.Add({.method = "GET",
                               .pattern = "/{type}/{id}",
                               .access = access,
                               .audit_kind = "read",
                               .handler = [api](http::Request request, http::Responder responder) {
                                 HandleRead(*api, std::move(request), std::move(responder));
                               }});
  if (s.ok()) {
    // The answers kept for their next pages live as long as the route (and any query or
    // page still being answered): the server going frees them.
    auto kept = std::make_shared<KeptAnswers>(KeptAnswersOptions(), Clock::Real());
    s = router.Add({.method = "GET",
                    .pattern = "/Patient/{id}/$everything",
                    .access = access,
                    .audit_kind = "everything",
                    .handler = [api, kept](http::Request request, http::Responder responder) {
                      HandleEverything(*api, kept, std::move(request), std::move(responder));
                    }});
  }
  if (s.ok()) {
    s = router.Add({.method = "GET",
                    .pattern = "/{type}/_history",
                    .access = access,
                    .audit_kind = "history",
                    .handler = [api](http::Request request, http::Responder responder) {
                      HandleTypeHistory(*api, std::move(request), std::move(responder));
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
