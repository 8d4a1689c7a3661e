#include "node/domain/record_store.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto/hash.h"
#include "common/store/key_codec.h"
#include "google/protobuf/util/time_util.h"

namespace hie::node {
namespace {

using store::KeyBuilder;

std::string CurrentKey(const std::string& patient, const std::string& type, const std::string& id) {
  return KeyBuilder().AddString("current").AddString(patient).AddString(type).AddString(id).Build();
}
std::string WhereKey(const std::string& type, const std::string& id) {
  return KeyBuilder().AddString("where").AddString(type).AddString(id).Build();
}
std::string HistoryKey(const std::string& type, const std::string& id, int64_t version) {
  return KeyBuilder().AddString("history").AddString(type).AddString(id).AddInt64(version).Build();
}

// ("where" value) patient \n version \n hash
struct Where {
  std::string patient;
  int64_t version = 0;
  std::string sha256;
};

std::string EncodeWhere(const Where& w) {
  return absl::StrCat(w.patient, "\n", w.version, "\n", w.sha256);
}

bool DecodeWhere(absl::string_view value, Where* w) {
  std::vector<std::string> parts = absl::StrSplit(value, absl::MaxSplits('\n', 2));
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[1], &w->version)) return false;
  w->patient = parts[0];
  w->sha256 = parts[2];
  return true;
}

}  // namespace

absl::StatusOr<PutOutcome> RecordStore::Put(std::vector<hie::v1::RecordEnvelope> records,
                                            const ChangeHook& on_change,
                                            const std::vector<PutCondition>& conditions) {
  PutOutcome outcome;
  store::WriteBatch batch;
  auto now =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock_->Now()));
  absl::MutexLock lock(&write_mu_);
  for (size_t i = 0; i < records.size(); ++i) {
    hie::v1::RecordEnvelope& record = records[i];
    const std::string name = absl::StrCat(record.resource_type(), "/", record.resource_id());
    Where where;
    absl::StatusOr<std::string> found =
        store_->Get(WhereKey(record.resource_type(), record.resource_id()));
    bool exists = found.ok();
    if (!exists && found.status().code() != absl::StatusCode::kNotFound) return found.status();
    if (exists && !DecodeWhere(*found, &where)) {
      return absl::DataLossError(absl::StrCat("index entry of ", name, " is unreadable"));
    }
    // A tombstone's index entry has no content hash.
    const bool live = exists && !where.sha256.empty();
    if (!conditions.empty()) {
      const PutCondition& condition = conditions[i];
      if (condition.if_version > 0 && (!exists || where.version != condition.if_version)) {
        return absl::FailedPreconditionError(
            exists ? absl::StrCat(name, " is at version ", where.version, ", not ",
                                  condition.if_version)
                   : absl::StrCat(name, " does not exist, so it is not at version ",
                                  condition.if_version));
      }
      if (condition.if_absent && live) {
        return absl::FailedPreconditionError(absl::StrCat(name, " exists"));
      }
    }
    if (record.deleted()) {
      if (!exists) return absl::NotFoundError(absl::StrCat("no ", name));
      if (!live) {
        record.set_version(where.version);
        outcome.kinds.push_back(PutOutcome::kUnchanged);
        ++outcome.unchanged;
        continue;
      }
      record.clear_fhir_json();
      record.clear_sensitivity();
      record.clear_content_sha256();
      record.set_patient_local_id(where.patient);
    } else {
      record.set_content_sha256(crypto::Sha256(record.fhir_json()));
      if (live && where.sha256 == record.content_sha256() &&
          where.patient == record.patient_local_id()) {
        record.set_version(where.version);
        outcome.kinds.push_back(PutOutcome::kUnchanged);
        ++outcome.unchanged;
        continue;
      }
    }
    if (exists && where.patient != record.patient_local_id()) {
      batch.Delete(CurrentKey(where.patient, record.resource_type(), record.resource_id()));
    }
    record.set_version(exists ? where.version + 1 : 1);
    *record.mutable_last_updated() = now;
    std::string bytes = record.SerializeAsString();
    batch.Put(CurrentKey(record.patient_local_id(), record.resource_type(), record.resource_id()),
              bytes);
    batch.Put(HistoryKey(record.resource_type(), record.resource_id(), record.version()), bytes);
    batch.Put(WhereKey(record.resource_type(), record.resource_id()),
              EncodeWhere({record.patient_local_id(), record.version(), record.content_sha256()}));
    if (on_change) on_change(record, batch);
    const PutOutcome::Kind kind = record.deleted() ? PutOutcome::kDeleted
                                  : live           ? PutOutcome::kUpdated
                                                   : PutOutcome::kCreated;
    outcome.kinds.push_back(kind);
    ++(kind == PutOutcome::kDeleted   ? outcome.deleted
       : kind == PutOutcome::kUpdated ? outcome.updated
                                      : outcome.created);
  }
  if (!batch.empty()) {
    if (absl::Status s = store_->Write(batch); !s.ok()) return s;
  }
  outcome.records = std::move(records);
  return outcome;
}

