// Security refusals at the shared gRPC/TLS layer, made into audit entries without
// letting a flood fill the disk or drown the log.
//
// The layer that refuses (the TLS verifier, the call guard, the CRL loader) reports a
// SecurityEvent to a SecurityEventSink. It does not know where audit entries go:
// common/grpc depends on no domain. Each daemon's main wires a SecurityEventRecorder to
// its own audit chain (daemon_main.cc).
//
// Aggregation: events are keyed by (kind, peer, subject, reason). The first event of a
// key is written at once; further events of that key within `window` are only counted,
// and one summary entry with the count is written when the window ends. A key with no
// events in a whole window is forgotten (its next event is written at once again).
// A certificate the exchange CA did not issue is one key per kind, whatever it names
// (its subject and serial are the sender's choice and are not kept). Each kind holds at
// most `max_keys` keys of its own; events of new keys past that share one overflow key
// of the kind ("many peers"). So a flood of one kind never hides another kind's first
// refusal, and foreign certificates never hide a CA-issued identity's. At most about
// 2 x 3 x (max_keys + 1) entries are written per window, whatever arrives.
#ifndef HIE_COMMON_GRPC_SECURITY_EVENTS_H_
#define HIE_COMMON_GRPC_SECURITY_EVENTS_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"

namespace hie {

enum class SecurityEventKind {
  kAuthentication,  // a TLS handshake refused (chain, revocation, key usage)
  kAuthorization,   // a call refused by the call guard (role, revocation, limits)
  kSecurityConfig,  // security material refused (e.g. a CRL older than one in force)
};

absl::string_view SecurityEventKindName(SecurityEventKind kind);

// The reason kept for every certificate the exchange CA did not issue.
inline constexpr char kForeignIssuerReason[] =
    "TLS handshake refused: certificate not issued by the exchange CA";

struct SecurityEvent {
  SecurityEventKind kind = SecurityEventKind::kAuthentication;
  // The peer's address when the layer knows it, else empty (gRPC 1.51 gives neither
  // the certificate verifier nor the call guard the peer's address).
  std::string peer_address;
  // The certificate's org id (empty if none could be read), subject and serial.
  std::string org_id;
  std::string subject;
  std::string serial_hex;
  // The method refused (authorization), else empty.
  std::string method;
  // Why it was refused, one line.
  std::string reason;
  // The certificate was not issued by the exchange CA: the recorder aggregates all such
  // events of a kind under one key and keeps neither subject, serial nor org.
  bool foreign_issuer = false;
};

// The longest method, subject, org, serial or address a recorded event keeps, in
// bytes, and the longest reason; longer ones are cut and end in kCutMarker (each is
// partly the peer's choice).
inline constexpr size_t kMaxEventFieldBytes = 128;
inline constexpr size_t kMaxEventReasonBytes = 256;
inline constexpr char kCutMarker[] = "...(cut)";

// Receives security events. Implementations are thread-safe and never block for long:
// Record is called on gRPC's threads, in the middle of handshakes and calls.
class SecurityEventSink {
 public:
  virtual ~SecurityEventSink() = default;
  virtual void Record(const SecurityEvent& event) = 0;
};

// Counters a /metrics page can read (monotonic).
struct SecurityEventCounters {
  uint64_t authentication = 0;  // events recorded, by kind
  uint64_t authorization = 0;
  uint64_t security_config = 0;
  uint64_t entries_written = 0;  // audit entries written (first + summary)
  uint64_t entries_failed = 0;   // writes the writer refused (logged)
  uint64_t overflowed = 0;       // events aggregated under an overflow key
};

struct SecurityEventRecorderOptions {
  absl::Duration window = absl::Seconds(60);
  size_t max_keys = 256;
  Clock* clock = Clock::Real();  // must outlive the recorder
};

// Thread-safe. Owns a background thread that writes entries and ends windows; it
// stops in Stop() or the destructor.
class SecurityEventRecorder final : public SecurityEventSink {
 public:
  // Writes one audit entry: `event` (the first of its key) with `count` 1 and
  // `summary` false, or the window's summary with the number of events it stood for.
  using Writer =
      std::function<absl::Status(const SecurityEvent& event, uint64_t count, bool summary)>;

  explicit SecurityEventRecorder(SecurityEventRecorderOptions options = {});
  ~SecurityEventRecorder() override;

  // Sets (or clears, with nullptr) where entries go. Until a writer is set, entries are
  // only logged. The writer runs on the recorder's thread only.
  void SetWriter(Writer writer) ABSL_LOCKS_EXCLUDED(mu_);

  // Keeps what is recorded queued, rather than only logged, until SetWriter is called
  // (with a writer or nullptr) or Stop: a daemon's refusals at start (before its audit
  // chain is open) still reach the chain.
  void HoldUntilWriter() ABSL_LOCKS_EXCLUDED(mu_);

  void Record(const SecurityEvent& event) override ABSL_LOCKS_EXCLUDED(mu_);

  // Writes what is queued and the summaries of windows that have ended, now (the thread
  // does this on its own at least once a second). When it returns, every event recorded
  // before the call is written or counted in a window.
  void Flush() ABSL_LOCKS_EXCLUDED(mu_);

  // Flushes everything (open windows included), then stops the thread and drops the
  // writer. Idempotent. Call before whatever the writer uses is destroyed.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  SecurityEventCounters counters() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Slot {
    SecurityEvent first;
    absl::Time window_start;
    uint64_t pending = 0;  // events since the last entry written for this key
    bool budgeted = true;  // counts against its kind's max_keys (not an overflow key)
  };
  static constexpr int kKinds = 3;
  struct Pending {
    SecurityEvent event;
    uint64_t count;
    bool summary;
  };

  // Moves ended windows (all with `all`) to the queue. Returns the entries to write.
  std::deque<Pending> TakeWorkLocked(bool all) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Write(std::deque<Pending> work) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Loop();
  bool ShouldWake() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || !queue_.empty(); }

  const SecurityEventRecorderOptions options_;
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);  // serialises writes
  mutable absl::Mutex mu_;
  Writer writer_ ABSL_GUARDED_BY(write_mu_);
  bool held_ ABSL_GUARDED_BY(write_mu_) = false;
  absl::flat_hash_map<std::string, Slot> slots_ ABSL_GUARDED_BY(mu_);
  size_t keys_of_kind_[kKinds] ABSL_GUARDED_BY(mu_) = {};  // budgeted slots per kind
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  SecurityEventCounters counters_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// One line for logs and audit details: "authorization refused: org "x" (serial ..)
// calling M: reason".
std::string DescribeSecurityEvent(const SecurityEvent& event);

}  // namespace hie

#endif  // HIE_COMMON_GRPC_SECURITY_EVENTS_H_
