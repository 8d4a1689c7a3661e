#include "consent/domain/grant_keys.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/store/key_codec.h"
#include "common/time/proto_time.h"
#include "google/protobuf/util/time_util.h"

namespace hie::consent {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kGrantKey[] = "grant-key";
// Clock skew a holder is allowed (GrantVerifier's default is 30 s; leave room).
constexpr absl::Duration kSkew = absl::Minutes(1);

std::string RecordKey(const hie::v1::PublicKey& key) {
  return store::KeyBuilder()
      .AddString(kGrantKey)
      .AddInt64(TimeUtil::TimestampToNanoseconds(key.not_before()))
      .AddString(key.key_id())
      .Build();
}

}  // namespace

std::string GrantKeys::KeyPath(const std::string& key_id) const {
  return absl::StrCat(options_.key_dir, "/grant-", key_id, ".pem");
}

absl::StatusOr<std::unique_ptr<GrantKeys>> GrantKeys::Open(store::KvStore* store, Clock* clock,
                                                           GrantKeyOptions options) {
  if (mkdir(options.key_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(
        absl::StrCat("cannot create ", options.key_dir, ": ", std::strerror(errno)));
  }
  std::unique_ptr<GrantKeys> keys(new GrantKeys(store, clock, std::move(options)));
  absl::MutexLock lock(&keys->mu_);
  absl::Status scan = store->ScanPrefix(store::KeyBuilder().AddString(kGrantKey).Build(),
                                        [&](absl::string_view, absl::string_view v) {
                                          hie::v1::PublicKey key;
                                          if (key.ParseFromString(std::string(v)))
                                            keys->keys_.push_back(std::move(key));
                                          return true;
                                        });
  if (!scan.ok()) return scan;
  if (keys->keys_.empty()) {
    if (auto first = keys->RotateLocked(); !first.ok()) return first.status();
    return keys;
  }
  const hie::v1::PublicKey& newest = keys->keys_.back();
  absl::StatusOr<crypto::SigningKey> loaded =
      crypto::SigningKey::LoadFile(keys->KeyPath(newest.key_id()));
  if (!loaded.ok()) return loaded.status();
  if (loaded->key_id() != newest.key_id()) {
    return absl::DataLossError(
        absl::StrCat(keys->KeyPath(newest.key_id()), " does not hold the key it is named after"));
  }
  keys->current_ = std::make_shared<const crypto::SigningKey>(*std::move(loaded));
  keys->current_since_ = FromProtoTime(newest.not_before());
  return keys;
}

absl::StatusOr<std::shared_ptr<const crypto::SigningKey>> GrantKeys::Current() {
  absl::MutexLock lock(&mu_);
  if (clock_->Now() - current_since_ >= options_.rotation) {
    if (auto rotated = RotateLocked(); !rotated.ok()) return rotated.status();
  }
  return current_;
}

absl::StatusOr<hie::v1::PublicKey> GrantKeys::Rotate() {
  absl::MutexLock lock(&mu_);
  return RotateLocked();
}

absl::StatusOr<hie::v1::PublicKey> GrantKeys::RotateLocked() {
  absl::StatusOr<crypto::SigningKey> fresh = crypto::SigningKey::Generate();
  if (!fresh.ok()) return fresh.status();
  if (absl::Status s = fresh->WriteFile(KeyPath(fresh->key_id())); !s.ok()) return s;
  absl::Time now = clock_->Now();
  hie::v1::PublicKey record;
  record.set_key_id(fresh->key_id());
  record.set_ed25519(fresh->public_key());
  *record.mutable_not_before() = ToProtoTime(now);
  store::WriteBatch batch;
  batch.Put(RecordKey(record), record.SerializeAsString());
  std::string retired_id;
  if (!keys_.empty()) {
    hie::v1::PublicKey& previous = keys_.back();
    *previous.mutable_not_after() = ToProtoTime(now + options_.grant_validity + kSkew);
    batch.Put(RecordKey(previous), previous.SerializeAsString());
    retired_id = previous.key_id();
  }
  if (absl::Status s = store_->Write(batch); !s.ok()) {
    if (!keys_.empty()) keys_.back().clear_not_after();
    unlink(KeyPath(fresh->key_id()).c_str());
    return s;
  }
  // The retired private key signs nothing more: remove it.
  if (!retired_id.empty()) unlink(KeyPath(retired_id).c_str());
  keys_.push_back(record);
  current_ = std::make_shared<const crypto::SigningKey>(*std::move(fresh));
  current_since_ = now;
  return record;
}

std::vector<hie::v1::PublicKey> GrantKeys::PublicKeys() const {
  absl::MutexLock lock(&mu_);
  absl::Time now = clock_->Now();
  std::vector<hie::v1::PublicKey> out;
  for (auto it = keys_.rbegin(); it != keys_.rend(); ++it) {
    if (it->has_not_after() && FromProtoTime(it->not_after()) < now) continue;
    out.push_back(*it);
  }
  return out;
}

}  // namespace hie::consent
