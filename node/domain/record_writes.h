// FHIR writes to the practice's own records: create, update, delete, and Bundles of them
// (transaction: all or nothing; batch: each entry on its own), as the REST API and the
// web app make them. Each resource goes through the FHIR ingest path an import takes
// (validation with FHIRPath locations, the patient it is about, sensitivity labels,
// labels flowing from the records it references), is stored under RecordStore's
// conditions (If-Match, create-only) in one synced batch, and a Patient created,
// changed or deleted is owed to the MPI in that same batch.
#ifndef HIE_NODE_DOMAIN_RECORD_WRITES_H_
#define HIE_NODE_DOMAIN_RECORD_WRITES_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "node/domain/fhir_ingest.h"
#include "node/domain/outbox.h"
#include "node/domain/record_store.h"

namespace hie::node {

// What one write did, or why it did nothing.
struct WriteResult {
  // OK; InvalidArgument (malformed JSON, the wrong type, an id that disagrees with the
  // URL: 400), or with `problems` (the resource failed validation: 422);
  // FailedPrecondition (If-Match or If-None-Exist not met: 412); NotFound; the store's.
  absl::Status status;
  // Why the resource is not valid, each with its FHIRPath (status InvalidArgument).
  std::vector<IngestProblem> problems;
  PutOutcome::Kind kind = PutOutcome::kUnchanged;
  // As stored: the version written (a tombstone for a delete), or the current one when
  // nothing changed (an update with the same content, a conditional create that found
  // its record).
  hie::v1::RecordEnvelope record;

  bool ok() const { return status.ok(); }
};

// The current records of `type` matching a FHIR search query ("identifier=x&...") for
// conditional create (If-None-Exist). Errors: InvalidArgument for a query it cannot
// run.
using RecordFinder = std::function<absl::StatusOr<std::vector<hie::v1::RecordEnvelope>>(
    const std::string& type, const std::string& query)>;

// One entry of a transaction or batch answered (FHIR Bundle.entry.response).
struct EntryResult {
  WriteResult write;
  std::string method;  // "POST", "PUT", "DELETE", "GET"
};

struct BundleResult {
  bool transaction = false;  // else a batch
  // OK with one entry per Bundle entry; or, for a transaction, why nothing was written:
  // the failing entry's status, with its problems and index.
  absl::Status status;
  std::vector<IngestProblem> problems;
  int64_t failed_entry = -1;
  std::vector<EntryResult> entries;
};

// Thread-safe.
class RecordWrites {
 public:
  // `ingester` and `store` must outlive this; `outbox` may be null (no MPI).
  // `patients_changed` (may be empty) is called after a write that owes the MPI work.
  // `finder` (may be empty) runs If-None-Exist; without it conditional create is
  // refused as Unimplemented.
  RecordWrites(const FhirIngester* ingester, RecordStore* store, Outbox* outbox,
               std::function<void()> patients_changed, RecordFinder finder);

  // Whether If-None-Exist can be run (a finder was given).
  bool conditional_create() const { return finder_ != nullptr; }

  // POST /{type}: stores `json` under a new id (any id it carries is replaced). With
  // `if_none_exist`, stores it only if no record matches that query: one match is
  // returned unchanged, more than one is FailedPrecondition.
  WriteResult Create(const std::string& type, absl::string_view json,
                     const std::string& if_none_exist = "");

  // PUT /{type}/{id}: `json` must carry the same id. Creates the record if the node does
  // not hold it (or it was deleted). `if_version` > 0: the current version must be it.
  WriteResult Update(const std::string& type, const std::string& id, absl::string_view json,
                     int64_t if_version = 0);

  // DELETE /{type}/{id}: writes a tombstone version. Deleting a deleted record changes
  // nothing (kind kUnchanged). Errors: NotFound if the node never held it.
  WriteResult Delete(const std::string& type, const std::string& id, int64_t if_version = 0);

  // POST / with a Bundle of type transaction or batch. Entries: request.method POST
  // (with ifNoneExist), PUT and DELETE (url Type/id, ifMatch as W/"n"), and GET Type/id.
  // A transaction resolves urn:uuid fullUrls to the ids it assigns, rewrites references
  // to them, and writes every entry in one batch or none.
  // `authorize` is asked, for every entry before anything is done, whether the caller
  // may make it: (type, "create" | "update" | "delete" | "read"); a refusal fails a
  // transaction and that entry of a batch.
  // Errors (status): InvalidArgument if `json` is not a transaction or batch Bundle.
  using EntryAuthorizer =
      std::function<absl::Status(const std::string& type, absl::string_view interaction)>;
  BundleResult Bundle(absl::string_view json, const EntryAuthorizer& authorize);

 private:
  struct Planned;
  WriteResult Store(std::vector<hie::v1::RecordEnvelope> records,
                    std::vector<PutCondition> conditions);
  WriteResult Ingest(const std::string& type, const std::string& id, absl::string_view json,
                     hie::v1::RecordEnvelope* record);
  BundleResult Transaction(std::vector<Planned> plan);
  BundleResult Batch(std::vector<Planned> plan);

  const FhirIngester* ingester_;
  RecordStore* store_;
  Outbox* outbox_;
  std::function<void()> patients_changed_;
  RecordFinder finder_;
};

// The ETag FHIR gives a version (W/"3"), and the version an If-Match value names (0 if
// it names none: "*" or nothing). Errors: InvalidArgument for anything else.
std::string VersionETag(int64_t version);
absl::StatusOr<int64_t> VersionFromIfMatch(absl::string_view if_match);

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_RECORD_WRITES_H_
