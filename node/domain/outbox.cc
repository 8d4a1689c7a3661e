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

absl::StatusOr<std::vector<std::pair<uint64_t, hie::v1::RegisterPatientRequest>>> Outbox::Oldest(
    size_t limit) const {
  std::vector<std::pair<uint64_t, hie::v1::RegisterPatientRequest>> out;
  absl::Status s =
      store_->ScanPrefix(Prefix(), [&](absl::string_view key, absl::string_view value) {
        KeyReader reader(key);
        std::string kind;
        uint64_t sequence = 0;
        hie::v1::RegisterPatientRequest request;
        if (reader.ReadString(&kind) && reader.ReadUint64(&sequence) &&
            request.ParseFromString(std::string(value))) {
          out.emplace_back(sequence, std::move(request));
        }
        return out.size() < limit;
      });
  if (!s.ok()) return s;
  return out;
}

absl::Status Outbox::Remove(uint64_t sequence) { return store_->Delete(Key(sequence)); }

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
