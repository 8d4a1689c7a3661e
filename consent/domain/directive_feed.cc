#include "consent/domain/directive_feed.h"

#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <limits>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "common/store/key_codec.h"
#include "common/time/proto_time.h"

namespace hie::consent {
namespace {

constexpr absl::Duration kPurgeEvery = absl::Minutes(1);

// feed/<seq> -> DirectiveChange; feed-last -> the last sequence (kept when every change
// has been purged, so sequences never go back).
std::string ChangeKey(int64_t sequence) {
  return store::KeyBuilder().AddString("feed").AddInt64(sequence).Build();
}
std::string LastKey() { return store::KeyBuilder().AddString("feed-last").Build(); }
std::string SecretKey() { return store::KeyBuilder().AddString("feed-secret").Build(); }

}  // namespace

std::string DirectiveFeed::PatientKey(absl::string_view euid) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
           reinterpret_cast<const unsigned char*>(euid.data()), euid.size(), mac,
           &length) == nullptr) {
    std::abort();  // OpenSSL's HMAC failing is not something to carry on from
  }
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(mac), length));
}

absl::StatusOr<std::unique_ptr<DirectiveFeed>> DirectiveFeed::Open(store::KvStore* store,
                                                                   Clock* clock) {
  int64_t last = 0;
  absl::StatusOr<std::string> stored = store->Get(LastKey());
  if (stored.ok()) {
    if (!absl::SimpleAtoi(*stored, &last)) {
      return absl::DataLossError("the directive feed's last sequence is corrupt");
    }
  } else if (stored.status().code() != absl::StatusCode::kNotFound) {
    return stored.status();
  }
  std::string secret;
  absl::StatusOr<std::string> stored_secret = store->Get(SecretKey());
  if (stored_secret.ok()) {
    secret = *std::move(stored_secret);
  } else if (stored_secret.status().code() == absl::StatusCode::kNotFound) {
    unsigned char bytes[32];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) std::abort();
    secret.assign(reinterpret_cast<const char*>(bytes), sizeof(bytes));
    HIE_RETURN_IF_ERROR(store->Put(SecretKey(), secret));
  } else {
    return stored_secret.status();
  }
  return std::unique_ptr<DirectiveFeed>(new DirectiveFeed(store, clock, std::move(secret), last));
}

std::string DirectiveFeed::RegistrationKey(absl::string_view org_id,
                                           absl::string_view local_id) const {
  return PatientKey(absl::StrCat("registration\n", org_id, "\n", local_id));
}

absl::StatusOr<hie::v1::DirectiveChange> DirectiveFeed::Append(absl::string_view euid) {
  return AppendKey(PatientKey(euid));
}

absl::StatusOr<hie::v1::DirectiveChange> DirectiveFeed::AppendRegistration(
    absl::string_view org_id, absl::string_view local_id) {
  return AppendKey(RegistrationKey(org_id, local_id));
}

absl::StatusOr<hie::v1::DirectiveChange> DirectiveFeed::AppendKey(std::string key) {
  absl::MutexLock lock(&mu_);
  hie::v1::DirectiveChange change;
  change.set_sequence(last_ + 1);
  change.set_patient_key(std::move(key));
  *change.mutable_changed_at() = ToProtoTime(clock_->Now());
  store::WriteBatch batch;
  batch.Put(ChangeKey(change.sequence()), change.SerializeAsString());
  batch.Put(LastKey(), absl::StrCat(change.sequence()));
  HIE_RETURN_IF_ERROR(store_->Write(batch));
  last_ = change.sequence();
  return change;
}

int64_t DirectiveFeed::LastSequence() const {
  absl::MutexLock lock(&mu_);
  return last_;
}

absl::StatusOr<std::vector<hie::v1::DirectiveChange>> DirectiveFeed::After(int64_t after, int max) {
  {
    absl::MutexLock lock(&mu_);
    if (clock_->Now() - last_purge_ >= kPurgeEvery) {
      last_purge_ = clock_->Now();
      (void)PurgeLocked();  // a failed purge only delays it
    }
  }
  std::vector<hie::v1::DirectiveChange> out;
  absl::Status corrupt;
  HIE_RETURN_IF_ERROR(
      store_->Scan(ChangeKey(after + 1), ChangeKey(std::numeric_limits<int64_t>::max()),
                   [&](absl::string_view, absl::string_view value) {
                     hie::v1::DirectiveChange change;
                     if (!change.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
                       corrupt = absl::DataLossError("a directive change is corrupt");
                       return false;
                     }
                     out.push_back(std::move(change));
                     return static_cast<int>(out.size()) < max;
                   }));
  HIE_RETURN_IF_ERROR(corrupt);
  return out;
}

absl::StatusOr<int64_t> DirectiveFeed::Purge() {
  absl::MutexLock lock(&mu_);
  last_purge_ = clock_->Now();
  return PurgeLocked();
}

absl::StatusOr<int64_t> DirectiveFeed::PurgeLocked() {
  absl::Time cutoff = clock_->Now() - kDirectiveChangeRetention;
  store::WriteBatch batch;
  // Sequences follow time: stop at the first change still kept.
  HIE_RETURN_IF_ERROR(store_->ScanPrefix(store::KeyBuilder().AddString("feed").Build(),
                                         [&](absl::string_view key, absl::string_view value) {
                                           hie::v1::DirectiveChange change;
                                           if (change.ParseFromArray(
                                                   value.data(), static_cast<int>(value.size())) &&
                                               FromProtoTime(change.changed_at()) >= cutoff) {
                                             return false;
                                           }
                                           batch.Delete(key);
                                           return batch.size() < 10000;
                                         }));
  if (batch.empty()) return 0;
  HIE_RETURN_IF_ERROR(store_->Write(batch));
  return static_cast<int64_t>(batch.size());
}

}  // namespace hie::consent
