// FHIR R4 JSON in: single resources, Bundles (transaction, batch, collection, searchset)
// and NDJSON, turned into RecordEnvelopes ready for the store, or into problems that
// name the entry and the FHIR path.
//
// What is checked, per resource: a known R4 resource type; a valid id (assigned from a
// urn:uuid fullUrl, or generated, when absent); the patient a clinical record is about
// (subject, patient or beneficiary: Patient/<id>, or a urn:uuid: of a Patient in the same
// Bundle); every urn:uuid: reference resolves inside the Bundle (references to
// resources elsewhere: Practitioner?identifier=..., Organization/x, https://... are
// legitimate and kept as they are); dates parse as FHIR dates; the size limit.
// A transaction Bundle is all-or-nothing; batch, collection and searchset Bundles and
// NDJSON are taken entry by entry.
#ifndef HIE_NODE_DOMAIN_FHIR_INGEST_H_
#define HIE_NODE_DOMAIN_FHIR_INGEST_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "node/domain/labeler.h"
#include "proto/hie/v1/record.pb.h"

namespace hie::node {

struct IngestProblem {
  std::string source;
  // Entry index in a Bundle (0-based, as in the path), line in NDJSON (1-based), 0 for
  // a single resource.
  int64_t position = 0;
  // "Bundle.entry[3].resource.subject", "Observation.effectiveDateTime".
  std::string path;
  std::string message;
};

struct IngestBatch {
  std::vector<hie::v1::RecordEnvelope> records;
  // For each record, the "Type/id" of the resources it references that are not in this
  // batch and whose labels pass on (PassesLabels): the importer looks them up in the
  // store, so labels flow from records imported earlier too.
  std::vector<std::vector<std::string>> stored_references;
  std::vector<IngestProblem> problems;
  // True when a transaction Bundle was refused whole because of `problems`.
  bool transaction_refused = false;
};

// Resource types whose sensitivity labels flow to the records that reference them (a
// MedicationRequest whose reasonReference is a substance-use Condition, one whose
// medicationReference is a buprenorphine Medication).
bool PassesLabels(absl::string_view type);

struct IngestOptions {
  // The largest single resource accepted (NodeConfig limits.max_import_resource_bytes).
  size_t max_resource_bytes = 64 * 1024 * 1024;
};

// `problems` as a FHIR R4 OperationOutcome (JSON): one error issue each, code "invalid"
// ("not-supported" for unknown resource types), the path in expression and
// "<source> #<position>" in location.
std::string OperationOutcomeJson(const std::vector<IngestProblem>& problems);

// Thread-safe (each call has its own parser).
class FhirIngester {
 public:
  // `labeler` must outlive the ingester.
  FhirIngester(const Labeler* labeler, IngestOptions options = {})
      : labeler_(labeler), options_(options) {}

  // One JSON document: a resource or a Bundle.
  IngestBatch ParseJson(absl::string_view json, const std::string& source) const;

  // NDJSON: one resource per line (blank lines skipped; CRLF accepted).
  IngestBatch ParseNdjson(absl::string_view text, const std::string& source) const;

  const IngestOptions& options() const { return options_; }

 private:
  const Labeler* labeler_;
  IngestOptions options_;
};

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_FHIR_INGEST_H_
