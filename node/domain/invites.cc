#include "node/domain/invites.h"

#include <openssl/rand.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/hash.h"
#include "common/status/status_macros.h"
#include "common/store/key_codec.h"
#include "common/time/proto_time.h"
#include "proto/hie/v1/account.pb.h"

namespace hie::node {
namespace {

// 32 symbols (5 bits each, so a random byte's low bits pick one without bias): A-Z and
// 2-9 without I and O, which are read as 1 and 0.
constexpr char kAlphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
constexpr int kCodeLength = 12;
constexpr int kGroup = 4;

constexpr char kWrongCode[] =
    "the invitation code is wrong, already used or expired: check it with the practice";

std::string InviteKey(absl::string_view hash) {
  return store::KeyBuilder().AddString("invite").AddString(hash).Build();
}
std::string PatientPrefix(absl::string_view patient_id) {
  return store::KeyBuilder().AddString("invite-of").AddString(patient_id).Build();
}
std::string PatientKey(absl::string_view patient_id, absl::string_view hash) {
  return store::KeyBuilder().AddString("invite-of").AddString(patient_id).AddString(hash).Build();
}

absl::StatusOr<std::string> NewCode() {
  unsigned char bytes[kCodeLength];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return absl::InternalError("no random bytes");
  std::string code;
  for (int i = 0; i < kCodeLength; ++i) {
    if (i > 0 && i % kGroup == 0) code.push_back('-');
    code.push_back(kAlphabet[bytes[i] & 31]);
  }
  return code;
}

Invite ToInvite(const hie::v1::StoredInvite& stored) {
  return Invite{.patient_id = stored.patient_id(),
                .issued_by = stored.issued_by(),
                .issued_at = FromProtoTime(stored.issued_at()),
                .expires_at = FromProtoTime(stored.expires_at())};
}

absl::StatusOr<hie::v1::StoredInvite> Parse(absl::string_view value) {
  hie::v1::StoredInvite stored;
  if (!stored.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError("a stored invitation does not parse");
  }
  return stored;
}

// A patient's invitations: each one's hash and what is stored under it.
struct Held {
  std::string hash;
  Invite invite;
};

absl::StatusOr<std::vector<Held>> HeldFor(const store::KvStore& store,
                                          absl::string_view patient_id) {
  std::vector<std::string> hashes;
  HIE_RETURN_IF_ERROR(
      store.ScanPrefix(PatientPrefix(patient_id), [&](absl::string_view key, absl::string_view) {
        store::KeyReader reader(key);
        std::string kind, patient, hash;
        if (reader.ReadString(&kind) && reader.ReadString(&patient) && reader.ReadString(&hash)) {
          hashes.push_back(std::move(hash));
        }
        return true;
      }));
  std::vector<Held> held;
  for (std::string& hash : hashes) {
    absl::StatusOr<std::string> value = store.Get(InviteKey(hash));
    if (absl::IsNotFound(value.status())) continue;  // used: only the index entry is left
    if (!value.ok()) return value.status();
    HIE_ASSIGN_OR_RETURN(hie::v1::StoredInvite stored, Parse(*value));
    held.push_back({std::move(hash), ToInvite(stored)});
  }
  std::sort(held.begin(), held.end(),
            [](const Held& a, const Held& b) { return a.invite.issued_at < b.invite.issued_at; });
  return held;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Invites>> Invites::Open(store::KvStore* store, const Clock* clock,
                                                       InviteOptions options) {
  if (options.lifetime <= absl::ZeroDuration() || options.max_live_per_patient < 1 ||
      options.max_wrong_codes < 1 || options.wrong_code_window <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("invitation options out of range");
  }
  return std::unique_ptr<Invites>(new Invites(store, clock, options));
}

std::string Invites::NormalizeCode(absl::string_view typed) {
  std::string code;
  for (char c : typed) {
    if (c == ' ' || c == '-' || c == '\t') continue;
    code.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
  }
  return code;
}

absl::StatusOr<IssuedInvite> Invites::Issue(absl::string_view patient_id,
                                            absl::string_view issued_by) {
  if (patient_id.empty() || issued_by.empty()) {
    return absl::InvalidArgumentError("an invitation needs a patient and who issues it");
  }
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  std::string code, hash;
  do {  // a collision with a live code is all but impossible, and still not allowed
    HIE_ASSIGN_OR_RETURN(code, NewCode());
    hash = crypto::Sha256Hex(NormalizeCode(code));
  } while (store_->Get(InviteKey(hash)).ok());

  store::WriteBatch batch;
  HIE_ASSIGN_OR_RETURN(std::vector<Held> held, HeldFor(*store_, patient_id));
  // Oldest first: drop the expired, then as many live ones as make room for this one.
  size_t live = 0;
  for (const Held& h : held) live += h.invite.expires_at > now ? 1 : 0;
  for (const Held& h : held) {
    const bool expired = h.invite.expires_at <= now;
    if (!expired && live < static_cast<size_t>(options_.max_live_per_patient)) continue;
    if (!expired) --live;
    batch.Delete(InviteKey(h.hash));
    batch.Delete(PatientKey(patient_id, h.hash));
  }
  hie::v1::StoredInvite stored;
  stored.set_patient_id(std::string(patient_id));
  stored.set_issued_by(std::string(issued_by));
  *stored.mutable_issued_at() = ToProtoTime(now);
  *stored.mutable_expires_at() = ToProtoTime(now + options_.lifetime);
  batch.Put(InviteKey(hash), stored.SerializeAsString());
  batch.Put(PatientKey(patient_id, hash), "");
  HIE_RETURN_IF_ERROR(store_->Write(batch));
  return IssuedInvite{.code = std::move(code), .expires_at = now + options_.lifetime};
}

absl::Status Invites::Redeem(absl::string_view code,
                             const std::function<absl::Status(const Invite&)>& use) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  if (BudgetSpent(now)) {
    return absl::ResourceExhaustedError(
        "too many wrong invitation codes were tried: try again in a few minutes");
  }
  const std::string hash = crypto::Sha256Hex(NormalizeCode(code));
  absl::StatusOr<std::string> value = store_->Get(InviteKey(hash));
  if (absl::IsNotFound(value.status())) {
    CountWrongCode(now);
    return absl::UnauthenticatedError(kWrongCode);
  }
  if (!value.ok()) return value.status();
  HIE_ASSIGN_OR_RETURN(hie::v1::StoredInvite stored, Parse(*value));
  const Invite invite = ToInvite(stored);
  store::WriteBatch used;
  used.Delete(InviteKey(hash));
  used.Delete(PatientKey(invite.patient_id, hash));
  if (invite.expires_at <= now) {
    // An expired code is refused as a wrong one is, and forgotten.
    CountWrongCode(now);
    HIE_RETURN_IF_ERROR(store_->Write(used));
    return absl::UnauthenticatedError(kWrongCode);
  }
  HIE_RETURN_IF_ERROR(use(invite));
  return store_->Write(used);
}

absl::StatusOr<std::vector<Invite>> Invites::LiveFor(absl::string_view patient_id) const {
  HIE_ASSIGN_OR_RETURN(std::vector<Held> held, HeldFor(*store_, patient_id));
  const absl::Time now = clock_->Now();
  std::vector<Invite> live;
  for (Held& h : held) {
    if (h.invite.expires_at > now) live.push_back(std::move(h.invite));
  }
  return live;
}

void Invites::CountWrongCode(absl::Time now) { wrong_codes_.push_back(now); }

bool Invites::BudgetSpent(absl::Time now) {
  while (!wrong_codes_.empty() && wrong_codes_.front() <= now - options_.wrong_code_window) {
    wrong_codes_.pop_front();
  }
  return wrong_codes_.size() >= static_cast<size_t>(options_.max_wrong_codes);
}

}  // namespace hie::node
