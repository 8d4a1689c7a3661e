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
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"

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
  // Notes that `org_id` registered a patient linked automatically to a person held by
  // another organisation. Returns an alert when the organisation's links in the window
  // exceed the threshold, at most once per window per organisation (a burst raises one
  // alert, a burst that goes on one per window).
  std::optional<Alert> NoteCrossOrgLink(const std::string& org_id);

  // True while `org_id` has at least max_cross_org_links links (or held attempts)
  // within the window: its next link to a person held elsewhere is to wait for an
  // operator. Note each held attempt with NoteCrossOrgLink too, so that a burst that
  // goes on stays held.
  bool Holding(const std::string& org_id) const;

  // For metrics: every cross-organisation link noted, and every alert raised, since
  // start.
  int64_t cross_org_links_total() const;
  int64_t alerts_total() const;

 private:
  Clock* const clock_;
  const RegistrationAlertOptions options_;
  mutable absl::Mutex mu_;
  // Per organisation, the times of its most recent links, at most
  // max_cross_org_links + 1 of them (memory stays bounded whatever the rate).
  absl::flat_hash_map<std::string, std::deque<absl::Time>> recent_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, absl::Time> last_alert_ ABSL_GUARDED_BY(mu_);
  int64_t links_total_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t alerts_total_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace hie::mpi

#endif  // HIE_MPI_INDEX_REGISTRATION_MONITOR_H_
