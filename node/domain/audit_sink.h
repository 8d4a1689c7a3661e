// Where the node's domain code puts its audit entries: the node's hash chain in the
// daemon, a fake in tests (one that refuses, to show that nothing is answered without
// its record).
#ifndef HIE_NODE_DOMAIN_AUDIT_SINK_H_
#define HIE_NODE_DOMAIN_AUDIT_SINK_H_

#include <memory>

#include "absl/status/status.h"
#include "common/audit/audit_log.h"
#include "proto/hie/v1/audit.pb.h"

namespace hie::node {

// Implementations are thread-safe.
class AuditSink {
 public:
  virtual ~AuditSink() = default;

  // Appends `entry`; OK once it is durable. Errors: whatever kept it from being durable.
  virtual absl::Status Append(hie::v1::AuditEntry entry) = 0;

  // The node's audit chain as a sink. `log` must outlive the sink.
  static std::unique_ptr<AuditSink> ForLog(audit::AuditLog* log);
};

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_AUDIT_SINK_H_
