#include "node/domain/merge.h"

#include <algorithm>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/crypto/hash.h"
#include "common/fhir/datetime.h"
#include "common/json/json_writer.h"
#include "node/domain/disclosure.h"
#include "simdjson.h"

namespace hie::node {
namespace {

// "system|code" of the first coding of the element that says what the record is.
std::string FactKey(const hie::v1::RecordEnvelope& r, simdjson::dom::parser& parser) {
  static constexpr const char* kCodeFields[] = {"code", "vaccineCode", "medicationCodeableConcept"};
  simdjson::dom::element resource;
  if (parser.parse(r.fhir_json()).get(resource)) return "";
  std::string code;
  for (const char* field : kCodeFields) {
    std::string_view system, value;
    auto coding = resource[field]["coding"].at(0);
    if (!coding["code"].get_string().get(value)) {
      if (coding["system"].get_string().get(system)) system = "";
      code = absl::StrCat(field, "=", std::string(system), "|", std::string(value));
      break;
    }
  }
  if (code.empty()) return "";
  std::optional<absl::Time> date = ClinicalDate(resource);
  if (!date) return "";
  std::string value;
  double number;
  std::string_view unit;
  if (!resource["valueQuantity"]["value"].get_double().get(number)) {
    if (resource["valueQuantity"]["unit"].get_string().get(unit)) unit = "";
    value = absl::StrCat(number, std::string(unit));
  }
  return absl::StrCat(r.resource_type(), "#", code, "#", absl::FormatTime(*date), "#", value);
}

bool LooksLikeUuid(const std::string& id) {
  return id.size() == 36 && id[8] == '-' && id[13] == '-' && id[18] == '-' && id[23] == '-';
}

// Appends to `out` the resource with its first source as meta.source (replacing the
// one it had: where the exchange got it is what a reader of the answer needs) and one
// source-org tag per source added to its meta.
void AppendTagged(const std::string& json,
                  const std::vector<const hie::v1::RecordEnvelope*>& sources,
                  simdjson::dom::parser& parser, std::string* out_json) {
  simdjson::dom::element resource;
  if (parser.parse(json).get(resource)) {
    *out_json += json;
    return;
  }
  std::vector<std::string> meta_members;
  std::vector<std::string> tags;
  simdjson::dom::object meta;
  if (!resource["meta"].get_object().get(meta)) {
    for (auto field : meta) {
      if (field.key == "tag") {
        simdjson::dom::array existing;
        if (!field.value.get_array().get(existing)) {
          for (auto t : existing) tags.push_back(simdjson::minify(t));
        }
        continue;
      }
      if (field.key == "source") continue;
      meta_members.push_back(
          absl::StrCat(JsonQuote(std::string(field.key)), ":", simdjson::minify(field.value)));
    }
  }
  for (const auto* s : sources) {
    std::string updated = fhir::FormatInstant(absl::FromUnixSeconds(s->last_updated().seconds()));
    tags.push_back(JsonObject()
                       .Add("system", kSourceOrgSystem)
                       .Add("code", s->source_org())
                       .Add("display", absl::StrCat(s->source_org(), ", updated ", updated))
                       .Build());
  }
  meta_members.push_back(
      absl::StrCat("\"source\":", JsonQuote(SourceOrgUri(sources.front()->source_org()))));
  meta_members.push_back(absl::StrCat("\"tag\":[", absl::StrJoin(tags, ","), "]"));
  std::string meta_json = absl::StrCat("{", absl::StrJoin(meta_members, ","), "}");
  // Re-emitted from the one parse: every member as it was, meta replaced (or added
  // after id, where FHIR puts it).
  simdjson::dom::object object;
  if (resource.get_object().get(object)) {
    *out_json += json;
    return;
  }
  std::string& out = *out_json;
  out += "{";
  bool has_meta = false;
  for (auto field : object) has_meta = has_meta || field.key == "meta";
  bool first = true;
  auto append = [&](std::string_view key, const std::string& value) {
    if (!first) out += ",";
    first = false;
    absl::StrAppend(&out, JsonQuote(std::string(key)), ":", value);
  };
  for (auto field : object) {
    if (field.key == "meta") {
      append(field.key, meta_json);
      continue;
    }
    append(field.key, simdjson::minify(field.value));
    if (!has_meta && field.key == "id") {
      append("meta", meta_json);
      has_meta = true;
    }
  }
  if (!has_meta) append("meta", meta_json);
  out += "}";
}

}  // namespace

BundleWriter::BundleWriter(std::vector<hie::v1::RecordEnvelope> records)
    : records_(std::move(records)) {
  std::sort(records_.begin(), records_.end(), [](const auto& a, const auto& b) {
    return std::tie(a.resource_type(), a.source_org(), a.resource_id()) <
           std::tie(b.resource_type(), b.source_org(), b.resource_id());
  });
  // Group: first by content, then by clinical fact (across sources only).
  absl::flat_hash_map<std::string, size_t> by_content, by_fact;
  for (const auto& r : records_) {
    record_bytes_ += r.fhir_json().size();
    simdjson::dom::object object;
    if (parser_.parse(r.fhir_json()).get_object().get(object)) {
      ++unreadable_;
      continue;
    }
    std::string content_key = absl::StrCat(r.resource_type(), "#", r.content_sha256());
    auto it = by_content.find(content_key);
    std::string fact =
        it == by_content.end() && r.resource_type() != "Patient" ? FactKey(r, parser_) : "";
    auto fact_it = fact.empty() ? by_fact.end() : by_fact.find(fact);
    size_t group;
    if (it != by_content.end()) {
      group = it->second;
    } else if (fact_it != by_fact.end() &&
               groups_[fact_it->second].front()->source_org() != r.source_org()) {
      group = fact_it->second;
    } else {
      group = groups_.size();
      groups_.emplace_back();
      by_content.emplace(content_key, group);
      if (!fact.empty()) by_fact.emplace(fact, group);
    }
    if (!groups_[group].empty()) ++duplicates_folded_;
    groups_[group].push_back(&r);
  }
  // Each entry's fullUrl, unique in the Bundle: two records with one UUID id (the same
  // resource in two versions, or a clash) must not name each other's entry.
  absl::flat_hash_set<std::string> used;
  // The next suffix to try after each `own`: a holder sending many records under one id
  // costs one try each, not a walk from -2 every time.
  absl::flat_hash_map<std::string, int> next_suffix;
  full_urls_.reserve(groups_.size());
  for (const auto& group : groups_) {
    const hie::v1::RecordEnvelope& first = *group.front();
    const std::string own = absl::StrCat("urn:hie:", first.source_org(), ":", first.resource_type(),
                                         "/", first.resource_id());
    std::string url =
        LooksLikeUuid(first.resource_id()) ? absl::StrCat("urn:uuid:", first.resource_id()) : own;
    if (!used.insert(url).second) {
      url = own;
      for (int& n = next_suffix.try_emplace(own, 2).first->second; !used.insert(url).second; ++n) {
        url = absl::StrCat(own, "-", n);
      }
    }
    full_urls_.push_back(std::move(url));
  }
  page_.end = entries();
}

std::vector<std::string> BundleWriter::sources(int64_t i) const {
  std::vector<std::string> orgs;
  for (const hie::v1::RecordEnvelope* r : groups_[i]) {
    if (std::find(orgs.begin(), orgs.end(), r->source_org()) == orgs.end()) {
      orgs.push_back(r->source_org());
    }
  }
  return orgs;
}

void BundleWriter::SelectPage(BundlePage page) {
  page.begin = std::clamp<int64_t>(page.begin, 0, entries());
  page.end = std::clamp<int64_t>(page.end, page.begin, entries());
  page_ = std::move(page);
  next_group_ = -1;
  next_more_ = 0;
  first_entry_ = true;
  closed_ = false;
  std::string().swap(pending_);
  pending_offset_ = 0;
  written_ = 0;
}

bool BundleWriter::Render() {
  pending_.clear();
  pending_offset_ = 0;
  if (closed_) return false;
  if (next_group_ < 0) {
    JsonObject head;
    head.Add("resourceType", "Bundle").Add("type", "searchset").Add("total", entries());
    if (!page_.links.empty()) {
      std::vector<std::string> links;
      for (const BundleLink& link : page_.links) {
        links.push_back(JsonObject().Add("relation", link.relation).Add("url", link.url).Build());
      }
      head.AddRaw("link", JsonArray(links));
    }
    next_group_ = page_.begin;
    if (page_.begin == page_.end && page_.more_entries.empty()) {
      pending_ = head.Build();
      closed_ = true;
      return true;
    }
    // The members as JsonObject writes them, the entry array left open.
    pending_ = head.AddRaw("entry", "[").Build();
    pending_.pop_back();  // the object's closing brace
    return true;
  }
  const char* separator = first_entry_ ? "" : ", ";
  first_entry_ = false;
  if (next_group_ < page_.end) {
    const auto& group = groups_[next_group_];
    // Written straight into pending_ (the layout JsonObject gives): an entry can be tens
    // of megabytes, and every intermediate copy of it would count in the peak.
    absl::StrAppend(&pending_, separator, "{", JsonQuote("fullUrl"), ": ",
                    JsonQuote(full_urls_[next_group_]), ", ", JsonQuote("resource"), ": ");
    AppendTagged(group.front()->fhir_json(), group, parser_, &pending_);
    absl::StrAppend(&pending_, ", ", JsonQuote("search"), ": ",
                    JsonObject().Add("mode", "match").Build(), "}");
    ++next_group_;
    return true;
  }
  if (next_more_ < page_.more_entries.size()) {
    absl::StrAppend(&pending_, separator, page_.more_entries[next_more_]);
    ++next_more_;
    return true;
  }
  pending_ = "]}";
  closed_ = true;
  return true;
}

bool BundleWriter::Next(size_t max_bytes, std::string* out) {
  size_t added = 0;
  while (added < max_bytes) {
    if (pending_offset_ == pending_.size() && !Render()) break;
    size_t take = std::min(max_bytes - added, pending_.size() - pending_offset_);
    out->append(pending_, pending_offset_, take);
    pending_offset_ += take;
    added += take;
  }
  if (pending_offset_ == pending_.size()) {  // let go of a large entry at once
    std::string().swap(pending_);
    pending_offset_ = 0;
  }
  written_ += static_cast<int64_t>(added);
  return added > 0;
}

void SkippedRecords::Add(const hie::v1::RecordEnvelope& record) {
  ++count;
  if (references.size() < kMaxSkippedNamed) {
    references.push_back(absl::StrCat(record.resource_type(), "/", record.resource_id()));
  }
}

void SkippedRecords::Add(int64_t more, const std::vector<std::string>& names) {
  count += more;
  for (const auto& name : names) {
    if (references.size() >= kMaxSkippedNamed) break;
    references.push_back(name);
  }
}

void LeaveOutLarger(std::vector<hie::v1::RecordEnvelope>* records, size_t max_bytes,
                    SkippedRecords* skipped) {
  records->erase(std::remove_if(records->begin(), records->end(),
                                [&](const hie::v1::RecordEnvelope& r) {
                                  if (r.fhir_json().size() <= max_bytes) return false;
                                  skipped->Add(r);
                                  return true;
                                }),
                 records->end());
}

MergedBundle MergeRecords(std::vector<hie::v1::RecordEnvelope> records) {
  BundleWriter writer(std::move(records));
  MergedBundle merged;
  merged.entries = writer.entries();
  merged.duplicates_folded = writer.duplicates_folded();
  merged.unreadable = writer.unreadable();
  while (writer.Next(size_t{1} << 20, &merged.bundle_json)) {
  }
  return merged;
}

std::string SourceOrgUri(absl::string_view org) { return absl::StrCat("urn:hie:org:", org); }

namespace {

// A UUID (version 8: made by us, from a hash) naming `name` the same way every time.
std::string NameUuid(absl::string_view name) {
  std::string hex = crypto::Sha256Hex(name).substr(0, 32);
  hex[12] = '8';
  hex[16] = "89ab"[hex[16] % 4];
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-",
                      hex.substr(16, 4), "-", hex.substr(20, 12));
}

}  // namespace

