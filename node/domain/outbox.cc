#include "node/domain/outbox.h"

#include "common/store/key_codec.h"

namespace hie::node {
namespace {

using store::KeyBuilder;
using store::KeyReader;

std::string Prefix() { return KeyBuilder().AddString("outbox").Build(); }
std::string Key(uint64_t sequence) {
  return KeyBuilder().AddString("outbox").AddUint64(sequence).Build();
}
std::string RemovalKey(uint64_t sequence) {
  return KeyBuilder().AddString("outbox").AddUint64(sequence).AddString("remove").Build();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Outbox>> Outbox::Open(store::KvStore* store) {
  uint64_t last = 0;
  auto found = store->LastWithPrefix(Prefix());
  if (found.ok()) {
    KeyReader reader(found->first);
    std::string kind;
    if (!reader.ReadString(&kind) || !reader.ReadUint64(&last)) {
      return absl::DataLossError("unreadable outbox key");
    }
  } else if (found.status().code() != absl::StatusCode::kNotFound) {
    return found.status();
  }
  return std::unique_ptr<Outbox>(new Outbox(store, last));
}

void Outbox::Stage(store::WriteBatch& batch, const hie::v1::RegisterPatientRequest& request) {
  absl::MutexLock lock(&mu_);
  batch.Put(Key(++last_), request.SerializeAsString());
}

void Outbox::Stage(store::WriteBatch& batch, const hie::v1::RemovePatientRequest& request) {
  absl::MutexLock lock(&mu_);
  batch.Put(RemovalKey(++last_), request.SerializeAsString());
}

absl::StatusOr<std::vector<OutboxEntry>> Outbox::Oldest(size_t limit) const {
  std::vector<OutboxEntry> out;
  absl::Status s =
      store_->ScanPrefix(Prefix(), [&](absl::string_view key, absl::string_view value) {
        KeyReader reader(key);
        std::string kind;
        std::string operation;
        OutboxEntry entry;
        if (!reader.ReadString(&kind) || !reader.ReadUint64(&entry.sequence)) return true;
        if (reader.done()) {
          hie::v1::RegisterPatientRequest request;
          if (request.ParseFromString(std::string(value))) entry.registration = std::move(request);
        } else if (reader.ReadString(&operation) && operation == "remove") {
          hie::v1::RemovePatientRequest request;
          if (request.ParseFromString(std::string(value))) entry.removal = std::move(request);
        }
        if (entry.registration || entry.removal) out.push_back(std::move(entry));
        return out.size() < limit;
      });
  if (!s.ok()) return s;
  return out;
}

absl::Status Outbox::Remove(uint64_t sequence) {
  store::WriteBatch batch;
  batch.Delete(Key(sequence));
  batch.Delete(RemovalKey(sequence));
  return store_->Write(batch);
}

absl::StatusOr<int64_t> Outbox::Pending() const {
  int64_t n = 0;
  absl::Status s = store_->ScanPrefix(Prefix(), [&](absl::string_view, absl::string_view) {
    ++n;
    return true;
  });
  if (!s.ok()) return s;
  return n;
}

}  // namespace hie::node