absl::StatusOr<hie::v1::RecordEnvelope> RecordStore::Get(const std::string& type,
                                                         const std::string& id) const {
  absl::StatusOr<std::string> found = store_->Get(WhereKey(type, id));
  if (!found.ok()) {
    if (found.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(absl::StrCat("no ", type, "/", id));
    }
    return found.status();
  }
  Where where;
  if (!DecodeWhere(*found, &where)) return absl::DataLossError("unreadable index entry");
  absl::StatusOr<std::string> bytes = store_->Get(CurrentKey(where.patient, type, id));
  if (!bytes.ok()) return bytes.status();
  hie::v1::RecordEnvelope record;
  if (!record.ParseFromString(*bytes)) return absl::DataLossError("unreadable record");
  return record;
}

absl::StatusOr<std::vector<hie::v1::RecordEnvelope>> RecordStore::History(
    const std::string& type, const std::string& id) const {
  std::vector<hie::v1::RecordEnvelope> out;
  absl::Status s =
      store_->ScanPrefix(KeyBuilder().AddString("history").AddString(type).AddString(id).Build(),
                         [&](absl::string_view, absl::string_view value) {
                           hie::v1::RecordEnvelope record;
                           if (record.ParseFromString(std::string(value)))
                             out.push_back(std::move(record));
                           return true;
                         });
  if (!s.ok()) return s;
  if (out.empty()) return absl::NotFoundError(absl::StrCat("no ", type, "/", id));
  return out;
}

absl::Status RecordStore::ForTypeHistory(
    const std::string& type,
    const std::function<bool(const hie::v1::RecordEnvelope&)>& visit) const {
  absl::Status corrupt;
  absl::Status s = store_->ScanPrefix(
      KeyBuilder().AddString("history").AddString(type).Build(),
      [&](absl::string_view, absl::string_view value) {
        hie::v1::RecordEnvelope record;
        if (!record.ParseFromString(std::string(value))) {
          corrupt = absl::DataLossError("unreadable record version in the store");
          return false;
        }
        return visit(record);
      });
  return s.ok() ? corrupt : s;
}

absl::Status RecordStore::ForPatient(
    const std::string& patient_local_id, const std::string& type,
    const std::function<bool(const hie::v1::RecordEnvelope&)>& visit) const {
  KeyBuilder prefix;
  prefix.AddString("current").AddString(patient_local_id);
  if (!type.empty()) prefix.AddString(type);
  absl::Status corrupt;
  absl::Status s =
      store_->ScanPrefix(prefix.Build(), [&](absl::string_view, absl::string_view value) {
        hie::v1::RecordEnvelope record;
        if (!record.ParseFromString(std::string(value))) {
          corrupt = absl::DataLossError("unreadable record in the store");
          return false;
        }
        return visit(record);
      });
  return s.ok() ? corrupt : s;
}

absl::Status RecordStore::ForType(
    const std::string& type,
    const std::function<bool(const hie::v1::RecordEnvelope&)>& visit) const {
  absl::Status failed;
  absl::Status s = store_->ScanPrefix(
      KeyBuilder().AddString("where").AddString(type).Build(),
      [&](absl::string_view key, absl::string_view value) {
        Where where;
        std::string kind, key_type, id;
        store::KeyReader reader(key);
        if (!DecodeWhere(value, &where) || !reader.ReadString(&kind) ||
            !reader.ReadString(&key_type) || !reader.ReadString(&id) || !reader.done()) {
          failed = absl::DataLossError(absl::StrCat("unreadable index entry of a ", type));
          return false;
        }
        absl::StatusOr<std::string> bytes = store_->Get(CurrentKey(where.patient, type, id));
        hie::v1::RecordEnvelope record;
        if (!bytes.ok()) {
          // Written in one batch with the index entry: missing means the store is damaged.
          failed = absl::IsNotFound(bytes.status())
                       ? absl::DataLossError(absl::StrCat(type, "/", id, " is indexed but missing"))
                       : bytes.status();
          return false;
        }
        if (!record.ParseFromString(*bytes)) {
          failed = absl::DataLossError("unreadable record in the store");
          return false;
        }
        return visit(record);
      });
  return s.ok() ? failed : s;
}

absl::StatusOr<int64_t> RecordStore::CountForPatient(const std::string& patient_local_id) const {
  int64_t n = 0;
  absl::Status s = ForPatient(patient_local_id, "", [&](const hie::v1::RecordEnvelope&) {
    ++n;
    return true;
  });
  if (!s.ok()) return s;
  return n;
}

absl::StatusOr<std::map<std::string, int64_t>> RecordStore::CountByType() const {
  std::map<std::string, int64_t> counts;
  const std::string prefix = KeyBuilder().AddString("where").Build();
  absl::Status s = store_->ScanPrefix(prefix, [&](absl::string_view key, absl::string_view value) {
    store::KeyReader reader(key);
    std::string kind, type;
    Where where;
    // A deleted record's entry keeps its version, not a hash.
    if (reader.ReadString(&kind) && reader.ReadString(&type) && DecodeWhere(value, &where) &&
        !where.sha256.empty()) {
      ++counts[type];
    }
    return true;
  });
  if (!s.ok()) return s;
  return counts;
}

}  // namespace hie::node