std::vector<std::string> ProvenanceEntries(const BundleWriter& bundle, int64_t begin, int64_t end,
                                           absl::Time recorded, absl::string_view query_id,
                                           absl::string_view assembler) {
  begin = std::clamp<int64_t>(begin, 0, bundle.entries());
  end = std::clamp<int64_t>(end, begin, bundle.entries());
  // Each organisation's targets, in the order the organisations first appear.
  std::vector<std::pair<std::string, std::vector<std::string>>> by_org;
  for (int64_t i = begin; i < end; ++i) {
    for (const std::string& org : bundle.sources(i)) {
      auto it =
          std::find_if(by_org.begin(), by_org.end(), [&](const auto& o) { return o.first == org; });
      if (it == by_org.end()) it = by_org.insert(by_org.end(), {org, {}});
      it->second.push_back(JsonObject().Add("reference", bundle.full_url(i)).Build());
    }
  }
  const std::string when = fhir::FormatInstant(recorded);
  const std::string custodian =
      JsonObject()
          .AddRaw("coding", JsonArray({JsonObject()
                                           .Add("system",
                                                "http://terminology.hl7.org/CodeSystem/"
                                                "provenance-participant-type")
                                           .Add("code", "custodian")
                                           .Add("display", "Custodian")
                                           .Build()}))
          .Build();
  const std::string query =
      JsonObject()
          .Add("role", "source")
          .AddRaw("what", JsonObject()
                              .AddRaw("identifier", JsonObject()
                                                        .Add("system", kQueryIdentifierSystem)
                                                        .Add("value", query_id)
                                                        .Build())
                              .Add("display", absl::StrCat("federated query ", query_id))
                              .Build())
          .Build();
  const std::string meta =
      JsonObject()
          .Add("source", SourceOrgUri(assembler))
          .AddRaw("tag",
                  JsonArray({JsonObject()
                                 .Add("system", kSourceOrgSystem)
                                 .Add("code", assembler)
                                 .Add("display", absl::StrCat(assembler, ", assembled ", when))
                                 .Build()}))
          .Build();
  std::vector<std::string> entries;
  for (const auto& [org, targets] : by_org) {
    const std::string who =
        JsonObject()
            .AddRaw("identifier",
                    JsonObject().Add("system", kOrgIdentifierSystem).Add("value", org).Build())
            .Add("display", org)
            .Build();
    const std::string provenance =
        JsonObject()
            .Add("resourceType", "Provenance")
            .AddRaw("meta", meta)
            .AddRaw("target", JsonArray(targets))
            .Add("recorded", when)
            .AddRaw("agent",
                    JsonArray({JsonObject().AddRaw("type", custodian).AddRaw("who", who).Build()}))
            .AddRaw("entity", JsonArray({query}))
            .Build();
    entries.push_back(
        JsonObject()
            .Add("fullUrl",
                 absl::StrCat("urn:uuid:",
                              NameUuid(absl::StrCat(query_id, "\n", org, "\n", begin, "\n", end))))
            .AddRaw("resource", provenance)
            .AddRaw("search", JsonObject().Add("mode", "include").Build())
            .Build());
  }
  return entries;
}

}  // namespace hie::node
