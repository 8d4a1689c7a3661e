#include "node/domain/importer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "consent/domain/codes.h"
#include "node/domain/patient_demographics.h"

namespace hie::node {

void InheritStoredLabels(const RecordStore& store, IngestBatch& batch) {
  for (size_t i = 0; i < batch.records.size() && i < batch.stored_references.size(); ++i) {
    hie::v1::RecordEnvelope& record = batch.records[i];
    std::vector<std::string> labels(record.sensitivity().begin(), record.sensitivity().end());
    const size_t before = labels.size();
    for (const std::string& ref : batch.stored_references[i]) {
      size_t slash = ref.find('/');
      absl::StatusOr<hie::v1::RecordEnvelope> target =
          store.Get(ref.substr(0, slash), ref.substr(slash + 1));
      if (!target.ok() || target->deleted()) continue;
      labels.insert(labels.end(), target->sensitivity().begin(), target->sensitivity().end());
    }
    if (labels.size() == before) continue;
    record.clear_sensitivity();
    for (std::string& label : consent::EffectiveCategories(labels)) {
      record.add_sensitivity(std::move(label));
    }
  }
}

RecordStore::ChangeHook MpiRegistrationHook(Outbox* outbox) {
  if (outbox == nullptr) return nullptr;
  return [outbox](const hie::v1::RecordEnvelope& record, store::WriteBatch& writes) {
    if (record.resource_type() != "Patient") return;
    if (record.deleted()) {
      hie::v1::RemovePatientRequest request;
      request.set_local_id(record.resource_id());
      outbox->Stage(writes, request);
      return;
    }
    absl::StatusOr<hie::v1::Demographics> demographics =
        DemographicsFromFhirPatient(record.fhir_json());
    if (!demographics.ok()) return;
    hie::v1::RegisterPatientRequest request;
    request.set_local_id(record.resource_id());
    *request.mutable_demographics() = *std::move(demographics);
    outbox->Stage(writes, request);
  };
}

absl::Status Importer::Store(IngestBatch batch, int64_t line_offset) {
  for (auto& p : batch.problems) {
    if (line_offset > 0) p.position += line_offset;
    totals_.rejected.push_back(std::move(p));
  }
  if (batch.records.empty()) return absl::OkStatus();
  InheritStoredLabels(*store_, batch);
  std::vector<std::pair<size_t, std::string>> patients;  // index in the batch, id
  for (size_t i = 0; i < batch.records.size(); ++i) {
    const auto& r = batch.records[i];
    if (r.resource_type() == "Patient") patients.emplace_back(i, r.resource_id());
  }
  absl::StatusOr<PutOutcome> outcome =
      store_->Put(std::move(batch.records), MpiRegistrationHook(outbox_));
  if (!outcome.ok()) return outcome.status();
  totals_.accepted += outcome->created + outcome->updated + outcome->unchanged;
  totals_.unchanged += outcome->unchanged;
  // Patients whose registration changed (not those sent again unchanged).
  for (const auto& [index, id] : patients) {
    if (outcome->kinds[index] == PutOutcome::kUnchanged) continue;
    if (std::find(totals_.patients_changed.begin(), totals_.patients_changed.end(), id) ==
        totals_.patients_changed.end()) {
      totals_.patients_changed.push_back(id);
    }
  }
  return absl::OkStatus();
}

absl::Status Importer::AddJson(absl::string_view json, const std::string& source) {
  return Store(ingester_->ParseJson(json, source), 0);
}

absl::Status Importer::AddJsonPiece(absl::string_view piece, bool last, const std::string& source) {
  json_source_ = source;
  if (!skipping_json_) {
    if (pending_json_.size() + piece.size() > ingester_->options().max_resource_bytes) {
      totals_.rejected.push_back(
          {source, json_documents_ + 1, "$",
           absl::StrCat("document is longer than the ", ingester_->options().max_resource_bytes,
                        "-byte limit for one resource")});
      std::string().swap(pending_json_);
      skipping_json_ = true;
    } else {
      pending_json_.append(piece.data(), piece.size());
    }
  }
  if (!last) return absl::OkStatus();
  ++json_documents_;
  if (skipping_json_) {
    skipping_json_ = false;
    return absl::OkStatus();
  }
  std::string document = std::move(pending_json_);
  std::string().swap(pending_json_);
  return AddJson(document, source);
}

absl::Status Importer::AddNdjson(absl::string_view chunk, const std::string& source) {
  ndjson_source_ = source;
  if (skipping_line_) {
    size_t newline = chunk.find('\n');
    if (newline == absl::string_view::npos) return absl::OkStatus();
    chunk.remove_prefix(newline + 1);
    skipping_line_ = false;
    ++lines_done_;
  }
  pending_ndjson_.append(chunk.data(), chunk.size());
  size_t last_newline = pending_ndjson_.rfind('\n');
  absl::Status s = absl::OkStatus();
  if (last_newline != std::string::npos) {
    std::string complete = pending_ndjson_.substr(0, last_newline + 1);
    pending_ndjson_.erase(0, last_newline + 1);
    // A complete line past the limit is refused just as a partial one is below, so that
    // the outcome does not depend on where the chunks were cut.
    int64_t number = lines_done_;
    for (size_t start = 0; start < complete.size(); ++number) {
      size_t end = complete.find('\n', start);
      if (end - start > ingester_->options().max_resource_bytes) {
        RefuseLongLine(number + 1, source);
        complete.erase(start, end - start);
        end = start;
      }
      start = end + 1;
    }
    int64_t lines = std::count(complete.begin(), complete.end(), '\n');
    s = Store(ingester_->ParseNdjson(complete, source), lines_done_);
    lines_done_ += lines;
  }
  if (pending_ndjson_.size() > ingester_->options().max_resource_bytes) {
    RefuseLongLine(lines_done_ + 1, source);
    pending_ndjson_.clear();
    skipping_line_ = true;
  }
  return s;
}

void Importer::RefuseLongLine(int64_t line, const std::string& source) {
  totals_.rejected.push_back(
      {source, line, "$",
       absl::StrCat("line is longer than the ", ingester_->options().max_resource_bytes,
                    "-byte limit for one resource")});
}

absl::Status Importer::Finish() {
  if (!pending_json_.empty() || skipping_json_) {
    if (!skipping_json_) {
      totals_.rejected.push_back({json_source_, json_documents_ + 1, "$",
                                  "the import ended inside a document sent in pieces"});
    }
    std::string().swap(pending_json_);
    skipping_json_ = false;
  }
  if (skipping_line_ || pending_ndjson_.empty()) return absl::OkStatus();
  std::string rest = std::move(pending_ndjson_);
  pending_ndjson_.clear();
  return Store(ingester_->ParseNdjson(rest, ndjson_source_), lines_done_);
}

}  // namespace hie::node
