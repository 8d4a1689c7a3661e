// One import from a practice's feed: documents and NDJSON chunks in, durable records
// and a tally out. NDJSON may arrive split anywhere; lines are joined across chunks and
// numbered from the start of the import.
#ifndef HIE_NODE_DOMAIN_IMPORTER_H_
#define HIE_NODE_DOMAIN_IMPORTER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "node/domain/fhir_ingest.h"
#include "node/domain/outbox.h"
#include "node/domain/record_store.h"

namespace hie::node {

struct ImportTotals {
  // Durable when counted (includes unchanged).
  int64_t accepted = 0;
  int64_t unchanged = 0;
  std::vector<IngestProblem> rejected;
  // Patient resources created or changed by this import (each queued for the MPI when
  // there is an outbox).
  std::vector<std::string> patients_changed;
};

// Adds to each record of `batch` the labels of the stored records it references that
// were imported earlier (batch.stored_references), with the sensitivity hierarchy and
// the R high-water mark applied again. A reference to a record the store does not hold
// adds nothing.
void InheritStoredLabels(const RecordStore& store, IngestBatch& batch);

// The store hook that owes the MPI each Patient a write changes: its registration
// (demographics read from the resource), or its removal when the write deletes it.
// Staged in the same batch as the record. Null when `outbox` is.
RecordStore::ChangeHook MpiRegistrationHook(Outbox* outbox);

// Not thread-safe: one per import call.
class Importer {
 public:
  // All must outlive the importer; `outbox` may be null (no MPI registration).
  Importer(const FhirIngester* ingester, RecordStore* store, Outbox* outbox = nullptr)
      : ingester_(ingester), store_(store), outbox_(outbox) {}

  // One JSON document (a resource or a Bundle). Errors: the store's (nothing of the
  // document was acknowledged then).
  absl::Status AddJson(absl::string_view json, const std::string& source);

  // A piece of one JSON document too large for one message: pieces are joined until the
  // one with `last` set, and the whole is then added as AddJson does. A document that
  // grows past the ingester's resource limit is rejected (reported once, its remaining
  // pieces dropped), so an endless document cannot exhaust memory.
  absl::Status AddJsonPiece(absl::string_view piece, bool last, const std::string& source);

  // A piece of NDJSON; complete lines are stored now, a partial last line waits for the
  // next chunk or Finish. A line longer than the ingester's resource limit (in bytes
  // as sent, blank or not) is rejected, however the input is chunked: a partial line as
  // soon as it grows past the limit (then skipped to its end), so an endless line cannot
  // exhaust memory.
  absl::Status AddNdjson(absl::string_view chunk, const std::string& source);

  // Stores what is left of the NDJSON; a JSON document still waiting for its last piece
  // is rejected. Call once, at the end.
  absl::Status Finish();

  const ImportTotals& totals() const { return totals_; }

 private:
  absl::Status Store(IngestBatch batch, int64_t line_offset);
  void RefuseLongLine(int64_t line, const std::string& source);

  const FhirIngester* ingester_;
  RecordStore* store_;
  Outbox* outbox_;
  ImportTotals totals_;
  std::string pending_ndjson_;
  std::string ndjson_source_;
  int64_t lines_done_ = 0;
  // Inside an oversized line: drop input until its newline.
  bool skipping_line_ = false;
  // The JSON document being joined from pieces, and whether it grew too large.
  std::string pending_json_;
  std::string json_source_;
  bool skipping_json_ = false;
  int64_t json_documents_ = 0;
};

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_IMPORTER_H_
