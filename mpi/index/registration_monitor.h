// Watches how often each member organisation's registrations are linked automatically
// to persons other organisations hold. A practice registering its own new patients
// links to persons known elsewhere now and then; one that links many in a short time is
// either loading its existing patients (announced, and expected) or claiming other
// practices' patients to reach their records. The monitor cannot tell which: it raises
// an alert for an operator to look at, counts, and says when the organisation's further
// links are to be held for review until its rate falls back.
//
// Thread-safe.
#ifndef HIE_MPI_INDEX_REGISTRATION_MONITOR_H_
#define HIE_MPI_INDEX_REGISTRATION_MONITOR_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "mpi/index/patient_index.h"

namespace hie::mpi {

struct RegistrationAlertOptions {
  // An organisation whose cross-organisation links within `window` exceed this raises
  // an alert; 0 turns the alert off. See MpiConfig.registration_alert for the defaults'
  // reasoning.
  int64_t max_cross_org_links = 50;
  absl::Duration window = absl::Hours(1);
};

class RegistrationMonitor {
 public:
  struct Alert;
  // The alert's line for the log and the audit.
  static std::string Describe(const Alert& alert);

  RegistrationMonitor(Clock* clock, const RegistrationAlertOptions& options);

  struct Alert {
    std::string org_id;
    int64_t links = 0;  // in the window, at least max_cross_org_links + 1
    absl::Duration window;
  };
  // Before placing a registration of `org_id`: counts it, now, as an attempt to link to
  // a person another organisation holds, and says whether such a link is to be held
  // for review (the organisation has reached max_cross_org_links within the window).
  // Counting before placing keeps registrations placed at the same time from all
  // getting under the limit. Follow with Confirm if the registration linked (or was
  // held), Withdraw otherwise.
  struct Admission {
    bool hold = false;
    absl::Time at;
  };
  Admission Admit(const std::string& org_id);
  // The admitted registration linked to a person held elsewhere (or was held): it
  // stays counted. Returns an alert when the organisation's links in the window exceed
  // the threshold, at most once per window per organisation.
  std::optional<Alert> Confirm(const std::string& org_id, const Admission& admission);
  // The admitted registration did not link elsewhere: uncounted.
  void Withdraw(const std::string& org_id, const Admission& admission);

  // Notes a link made without Admit (a test's shorthand for Admit then Confirm).
  std::optional<Alert> NoteCrossOrgLink(const std::string& org_id);

  // True while `org_id` has at least max_cross_org_links links (or held attempts)
  // within the window.
  bool Holding(const std::string& org_id) const;

  // For metrics: every cross-organisation link noted, and every alert raised, since
  // start.
  int64_t cross_org_links_total() const;
  int64_t alerts_total() const;

 private:
  Clock* const clock_;
  const RegistrationAlertOptions options_;
  mutable absl::Mutex mu_;
  // Per organisation, the times of its most recent links and admissions, at most
  // 2 * max_cross_org_links + 64 of them (memory stays bounded whatever the rate).
  absl::flat_hash_map<std::string, std::deque<absl::Time>> recent_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, absl::Time> last_alert_ ABSL_GUARDED_BY(mu_);
  int64_t links_total_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t alerts_total_ ABSL_GUARDED_BY(mu_) = 0;
};

// A registration placed under the monitor's watch: admitted (counted) before it is
// placed, held for review if its organisation is at the threshold, then kept in the
// count if it linked to a person held elsewhere (or was held), withdrawn otherwise.
// `place` registers with the options it is given. `alert` is set when this
// registration took the organisation over the threshold.
struct WatchedPlacement {
  absl::StatusOr<RegisterResult> result;
  std::optional<RegistrationMonitor::Alert> alert;
};
WatchedPlacement PlaceWatched(
    RegistrationMonitor& monitor, const std::string& org_id,
    const std::function<absl::StatusOr<RegisterResult>(const RegisterOptions&)>& place);

}  // namespace hie::mpi

#endif  // HIE_MPI_INDEX_REGISTRATION_MONITOR_H_
