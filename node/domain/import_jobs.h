// Imports started from the admin's web page: a FHIR R4 JSON document (a resource or a
// Bundle) or an NDJSON file, handed over whole, stored in the background through the
// same Importer `hiectl import` (the Ingest service) uses, with progress that a page
// can poll. Jobs live in memory only (a restart forgets them; the records they stored
// stay), a few per node: the oldest finished job is forgotten to make room.
//
// Thread-safe.
#ifndef HIE_NODE_DOMAIN_IMPORT_JOBS_H_
#define HIE_NODE_DOMAIN_IMPORT_JOBS_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "node/domain/fhir_ingest.h"
#include "node/domain/outbox.h"
#include "node/domain/record_store.h"

namespace hie::node {

enum class ImportFormat { kJson, kNdjson };
enum class ImportState { kRunning, kDone, kFailed };

// "running", "done", "failed".
const char* ImportStateName(ImportState state);

// A job as a page shows it (a copy, as of when it was asked).
struct ImportJob {
  std::string id;
  std::string started_by;  // the login of who started it
  std::string file_name;   // as the browser named it; may be empty
  ImportFormat format = ImportFormat::kJson;
  absl::Time started_at;
  std::optional<absl::Time> finished_at;
  ImportState state = ImportState::kRunning;
  int64_t bytes_total = 0;
  int64_t bytes_done = 0;
  // NDJSON: its non-blank lines (known at the start); a document: the resources it held,
  // known when it is done.
  std::optional<int64_t> records_total;
  int64_t records_done = 0;  // stored (unchanged ones included)
  int64_t records_failed = 0;
  // The first kMaxReportedProblems problems (line or entry, and what is wrong).
  std::vector<IngestProblem> problems;
  // kFailed: why the import stopped (the store refused a write; records acknowledged
  // before it are kept).
  std::string failure;
};

struct ImportJobsOptions {
  // Jobs kept (running and finished); at most max_running run at once.
  size_t max_jobs = 8;
  size_t max_running = 2;
  // NDJSON is stored this many bytes at a time, so progress moves.
  size_t chunk_bytes = 256 * 1024;
  size_t max_reported_problems = 100;
};

// Make with std::make_shared: a running job holds its ImportJobs.
class ImportJobs : public std::enable_shared_from_this<ImportJobs> {
 public:
  // Runs `work` off the caller's thread; false when it cannot be queued.
  using Runner = std::function<bool(std::function<void()>)>;

  // All must outlive every job; `outbox` may be null. `on_patients_changed` (may be
  // null) is called after a job that changed Patients (e.g. to wake the MPI sender).
  ImportJobs(const FhirIngester* ingester, RecordStore* store, Outbox* outbox,
             std::function<void()> on_patients_changed, ImportJobsOptions options = {});

  ImportJobs(const ImportJobs&) = delete;
  ImportJobs& operator=(const ImportJobs&) = delete;

  // Starts importing `content` through `run` and returns the job's id at once.
  // Errors: ResourceExhausted when max_running jobs are running or no finished job can
  // be forgotten; Unavailable when `run` refuses the work.
  absl::StatusOr<std::string> Start(std::string started_by, std::string file_name,
                                    ImportFormat format, std::string content, const Runner& run);

  // Errors: NotFound (never started, or forgotten).
  absl::StatusOr<ImportJob> Get(const std::string& id) const;
  // Every job kept, newest first.
  std::vector<ImportJob> List() const;

 private:
  void Run(const std::string& id, ImportFormat format, const std::string& content);
  void Update(const std::string& id, const std::function<void(ImportJob&)>& change);
  absl::Status Evict() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const FhirIngester* const ingester_;
  RecordStore* const store_;
  Outbox* const outbox_;
  const std::function<void()> on_patients_changed_;
  const ImportJobsOptions options_;

  mutable absl::Mutex mu_;
  std::deque<ImportJob> jobs_ ABSL_GUARDED_BY(mu_);  // oldest first
};

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_IMPORT_JOBS_H_
