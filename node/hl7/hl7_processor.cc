#include "node/hl7/hl7_processor.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "common/store/key_codec.h"
#include "node/domain/importer.h"
#include "node/hl7/hl7_to_fhir.h"

namespace hie::node::hl7 {
namespace {

using store::KeyBuilder;
using store::KeyReader;

std::string SeenKey(const std::string& app, const std::string& facility,
                    const std::string& control_id) {
  return KeyBuilder()
      .AddString("hl7")
      .AddString("seen")
      .AddString(app)
      .AddString(facility)
      .AddString(control_id)
      .Build();
}
std::string MergedKey(const std::string& retired) {
  return KeyBuilder().AddString("hl7").AddString("merged").AddString(retired).Build();
}

// The node failed, not the message: AR, so that the sender resends.
Hl7Issue StoreIssue(std::string reason) {
  Hl7Issue issue;
  issue.code = 207;
  issue.reject = true;
  issue.reason = std::move(reason);
  return issue;
}

const char* ErrorText(int code) {
  switch (code) {
    case 0:
      return "Message accepted";
    case 100:
      return "Segment sequence error";
    case 101:
      return "Required field missing";
    case 102:
      return "Data type error";
    case 103:
      return "Table value not found";
    case 200:
      return "Unsupported message type";
    case 201:
      return "Unsupported event code";
    case 203:
      return "Unsupported version id";
    case 205:
      return "Duplicate key identifier";
    default:
      return "Application internal error";
  }
}

}  // namespace

std::string BuildAck(const Hl7Message* message, const std::string& code,
                     const std::vector<Hl7Issue>& issues, absl::Time now,
                     const Hl7ProcessorOptions& options) {
  Hl7Delimiters d = message != nullptr ? message->delimiters() : Hl7Delimiters{};
  auto escape = [&](absl::string_view text) {
    std::string out;
    for (char c : text) {
      if (c == d.escape || c == d.field || c == d.component || c == d.subcomponent ||
          c == d.repetition) {
        char name = c == d.escape         ? 'E'
                    : c == d.field        ? 'F'
                    : c == d.component    ? 'S'
                    : c == d.subcomponent ? 'T'
                                          : 'R';
        out.push_back(d.escape);
        out.push_back(name);
        out.push_back(d.escape);
      } else if (c == '\r' || c == '\n') {
        out.push_back(' ');
      } else {
        out.push_back(c);
      }
    }
    return out;
  };
  std::string f(1, d.field), cs(1, d.component), ss(1, d.subcomponent);
  std::string encoding =
      message != nullptr ? std::string(message->header().Field(2)) : std::string("^~\\&");
  auto raw = [&](int field, const std::string& fallback) {
    if (message == nullptr) return escape(fallback);
    std::string value(message->header().Field(field));
    return value.empty() ? escape(fallback) : value;
  };
  std::string control = message != nullptr ? message->ControlId() : "";
  std::string event = message != nullptr ? message->TriggerEvent() : "";
  std::string version = message != nullptr ? message->Version() : "";
  if (version.empty()) version = "2.5.1";
  std::string processing = message != nullptr ? message->Value(message->header(), 11) : "";
  if (processing.empty()) processing = "P";
  std::string timestamp = absl::FormatTime("%Y%m%d%H%M%S+0000", now, absl::UTCTimeZone());
  std::string ack =
      absl::StrCat("MSH", f, encoding, f, raw(5, options.application), f, raw(6, options.facility),
                   f, raw(3, ""), f, raw(4, ""), f, timestamp, f, f, "ACK", cs, escape(event), cs,
                   "ACK", f, escape(absl::StrCat("ACK", control.empty() ? timestamp : control)), f,
                   escape(processing), f, escape(version), "\r");
  absl::StrAppend(&ack, "MSA", f, code, f, escape(control));
  if (!issues.empty()) absl::StrAppend(&ack, f, escape(issues.front().reason));
  absl::StrAppend(&ack, "\r");
  for (const Hl7Issue& issue : issues) {
    std::string segment = escape(issue.segment);
    std::string eld = issue.segment.empty()
                          ? ""
                          : absl::StrCat(segment, cs, issue.segment_sequence, cs, issue.field, cs,
                                         issue.code, ss, ErrorText(issue.code), ss, "HL70357");
    std::string erl =
        issue.segment.empty()
            ? ""
            : absl::StrCat(segment, cs, issue.segment_sequence, cs, issue.field,
                           issue.component > 0 ? absl::StrCat(cs, "1", cs, issue.component) : "");
    absl::StrAppend(&ack, "ERR", f, eld, f, erl, f, issue.code, cs, ErrorText(issue.code), cs,
                    "HL70357", f, code == "AA" ? "W" : "E", f, f, f, f, escape(issue.reason), "\r");
  }
  return ack;
}

std::string Hl7Processor::SurvivorOf(const std::string& patient_id) const {
  std::string current = patient_id;
  for (int hops = 0; hops < 16; ++hops) {  // merges chain; a cycle cannot loop forever
    absl::StatusOr<std::string> next = store_->Get(MergedKey(current));
    if (!next.ok() || *next == current) break;
    current = *next;
  }
  return current == patient_id ? "" : current;
}

Hl7Outcome Hl7Processor::Process(absl::string_view text) {
  Hl7Outcome outcome;
  Hl7Issue issue;
  absl::Time now = clock_->Now();
  std::vector<Hl7Issue> warnings;
  auto answer = [&](const Hl7Message* message, const std::string& code) {
    outcome.ack_code = code;
    std::vector<Hl7Issue> issues = code == "AA" ? warnings : std::vector<Hl7Issue>{issue};
    if (!issues.empty()) outcome.reason = issues.front().reason;
    outcome.ack = BuildAck(message, code, issues, now, options_);
    return outcome;
  };
  absl::StatusOr<Hl7Message> message = Hl7Message::Parse(text, &issue);
  if (!message.ok()) return answer(nullptr, issue.reject ? "AR" : "AE");
  outcome.control_id = message->ControlId();

  absl::MutexLock lock(&mu_);
  std::string seen =
      SeenKey(message->SendingApplication(), message->SendingFacility(), message->ControlId());
  if (store_->Get(seen).ok()) {
    outcome.duplicate = true;
    return answer(&*message, "AA");
  }
  Hl7MapOptions map_options;
  map_options.survivor_of = [this](const std::string& id) { return SurvivorOf(id); };
  absl::StatusOr<Hl7Conversion> conversion = ConvertToFhir(*message, map_options, &issue);
  if (!conversion.ok()) return answer(&*message, issue.reject ? "AR" : "AE");

  IngestBatch batch =
      ingester_->ParseJson(conversion->bundle_json, absl::StrCat("hl7:", message->ControlId()));
  if (!batch.problems.empty()) {
    const IngestProblem& p = batch.problems.front();
    if (p.position >= 0 && static_cast<size_t>(p.position) < conversion->entry_sources.size()) {
      issue.segment = conversion->entry_sources[p.position].segment;
      issue.segment_sequence = conversion->entry_sources[p.position].sequence;
    }
    issue.field = 0;
    issue.code = 102;
    issue.reject = false;
    issue.reason = absl::StrCat("FHIR ingest refused ", p.path, ": ", p.message);
    return answer(&*message, "AE");
  }

  // Merges: the retired patients' records move to their survivors.
  std::set<std::string> retired;
  std::set<std::string> in_batch;
  for (const auto& r : batch.records) in_batch.insert(r.resource_type() + "/" + r.resource_id());
  for (const Hl7Merge& merge : conversion->merges) {
    retired.insert(merge.retired_id);
    std::vector<hie::v1::RecordEnvelope> moved;
    absl::Status s =
        records_->ForPatient(merge.retired_id, "", [&](const hie::v1::RecordEnvelope& record) {
          if (record.resource_type() != "Patient" &&
              !in_batch.contains(record.resource_type() + "/" + record.resource_id())) {
            moved.push_back(record);
          }
          return true;
        });
    if (!s.ok()) {
      issue = StoreIssue(absl::StrCat("the node could not read the records to merge (", s.message(),
                                      "); resend later"));
      return answer(&*message, "AR");
    }
    for (auto& record : moved) {
      record.set_patient_local_id(merge.survivor_id);
      record.set_fhir_json(absl::StrReplaceAll(
          record.fhir_json(), {{absl::StrCat("\"Patient/", merge.retired_id, "\""),
                                absl::StrCat("\"Patient/", merge.survivor_id, "\"")}}));
      in_batch.insert(record.resource_type() + "/" + record.resource_id());
      batch.records.push_back(std::move(record));
    }
  }

  // The control id, merge pointers and MPI removals go in the records' batch.
  bool extras_written = false;
  auto add_extras = [&](store::WriteBatch& writes) {
    if (extras_written) return;
    extras_written = true;
    writes.Put(seen, "AA");
    for (const Hl7Merge& merge : conversion->merges) {
      writes.Put(MergedKey(merge.retired_id), merge.survivor_id);
      if (outbox_ != nullptr) {
        hie::v1::RemovePatientRequest request;
        request.set_local_id(merge.retired_id);
        outbox_->Stage(writes, request);
        outcome.mpi_work_staged = true;
      }
    }
  };
  const RecordStore::ChangeHook register_with_mpi = MpiRegistrationHook(outbox_);
  auto on_change = [&](const hie::v1::RecordEnvelope& record, store::WriteBatch& writes) {
    add_extras(writes);
    ++outcome.records_changed;
    if (!register_with_mpi || record.resource_type() != "Patient" ||
        retired.contains(record.resource_id())) {
      return;
    }
    register_with_mpi(record, writes);
    outcome.mpi_work_staged = true;
  };
  InheritStoredLabels(*records_, batch);
  absl::StatusOr<PutOutcome> put = records_->Put(std::move(batch.records), on_change);
  if (put.ok() && !extras_written) {
    store::WriteBatch writes;
    add_extras(writes);
    if (absl::Status s = store_->Write(writes); !s.ok()) put = s;
  }
  warnings = conversion->warnings;
  if (!put.ok()) {
    issue = StoreIssue(absl::StrCat("the node could not store the message (",
                                    put.status().message(), "); resend later"));
    return answer(&*message, "AR");
  }
  return answer(&*message, "AA");
}

}  // namespace hie::node::hl7
