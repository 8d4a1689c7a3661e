#include "node/domain/merge.h"

#include <algorithm>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

// Appends to `out` the resource with one source-org tag per source added to its meta.
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
}

bool BundleWriter::Render() {
  pending_.clear();
  pending_offset_ = 0;
  if (closed_) return false;
  if (next_group_ < 0) {
    // The members as JsonObject writes them, the entry array left open.
    std::string head = JsonObject()
                           .Add("resourceType", "Bundle")
                           .Add("type", "searchset")
                           .Add("total", entries())
                           .AddRaw("entry", "[")
                           .Build();
    head.pop_back();  // the object's closing brace
    pending_ = std::move(head);
    next_group_ = 0;
    return true;
  }
  if (next_group_ == static_cast<int64_t>(groups_.size())) {
    pending_ = "]}";
    closed_ = true;
    return true;
  }
  const auto& group = groups_[next_group_];
  const hie::v1::RecordEnvelope& first = *group.front();
  std::string full_url = LooksLikeUuid(first.resource_id())
                             ? absl::StrCat("urn:uuid:", first.resource_id())
                             : absl::StrCat("urn:hie:", first.source_org(), ":",
                                            first.resource_type(), "/", first.resource_id());
  // Written straight into pending_ (the layout JsonObject gives): an entry can be tens of
  // megabytes, and every intermediate copy of it would count in the peak.
  absl::StrAppend(&pending_, next_group_ > 0 ? ", " : "", "{", JsonQuote("fullUrl"), ": ",
                  JsonQuote(full_url), ", ", JsonQuote("resource"), ": ");
  AppendTagged(first.fhir_json(), group, parser_, &pending_);
  absl::StrAppend(&pending_, ", ", JsonQuote("search"), ": ",
                  JsonObject().Add("mode", "match").Build(), "}");
  ++next_group_;
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

}  // namespace hie::node
