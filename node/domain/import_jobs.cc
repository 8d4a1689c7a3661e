#include "node/domain/import_jobs.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "node/domain/importer.h"

namespace hie::node {
namespace {

int64_t NonBlankLines(absl::string_view text) {
  int64_t n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StripAsciiWhitespace(line).empty()) ++n;
  }
  return n;
}

// A job id: its start time and a counter, unique within the process (jobs live in
// memory only), and not guessable across restarts in a way that matters: a job is
// only shown to the node's admins.
std::string NewJobId(absl::Time now) {
  static std::atomic<uint64_t> counter{0};
  return absl::StrCat(absl::ToUnixMillis(now), "-", ++counter);
}

}  // namespace

const char* ImportStateName(ImportState state) {
  switch (state) {
    case ImportState::kRunning:
      return "running";
    case ImportState::kDone:
      return "done";
    case ImportState::kFailed:
      return "failed";
  }
  return "unknown";
}

ImportJobs::ImportJobs(const FhirIngester* ingester, RecordStore* store, Outbox* outbox,
                       std::function<void()> on_patients_changed, ImportJobsOptions options)
    : ingester_(ingester),
      store_(store),
      outbox_(outbox),
      on_patients_changed_(std::move(on_patients_changed)),
      options_(options) {}

absl::Status ImportJobs::Evict() {
  size_t running = 0;
  for (const ImportJob& job : jobs_) running += job.state == ImportState::kRunning ? 1 : 0;
  if (running >= options_.max_running) {
    return absl::ResourceExhaustedError(
        absl::StrCat(running, " imports are running: wait for one to finish"));
  }
  while (jobs_.size() >= options_.max_jobs) {
    auto finished = std::find_if(jobs_.begin(), jobs_.end(), [](const ImportJob& job) {
      return job.state != ImportState::kRunning;
    });
    if (finished == jobs_.end()) return absl::ResourceExhaustedError("too many imports");
    jobs_.erase(finished);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ImportJobs::Start(std::string started_by, std::string file_name,
                                              ImportFormat format, std::string content,
                                              const Runner& run) {
  ImportJob job;
  job.started_at = absl::Now();
  job.id = NewJobId(job.started_at);
  job.started_by = std::move(started_by);
  job.file_name = std::move(file_name);
  job.format = format;
  job.bytes_total = static_cast<int64_t>(content.size());
  if (format == ImportFormat::kNdjson) job.records_total = NonBlankLines(content);
  const std::string id = job.id;
  {
    absl::MutexLock lock(&mu_);
    if (absl::Status s = Evict(); !s.ok()) return s;
    jobs_.push_back(std::move(job));
  }
  auto shared = std::make_shared<std::string>(std::move(content));
  if (!run([self = shared_from_this(), id, format, shared] { self->Run(id, format, *shared); })) {
    absl::MutexLock lock(&mu_);
    jobs_.erase(
        std::remove_if(jobs_.begin(), jobs_.end(), [&](const ImportJob& j) { return j.id == id; }),
        jobs_.end());
    return absl::UnavailableError("the node is too busy to start an import: try again");
  }
  return id;
}

void ImportJobs::Update(const std::string& id, const std::function<void(ImportJob&)>& change) {
  absl::MutexLock lock(&mu_);
  for (ImportJob& job : jobs_) {
    if (job.id == id) {
      change(job);
      return;
    }
  }
}

void ImportJobs::Run(const std::string& id, ImportFormat format, const std::string& content) {
  Importer importer(ingester_, store_, outbox_);
  const std::string source = "web import " + id;
  auto progress = [&](int64_t bytes_done) {
    const ImportTotals& totals = importer.totals();
    Update(id, [&](ImportJob& job) {
      job.bytes_done = bytes_done;
      job.records_done = totals.accepted;
      job.records_failed = static_cast<int64_t>(totals.rejected.size());
      const size_t keep = std::min(totals.rejected.size(), options_.max_reported_problems);
      job.problems.assign(totals.rejected.begin(), totals.rejected.begin() + keep);
    });
  };
  absl::Status status;
  if (format == ImportFormat::kNdjson) {
    for (size_t at = 0; at < content.size() && status.ok(); at += options_.chunk_bytes) {
      absl::string_view chunk = absl::string_view(content).substr(at, options_.chunk_bytes);
      status = importer.AddNdjson(chunk, source);
      progress(static_cast<int64_t>(std::min(content.size(), at + options_.chunk_bytes)));
    }
  } else {
    status = importer.AddJson(content, source);
  }
  if (status.ok()) status = importer.Finish();
  progress(static_cast<int64_t>(content.size()));
  const ImportTotals& totals = importer.totals();
  Update(id, [&](ImportJob& job) {
    job.finished_at = absl::Now();
    job.state = status.ok() ? ImportState::kDone : ImportState::kFailed;
    if (!status.ok()) job.failure = std::string(status.message());
    if (!job.records_total.has_value()) job.records_total = job.records_done + job.records_failed;
  });
  if (!totals.patients_changed.empty() && on_patients_changed_) on_patients_changed_();
}

absl::StatusOr<ImportJob> ImportJobs::Get(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  for (const ImportJob& job : jobs_) {
    if (job.id == id) return job;
  }
  return absl::NotFoundError("no such import (it may have been forgotten: only a few are kept)");
}

std::vector<ImportJob> ImportJobs::List() const {
  absl::MutexLock lock(&mu_);
  return std::vector<ImportJob>(jobs_.rbegin(), jobs_.rend());
}

}  // namespace hie::node
