#include "mpi/index/registration_monitor.h"

#include "absl/strings/str_cat.h"

namespace hie::mpi {

std::string RegistrationMonitor::Describe(const Alert& alert) {
  return absl::StrCat(
      "registrations of ", alert.org_id, " linked to persons held by other members ", alert.links,
      " times within ", absl::FormatDuration(alert.window), " (more than the configured ",
      alert.links - 1, "): check they are its patients (its automatic links are in this audit)");
}

RegistrationMonitor::RegistrationMonitor(Clock* clock, const RegistrationAlertOptions& options)
    : clock_(clock), options_(options) {}

std::optional<RegistrationMonitor::Alert> RegistrationMonitor::NoteCrossOrgLink(
    const std::string& org_id) {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  ++links_total_;
  if (options_.max_cross_org_links <= 0) return std::nullopt;
  std::deque<absl::Time>& times = recent_[org_id];
  times.push_back(now);
  while (!times.empty() && times.front() <= now - options_.window) times.pop_front();
  while (static_cast<int64_t>(times.size()) > options_.max_cross_org_links + 1) times.pop_front();
  if (static_cast<int64_t>(times.size()) <= options_.max_cross_org_links) return std::nullopt;
  auto last = last_alert_.find(org_id);
  if (last != last_alert_.end() && last->second > now - options_.window) return std::nullopt;
  last_alert_[org_id] = now;
  ++alerts_total_;
  return Alert{org_id, static_cast<int64_t>(times.size()), options_.window};
}

bool RegistrationMonitor::Holding(const std::string& org_id) const {
  if (options_.max_cross_org_links <= 0) return false;
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = recent_.find(org_id);
  if (it == recent_.end()) return false;
  int64_t in_window = 0;
  for (absl::Time t : it->second) in_window += t > now - options_.window;
  return in_window >= options_.max_cross_org_links;
}

int64_t RegistrationMonitor::cross_org_links_total() const {
  absl::MutexLock lock(&mu_);
  return links_total_;
}

int64_t RegistrationMonitor::alerts_total() const {
  absl::MutexLock lock(&mu_);
  return alerts_total_;
}

}  // namespace hie::mpi
