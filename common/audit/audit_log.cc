#include "common/audit/audit_log.h"

#include <algorithm>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/audit/audit_log_internal.h"
#include "common/crypto/hash.h"
#include "common/status/status_macros.h"
#include "common/store/key_codec.h"
#include "google/protobuf/util/time_util.h"

namespace hie::audit {
namespace internal {

std::string EncodeStored(const std::string& hash_hex, const std::string& body) {
  return hash_hex + body;
}

bool DecodeStored(absl::string_view stored, std::string* hash_hex, absl::string_view* body) {
  if (stored.size() < kHashHexSize) return false;
  *hash_hex = std::string(stored.substr(0, kHashHexSize));
  *body = stored.substr(kHashHexSize);
  return true;
}

std::string EntryKey(absl::string_view prefix, uint64_t sequence) {
  return store::KeyBuilder().AddString(prefix).AddString("e").AddUint64(sequence).Build();
}

std::string HeadKey(absl::string_view prefix) {
  return store::KeyBuilder().AddString(prefix).AddString("h").Build();
}

std::string HeadValue(uint64_t sequence, absl::string_view hash_hex) {
  return absl::StrCat(sequence, " ", hash_hex);
}

}  // namespace internal

namespace {

using internal::DecodeStored;
using internal::EncodeStored;
using internal::kHashHexSize;
using store::KeyBuilder;

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
  return internal::EntryKey(prefix_, sequence);
}

std::string AuditLog::HeadKey() const { return internal::HeadKey(prefix_); }

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
  {
    absl::MutexLock lock(&observer_mu_);
    if (observer_) observer_(entry.sequence());
  }
  return entry;
}

absl::Status AuditLog::AppendAll(std::vector<hie::v1::AuditEntry> entries) {
  if (entries.empty()) return absl::OkStatus();
  for (const hie::v1::AuditEntry& entry : entries) {
    if (entry.action() == hie::v1::AUDIT_ACTION_UNSPECIFIED) {
      return absl::InvalidArgumentError("audit entry needs an action");
    }
  }
  uint64_t last = 0;
  {
    absl::MutexLock lock(&mu_);
    for (hie::v1::AuditEntry& entry : entries) {
      HIE_ASSIGN_OR_RETURN(hie::v1::AuditEntry appended, AppendUnsyncedLocked(std::move(entry)));
      last = appended.sequence();
    }
  }
  HIE_RETURN_IF_ERROR(store_->Sync());
  {
    absl::MutexLock lock(&observer_mu_);
    if (observer_) observer_(last);
  }
  return absl::OkStatus();
}

