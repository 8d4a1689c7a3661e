// How the node is doing, for the practice's IT person (the admin's status page; the
// facts hie.v1.NodeStatusReport names): the services it depends on and whether each
// answers now, the registrations owed to the MPI, its certificate's expiry and what it
// holds. Plain C++: reachability is asked through injected probes, so the domain never
// sees a channel.
#ifndef HIE_NODE_DOMAIN_NODE_HEALTH_H_
#define HIE_NODE_DOMAIN_NODE_HEALTH_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "node/domain/outbox.h"
#include "node/domain/record_store.h"

namespace hie::node {

// Asks one service whether it answers, within `deadline` (it must return by then).
// OkStatus: reachable; otherwise why not (Unavailable, DeadlineExceeded...).
using ReachabilityProbe = std::function<absl::Status(absl::Duration deadline)>;

struct DependencyCheck {
  std::string name;  // "MPI", "consent service", "org-b's node"
  std::string address;
  // Null: the node is configured without this service (reported as not configured).
  ReachabilityProbe probe;
};

struct DependencyHealth {
  std::string name;
  std::string address;
  bool configured = false;
  bool reachable = false;
  // Why not, for a person; empty when reachable.
  std::string error;
  absl::Duration latency;
};

struct CertificateHealth {
  std::string subject;
  absl::Time not_after;
  int64_t days_left = 0;
  // Fewer than kCertificateWarnDays left (or expired).
  bool warn = false;
};

inline constexpr int64_t kCertificateWarnDays = 30;

struct NodeHealth {
  std::string org_id;
  absl::Time checked_at;
  std::vector<DependencyHealth> dependencies;  // in the order asked
  // Registrations and removals waiting for the MPI; nullopt when it could not be read.
  std::optional<int64_t> outbox_pending;
  // The certificate, or why it could not be read.
  std::optional<CertificateHealth> certificate;
  std::string certificate_error;
  // Current records by resource type; empty with records_error set when unreadable.
  std::map<std::string, int64_t> records_by_type;
  int64_t records = 0;
  std::string records_error;
};

struct NodeHealthSources {
  std::string org_id;
  const RecordStore* records = nullptr;  // may be null
  const Outbox* outbox = nullptr;        // may be null
  std::string certificate_file;          // PEM; "" when unknown
  std::vector<DependencyCheck> dependencies;
  // Each probe's deadline. The probes run in parallel, so the whole check takes about
  // this long at worst.
  absl::Duration probe_deadline = absl::Seconds(2);
};

// Collects the facts above. Blocks up to about probe_deadline: call it off the I/O
// threads. Never fails as a whole: each part that cannot be read says why.
NodeHealth CheckNodeHealth(const NodeHealthSources& sources, absl::Time now);

// The subject and expiry of the first certificate in a PEM file. Errors: NotFound or
// InvalidArgument, for a person.
absl::StatusOr<CertificateHealth> ReadCertificateHealth(const std::string& pem_file,
                                                        absl::Time now);

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_NODE_HEALTH_H_
