// Feeds arbitrary bytes to the HL7 v2 parser and the mapping to FHIR: every outcome is a
// message or a refusal that says where and why, never a crash; a parsed message starts
// with MSH and has a type, trigger and control id; a conversion is a Bundle the node's
// FHIR ingest accepts or refuses with a path; the ACK for any outcome is an MSH + MSA.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "common/time/clock.h"
#include "node/domain/fhir_ingest.h"
#include "node/hl7/hl7_message.h"
#include "node/hl7/hl7_processor.h"
#include "node/hl7/hl7_to_fhir.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const hie::node::Labeler* labeler = [] {
    auto l = hie::node::Labeler::FromConfig({});
    return new hie::node::Labeler(*std::move(l));
  }();
  using namespace hie::node::hl7;
  std::string text(reinterpret_cast<const char*>(data), size);
  for (const std::string& one : SplitMessages(text)) {
    Hl7Issue issue;
    auto message = Hl7Message::Parse(one, &issue);
    if (!message.ok()) {
      if (issue.reason.empty() || !issue.reject) std::abort();
      std::string ack = BuildAck(nullptr, "AR", {issue}, absl::UnixEpoch(), {});
      if (!absl::StartsWith(ack, "MSH|") || !absl::StrContains(ack, "\rMSA|AR|")) std::abort();
      continue;
    }
    if (message->segments().empty() || message->header().id() != "MSH") std::abort();
    if (message->MessageCode().empty() || message->ControlId().empty()) std::abort();
    for (const auto& segment : message->segments()) {
      for (int f = 1; f <= segment.field_count() && f < 40; ++f) {
        for (absl::string_view rep : message->Repetitions(segment.Field(f))) {
          (void)message->Text(message->Subcomponent(message->Component(rep, 2), 2));
        }
      }
    }
    Hl7Issue mapped;
    auto conversion = ConvertToFhir(*message, {}, &mapped);
    if (!conversion.ok()) {
      if (mapped.reason.empty()) std::abort();
      continue;
    }
    hie::node::FhirIngester ingester(labeler);
    hie::node::IngestBatch batch = ingester.ParseJson(conversion->bundle_json, "fuzz");
    for (const auto& p : batch.problems) {
      if (p.path.empty() || p.message.empty()) std::abort();
      // The Bundle itself is always well-formed JSON of a transaction.
      if (p.path == "$" || p.path == "Bundle.type") std::abort();
    }
    std::string ack = BuildAck(&*message, "AA", conversion->warnings, absl::UnixEpoch(), {});
    if (!absl::StrContains(ack, "MSA|AA|") && message->delimiters().field == '|') std::abort();
  }
  return 0;
}