void AuditLog::SetAppendObserver(std::function<void(uint64_t size)> observer) {
  absl::MutexLock lock(&observer_mu_);
  observer_ = std::move(observer);
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
  batch.Put(HeadKey(), internal::HeadValue(sequence, hash));
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

absl::Status AuditLog::ForEach(uint64_t from,
                               const std::function<bool(const hie::v1::AuditEntry&)>& visit) const {
  const std::string entries_prefix = KeyBuilder().AddString(prefix_).AddString("e").Build();
  absl::Status bad = absl::OkStatus();
  HIE_RETURN_IF_ERROR(store_->Scan(
      EntryKey(std::max<uint64_t>(from, 1)), store::PrefixSuccessor(entries_prefix),
      [&](absl::string_view key, absl::string_view stored) {
        store::KeyReader reader(key.substr(entries_prefix.size()));
        uint64_t at = 0;
        std::string hash;
        absl::string_view body;
        hie::v1::AuditEntry entry;
        if (!reader.ReadUint64(&at) || !DecodeStored(stored, &hash, &body) ||
            !entry.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
          bad = absl::DataLossError(absl::StrCat("audit entry ", at, " is unreadable"));
          return false;
        }
        entry.set_hash(std::move(hash));
        return visit(entry);
      }));
  return bad;
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

absl::StatusOr<std::vector<std::string>> AuditLog::EntryHashes(uint64_t from, uint64_t to) const {
  std::vector<std::string> hashes;
  if (to <= from) return hashes;
  hashes.reserve(to - from);
  uint64_t expected = from + 1;
  std::string entries_prefix = KeyBuilder().AddString(prefix_).AddString("e").Build();
  absl::Status bad = absl::OkStatus();
  HIE_RETURN_IF_ERROR(store_->Scan(
      EntryKey(from + 1), EntryKey(to + 1), [&](absl::string_view key, absl::string_view stored) {
        store::KeyReader reader(key.substr(entries_prefix.size()));
        uint64_t at = 0;
        std::string hash;
        absl::string_view body;
        if (!reader.ReadUint64(&at) || at != expected) {
          bad = absl::NotFoundError(absl::StrCat("audit entry ", expected, " is missing"));
          return false;
        }
        if (!DecodeStored(stored, &hash, &body)) {
          bad = absl::DataLossError(absl::StrCat("audit entry ", at, " is unreadable"));
          return false;
        }
        hashes.push_back(std::move(hash));
        ++expected;
        return true;
      }));
  HIE_RETURN_IF_ERROR(bad);
  if (expected != to + 1) {
    return absl::NotFoundError(absl::StrCat("audit entry ", expected, " is missing"));
  }
  return hashes;
}

absl::StatusOr<VerifyReport> AuditLog::VerifyAgainst(
    const std::vector<hie::v1::AuditCheckpoint>& witnessed) const {
  HIE_ASSIGN_OR_RETURN(VerifyReport report, Verify());
  // Every witnessed entry hash by sequence; two witnesses (or two checkpoints) that
  // disagree about one entry are a fork, reported at that entry.
  std::map<uint64_t, std::string> want;
  uint64_t fork_at = 0;
  for (const hie::v1::AuditCheckpoint& checkpoint : witnessed) {
    uint64_t at = checkpoint.from_size();
    for (const std::string& hash : checkpoint.entry_hashes()) {
      ++at;
      auto [it, inserted] = want.emplace(at, hash);
      if (!inserted && it->second != hash && (fork_at == 0 || at < fork_at)) fork_at = at;
    }
  }
  if (!want.empty()) report.witnessed_size = want.rbegin()->first;
  auto worse = [&report](uint64_t at, const char* problem, std::string detail) {
    if (!report.ok && report.first_bad_sequence <= at) return;
    report.ok = false;
    report.first_bad_sequence = at;
    report.problem = problem;
    report.detail = std::move(detail);
  };
  if (fork_at != 0) {
    worse(fork_at, "forked",
          absl::StrCat("witnessed checkpoints disagree about entry ", fork_at,
                       ": the chain was rewritten after one of them was deposited"));
  }
  if (want.empty()) return report;
  // Walk the stored entries alongside the witnessed hashes; stop at the first difference.
  std::string entries_prefix = KeyBuilder().AddString(prefix_).AddString("e").Build();
  auto next = want.begin();
  uint64_t expected = 1;
  HIE_RETURN_IF_ERROR(
      store_->ScanPrefix(entries_prefix, [&](absl::string_view key, absl::string_view stored) {
        if (next == want.end()) return false;
        store::KeyReader reader(key.substr(entries_prefix.size()));
        uint64_t at = 0;
        if (!reader.ReadUint64(&at)) return true;  // Verify reports malformed keys
        if (at != expected && expected <= next->first) {
          // A gap below a witnessed entry.
          worse(expected, "truncated",
                absl::StrCat("entry ", expected, " is missing but a witness holds a checkpoint of ",
                             want.rbegin()->first, " entries"));
          return false;
        }
        expected = at + 1;
        while (next != want.end() && next->first < at) ++next;
        if (next == want.end() || next->first != at) return true;
        std::string hash;
        absl::string_view body;
        if (!DecodeStored(stored, &hash, &body) || crypto::Sha256Hex(body) != hash ||
            hash != next->second) {
          worse(at, "rewritten",
                absl::StrCat("entry ", at,
                             " differs from the hash its witnesses hold: it was "
                             "rewritten after its checkpoint was deposited"));
          return false;
        }
        ++next;
        return true;
      }));
  if (next != want.end() && (report.ok || report.first_bad_sequence > next->first)) {
    uint64_t missing = std::max(expected, uint64_t{1});
    if (missing <= next->first) {
      worse(missing, "truncated",
            absl::StrCat("the log ends at entry ", missing - 1,
                         " but a witness holds a "
                         "checkpoint of ",
                         want.rbegin()->first, " entries"));
    }
  }
  return report;
}

uint64_t AuditLog::size() const {
  absl::MutexLock lock(&mu_);
  return last_sequence_;
}

}  // namespace hie::audit
