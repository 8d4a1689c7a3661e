#include "common/audit/audit_log.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto/hash.h"
#include "common/status/status_macros.h"
#include "common/store/key_codec.h"
#include "google/protobuf/util/time_util.h"

namespace hie::audit {
namespace {

using store::KeyBuilder;

constexpr size_t kHashHexSize = 64;

// A stored entry is its hex hash followed by its body: the serialized AuditEntry with
// `hash` empty. The hash is computed over exactly those bytes, so verifying never
// depends on serializing a message the same way twice.
std::string EncodeStored(const std::string& hash_hex, const std::string& body) {
  return hash_hex + body;
}

bool DecodeStored(absl::string_view stored, std::string* hash_hex, absl::string_view* body) {
  if (stored.size() < kHashHexSize) return false;
  *hash_hex = std::string(stored.substr(0, kHashHexSize));
  *body = stored.substr(kHashHexSize);
  return true;
}

}  // namespace

const std::string& AuditLog::GenesisHash() {
  static const std::string* const kGenesis = new std::string(kHashHexSize, '0');
  return *kGenesis;
}

AuditLog::AuditLog(store::KvStore* store, Clock* clock, std::string prefix, uint64_t last_sequence,
                   std::string last_hash)
    : store_(store),
      clock_(clock),
      prefix_(std::move(prefix)),
      last_sequence_(last_sequence),
      last_hash_(std::move(last_hash)) {}

std::string AuditLog::EntryKey(uint64_t sequence) const {
  return KeyBuilder().AddString(prefix_).AddString("e").AddUint64(sequence).Build();
}

std::string AuditLog::HeadKey() const {
  return KeyBuilder().AddString(prefix_).AddString("h").Build();
}

std::string AuditLog::PatientIndexPrefix(const PatientKey& patient) const {
  KeyBuilder key;
  key.AddString(prefix_).AddString("p");
  if (!patient.euid.empty()) {
    key.AddString("euid").AddString(patient.euid);
  } else {
    key.AddString("local").AddString(patient.org_id).AddString(patient.local_id);
  }
  return key.Build();
}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(store::KvStore* store, Clock* clock,
                                                         absl::string_view key_prefix) {
  std::string prefix(key_prefix);
  std::string head_key = KeyBuilder().AddString(prefix).AddString("h").Build();
  auto head = store->Get(head_key);
  uint64_t last_sequence = 0;
  std::string last_hash = GenesisHash();
  if (head.ok()) {
    std::vector<std::string> parts = absl::StrSplit(*head, ' ');
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &last_sequence) ||
        parts[1].size() != kHashHexSize) {
      return absl::DataLossError(absl::StrCat("audit log '", prefix, "' in ", store->dir(),
                                              ": head record is unreadable"));
    }
    last_hash = parts[1];
  } else if (head.status().code() != absl::StatusCode::kNotFound) {
    return head.status();
  }
  return std::unique_ptr<AuditLog>(
      new AuditLog(store, clock, std::move(prefix), last_sequence, std::move(last_hash)));
}

absl::StatusOr<hie::v1::AuditEntry> AuditLog::Append(hie::v1::AuditEntry entry) {
  if (entry.action() == hie::v1::AUDIT_ACTION_UNSPECIFIED) {
    return absl::InvalidArgumentError("audit entry needs an action");
  }
  {
    absl::MutexLock lock(&mu_);
    HIE_ASSIGN_OR_RETURN(entry, AppendUnsyncedLocked(std::move(entry)));
  }
  // Group commit: the chain is extended under the lock, the log is synced outside it, so
  // that concurrent appenders share one fsync (LevelDB folds waiting synced writes into
  // one). The entry is acknowledged only once its write is durable.
  HIE_RETURN_IF_ERROR(store_->Sync());
  return entry;
}

absl::StatusOr<hie::v1::AuditEntry> AuditLog::AppendUnsyncedLocked(hie::v1::AuditEntry entry) {
  uint64_t sequence = last_sequence_ + 1;
  entry.set_sequence(sequence);
  *entry.mutable_time() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock_->Now()));
  entry.set_prev_hash(last_hash_);
  entry.clear_hash();
  std::string body;
  if (!entry.SerializeToString(&body)) return absl::InternalError("cannot encode audit entry");
  std::string hash = crypto::Sha256Hex(body);

  store::WriteBatch batch;
  batch.Put(EntryKey(sequence), EncodeStored(hash, body));
  batch.Put(HeadKey(), absl::StrCat(sequence, " ", hash));
  std::string seq_key = KeyBuilder().AddUint64(sequence).Build();
  if (!entry.patient().org_id().empty() || !entry.patient().local_id().empty()) {
    batch.Put(PatientIndexPrefix(
                  PatientKey::Local(entry.patient().org_id(), entry.patient().local_id())) +
                  seq_key,
              "");
  }
  if (!entry.euid().empty()) {
    batch.Put(PatientIndexPrefix(PatientKey::Euid(entry.euid())) + seq_key, "");
  }
  HIE_RETURN_IF_ERROR(store_->WriteUnsynced(batch));
  last_sequence_ = sequence;
  last_hash_ = hash;
  entry.set_hash(hash);
  return entry;
}

