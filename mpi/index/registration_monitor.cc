#include "mpi/index/registration_monitor.h"

#include <algorithm>

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

RegistrationMonitor::Admission RegistrationMonitor::Admit(const std::string& org_id) {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  Admission admission{false, now};
  if (options_.max_cross_org_links <= 0) return admission;
  std::deque<absl::Time>& times = recent_[org_id];
  while (!times.empty() && times.front() <= now - options_.window) times.pop_front();
  admission.hold = static_cast<int64_t>(times.size()) >= options_.max_cross_org_links;
  times.push_back(now);
  // Bounded whatever the rate, with room for admissions still being placed (a few of
  // which will be withdrawn): past the threshold, more entries tell nothing more.
  const int64_t bound = 2 * options_.max_cross_org_links + 64;
  while (static_cast<int64_t>(times.size()) > bound) times.pop_front();
  return admission;
}

std::optional<RegistrationMonitor::Alert> RegistrationMonitor::Confirm(const std::string& org_id,
                                                                       const Admission& admission) {
  absl::MutexLock lock(&mu_);
  ++links_total_;
  if (options_.max_cross_org_links <= 0) return std::nullopt;
  const std::deque<absl::Time>& times = recent_[org_id];
  int64_t in_window = 0;
  for (absl::Time t : times) in_window += t > admission.at - options_.window;
  if (in_window <= options_.max_cross_org_links) return std::nullopt;
  auto last = last_alert_.find(org_id);
  if (last != last_alert_.end() && last->second > admission.at - options_.window) {
    return std::nullopt;
  }
  last_alert_[org_id] = admission.at;
  ++alerts_total_;
  return Alert{org_id, in_window, options_.window};
}

void RegistrationMonitor::Withdraw(const std::string& org_id, const Admission& admission) {
  absl::MutexLock lock(&mu_);
  auto it = recent_.find(org_id);
  if (it == recent_.end()) return;
  auto& times = it->second;
  auto at = std::find(times.begin(), times.end(), admission.at);
  if (at != times.end()) times.erase(at);
}

std::optional<RegistrationMonitor::Alert> RegistrationMonitor::NoteCrossOrgLink(
    const std::string& org_id) {
  return Confirm(org_id, Admit(org_id));
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

WatchedPlacement PlaceWatched(
    RegistrationMonitor& monitor, const std::string& org_id,
    const std::function<absl::StatusOr<RegisterResult>(const RegisterOptions&)>& place) {
  const RegistrationMonitor::Admission admission = monitor.Admit(org_id);
  WatchedPlacement out{place({.hold_cross_org_links = admission.hold}), std::nullopt};
  const bool link_attempt =
      out.result.ok() && (out.result->placement == Placement::kLinked || out.result->held);
  if (link_attempt) {
    out.alert = monitor.Confirm(org_id, admission);
  } else {
    monitor.Withdraw(org_id, admission);
  }
  return out;
}

}  // namespace hie::mpi
