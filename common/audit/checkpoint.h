// Witnessed audit checkpoints: a party signs its audit chain's head with the key of its
// TLS certificate and deposits it with other parties (its witnesses), who keep every
// member's checkpoints and refuse any that contradicts one they hold. A rewrite of the
// chain below a witnessed checkpoint then shows in AuditLog::VerifyAgainst, whoever
// holds the party's store.
//
// A checkpoint (hie.v1.AuditCheckpoint) covers the entries since the previous one and
// carries each entry's hash, so a verifier names the first entry that changed.
#ifndef HIE_COMMON_AUDIT_CHECKPOINT_H_
#define HIE_COMMON_AUDIT_CHECKPOINT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/audit/audit_log.h"
#include "common/store/kv_store.h"
#include "common/time/clock.h"
#include "proto/hie/v1/audit.pb.h"

namespace hie::audit {

// The most entry hashes one checkpoint carries; a longer stretch is cut into several.
inline constexpr uint64_t kMaxEntriesPerCheckpoint = 1000;

// Signs `message` with the private key in `key_pem` (ECDSA P-256 as the exchange CA
// issues, or any key OpenSSL signs SHA-256 digests with). Returns a DER signature.
// Errors: InvalidArgument if the key does not parse; Internal if OpenSSL fails.
absl::StatusOr<std::string> SignWithKey(absl::string_view key_pem, absl::string_view message);

// OK if `signature` is a signature of `message` by the public key of the first
// certificate in `cert_pem`. Errors: InvalidArgument if the certificate does not parse;
// PermissionDenied if the signature does not verify.
absl::Status VerifyWithCertificate(absl::string_view cert_pem, absl::string_view message,
                                   absl::string_view signature);

// Parses and checks the shape of a checkpoint: size = from_size + entry count, between
// 1 and kMaxEntriesPerCheckpoint hashes of 64 lower-case hex characters, head_hash the
// last of them. Errors: InvalidArgument naming what is wrong.
absl::StatusOr<hie::v1::AuditCheckpoint> ParseCheckpoint(absl::string_view bytes);

// Who a checkpoint belongs to: a party as its certificate names it.
struct Party {
  std::string org_id;
  std::string role;  // "node", "mpi", "consent"
};

// Where checkpoints go: `deposit` hands one to the witness named `witness` and returns
// its answer (OK once the witness holds it). Called from the Checkpointer's thread only.
struct Witness {
  std::string name;     // stable: keys the outbox ("consent", "mpi")
  std::string address;  // for reports
  std::function<absl::Status(const hie::v1::SignedCheckpoint&)> deposit;
};

struct CheckpointerOptions {
  Party self;
  // The PEM private key of the party's TLS certificate, re-read at each signature so a
  // rotated key is used at once.
  std::string key_file;
  // The exchange CA certificate file, for checking checkpoints read back from witnesses.
  std::string ca_file;
  absl::Duration interval = absl::Seconds(60);
  uint64_t every_entries = 100;
  // Delay before retrying a witness that failed, doubled up to max_retry.
  absl::Duration min_retry = absl::Seconds(1);
  absl::Duration max_retry = absl::Seconds(60);
};

// Signs checkpoints of one AuditLog, keeps them in the log's store and deposits each
// with every witness through a persistent outbox (a witness that is down gets them
// later, in order; a restart loses nothing). Appends never wait for it: the log only
// wakes the Checkpointer's thread. Thread-safe.
class Checkpointer {
 public:
  // `log` must outlive the Checkpointer; the thread starts at once. Installs itself as
  // the log's append observer. Errors: what reading the store returns.
  static absl::StatusOr<std::unique_ptr<Checkpointer>> Start(AuditLog* log, Clock* clock,
                                                             CheckpointerOptions options,
                                                             std::vector<Witness> witnesses);
  // Stops the thread (an outstanding deposit call finishes first).
  ~Checkpointer();

  // Signs checkpoints up to the log's current size and tries every pending deposit
  // once, now. The thread does this on its own; exposed for tests.
  absl::Status RunOnceForTest();

  // The size covered by the last checkpoint kept locally.
  uint64_t checkpointed_size() const;

 private:
  Checkpointer(AuditLog* log, Clock* clock, CheckpointerOptions options,
               std::vector<Witness> witnesses, uint64_t checkpointed);
  void Loop();
  void OnAppend(uint64_t size);
  // Signs and stores checkpoints up to the log's size (at most one per
  // kMaxEntriesPerCheckpoint entries), each queued for every witness.
  absl::Status MakeCheckpoints();
  // Deposits queued checkpoints with witness `i`, oldest first; stops at its first failure.
  absl::Status Drain(size_t i);

  AuditLog* const log_;
  store::KvStore* const store_;
  Clock* const clock_;
  const CheckpointerOptions options_;
  const std::vector<Witness> witnesses_;

  absl::Mutex work_mu_;  // serializes MakeCheckpoints and Drain
  mutable absl::Mutex mu_;
  uint64_t checkpointed_ ABSL_GUARDED_BY(mu_);
  uint64_t appended_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_checkpoint_ ABSL_GUARDED_BY(mu_);
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<absl::Time> retry_at_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Duration> backoff_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// What a witness keeps: every member's checkpoints, in its own store. Deposits of one
// party are checked against everything held for it. Thread-safe.
class WitnessStore {
 public:
  // `store` and `audit` (where refusals are recorded) must outlive it.
  WitnessStore(store::KvStore* store, AuditLog* audit, Clock* clock)
      : store_(store), audit_(audit), clock_(clock) {}

  // Keeps `deposit` from `caller`, whose certificate is `caller_cert_pem`. Returns the
  // highest size held for the caller. Errors: PermissionDenied (reason
  // CHECKPOINT_REFUSED) if the checkpoint names another party or the signature does not
  // verify with the caller's certificate; FailedPrecondition (reason CHECKPOINT_FORK) if
  // it contradicts a held checkpoint (an entry hash differs), kept as evidence; both
  // audited (AUDIT_ACTION_CHECKPOINT). InvalidArgument if malformed. A deposit equal to a
  // held one is OK.
  absl::StatusOr<uint64_t> Deposit(const Party& caller, absl::string_view caller_cert_pem,
                                   hie::v1::SignedCheckpoint deposit);

  // Every checkpoint held for `party`, by size.
  absl::StatusOr<std::vector<hie::v1::SignedCheckpoint>> List(const Party& party) const;

  // Refused forks recorded for `party`, oldest first.
  absl::StatusOr<std::vector<hie::v1::SignedCheckpoint>> Forks(const Party& party) const;

 private:
  absl::Status Refuse(const Party& caller, absl::Status status, absl::string_view what);
  std::string PartyPrefix(absl::string_view kind, const Party& party) const;

  store::KvStore* const store_;
  AuditLog* const audit_;
  Clock* const clock_;
  absl::Mutex mu_;  // one deposit at a time
};

}  // namespace hie::audit

#endif  // HIE_COMMON_AUDIT_CHECKPOINT_H_