absl::StatusOr<std::vector<hie::v1::AuditEntry>> AuditLog::QueryByPatient(
    const PatientKey& patient) const {
  if (patient.euid.empty() && (patient.org_id.empty() || patient.local_id.empty())) {
    return absl::InvalidArgumentError("name the patient by EUID or by org and local id");
  }
  std::string index = PatientIndexPrefix(patient);
  std::vector<uint64_t> sequences;
  HIE_RETURN_IF_ERROR(store_->ScanPrefix(index, [&](absl::string_view key, absl::string_view) {
    store::KeyReader reader(key.substr(index.size()));
    uint64_t sequence = 0;
    if (reader.ReadUint64(&sequence)) sequences.push_back(sequence);
    return true;
  }));
  std::vector<hie::v1::AuditEntry> entries;
  for (uint64_t sequence : sequences) {
    HIE_ASSIGN_OR_RETURN(std::string stored, store_->Get(EntryKey(sequence)));
    std::string hash;
    absl::string_view body;
    hie::v1::AuditEntry entry;
    if (!DecodeStored(stored, &hash, &body) || !entry.ParseFromArray(body.data(), body.size())) {
      return absl::DataLossError(absl::StrCat("audit entry ", sequence, " is unreadable"));
    }
    entry.set_hash(hash);
    entries.push_back(std::move(entry));
  }
  return entries;
}

absl::StatusOr<VerifyReport> AuditLog::Verify() const {
  VerifyReport report;
  uint64_t expected = 1;
  std::string prev = GenesisHash();
  std::string entries_prefix = KeyBuilder().AddString(prefix_).AddString("e").Build();
  auto fail = [&](uint64_t sequence, const char* problem, std::string detail) {
    report.ok = false;
    report.first_bad_sequence = sequence;
    report.problem = problem;
    report.detail = std::move(detail);
    return false;  // stop the scan
  };
  HIE_RETURN_IF_ERROR(store_->ScanPrefix(entries_prefix, [&](absl::string_view key,
                                                             absl::string_view stored) {
    store::KeyReader reader(key.substr(entries_prefix.size()));
    uint64_t at = 0;
    if (!reader.ReadUint64(&at) || !reader.done()) {
      return fail(expected, "altered", "a record with a malformed key sits in the log");
    }
    if (at != expected) {
      return fail(expected, "missing",
                  absl::StrCat("entry ", expected, " is missing (the next entry is ", at, ")"));
    }
    std::string hash;
    absl::string_view body;
    hie::v1::AuditEntry entry;
    if (!DecodeStored(stored, &hash, &body) || crypto::Sha256Hex(body) != hash ||
        !entry.ParseFromArray(body.data(), body.size())) {
      return fail(at, "altered", absl::StrCat("entry ", at, " does not match its hash"));
    }
    if (entry.sequence() != at) {
      return fail(at, "out of order",
                  absl::StrCat("entry ", entry.sequence(), " is stored in place of entry ", at));
    }
    if (entry.prev_hash() != prev) {
      // Entry `at` is intact on its own but does not follow its predecessor: the
      // predecessor was rewritten (hash recomputed) or this entry was forged after it.
      uint64_t bad = at > 1 ? at - 1 : at;
      return fail(bad, "altered",
                  absl::StrCat("entry ", at, " does not chain to entry ", at - 1, ": entry ",
                               at - 1, " was rewritten or entry ", at, " was forged"));
    }
    prev = hash;
    report.entries_checked = at;
    ++expected;
    return true;
  }));
  if (report.ok) {
    absl::MutexLock lock(&mu_);
    if (report.entries_checked < last_sequence_) {
      fail(report.entries_checked + 1, "truncated",
           absl::StrCat("the head records ", last_sequence_, " entries but the log ends at ",
                        report.entries_checked));
    } else if (report.entries_checked > 0 && prev != last_hash_) {
      fail(report.entries_checked, "altered",
           absl::StrCat("the last entry's hash differs from the head record's"));
    }
  }
  report.head_hash = prev;
  return report;
}

uint64_t AuditLog::size() const {
  absl::MutexLock lock(&mu_);
  return last_sequence_;
}

}  // namespace hie::audit
