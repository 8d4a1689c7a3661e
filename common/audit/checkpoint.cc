#include "common/audit/checkpoint.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/status/error_detail.h"
#include "common/status/status_macros.h"
#include "common/store/key_codec.h"
#include "google/protobuf/util/time_util.h"

namespace hie::audit {
namespace {

using store::KeyBuilder;

struct BioFree {
  void operator()(BIO* b) const { BIO_free_all(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof(buffer));
  return buffer;
}

std::unique_ptr<BIO, BioFree> MemoryBio(absl::string_view data) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

bool IsHashHex(absl::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f');
         });
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

std::string PartyName(const Party& party) { return absl::StrCat(party.role, " ", party.org_id); }

}  // namespace

absl::StatusOr<std::string> SignWithKey(absl::string_view key_pem, absl::string_view message) {
  auto bio = MemoryBio(key_pem);
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError("checkpoint signing key: " + OpenSslError());
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  size_t length = 0;
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return absl::InternalError("checkpoint signature: " + OpenSslError());
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return absl::InternalError("checkpoint signature: " + OpenSslError());
  }
  signature.resize(length);
  return signature;
}

absl::Status VerifyWithCertificate(absl::string_view cert_pem, absl::string_view message,
                                   absl::string_view signature) {
  auto bio = MemoryBio(cert_pem);
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) return absl::InvalidArgumentError("certificate: " + OpenSslError());
  EVP_PKEY* key = X509_get0_pubkey(cert.get());  // owned by cert
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (key == nullptr || ctx == nullptr ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1) {
    return absl::InvalidArgumentError("certificate key: " + OpenSslError());
  }
  int ok = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                            signature.size(),
                            reinterpret_cast<const unsigned char*>(message.data()), message.size());
  ERR_clear_error();
  if (ok != 1) {
    return absl::PermissionDeniedError(
        "the checkpoint's signature does not verify with the caller's certificate");
  }
  return absl::OkStatus();
}

absl::StatusOr<hie::v1::AuditCheckpoint> ParseCheckpoint(absl::string_view bytes) {
  hie::v1::AuditCheckpoint checkpoint;
  if (!checkpoint.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError("the checkpoint does not parse");
  }
  uint64_t count = checkpoint.entry_hashes_size();
  if (count == 0 || count > kMaxEntriesPerCheckpoint) {
    return absl::InvalidArgumentError(
        absl::StrCat("a checkpoint carries 1..", kMaxEntriesPerCheckpoint, " entry hashes"));
  }
  if (checkpoint.size() != checkpoint.from_size() + count) {
    return absl::InvalidArgumentError("checkpoint size is not from_size + its entry hashes");
  }
  for (const std::string& hash : checkpoint.entry_hashes()) {
    if (!IsHashHex(hash)) return absl::InvalidArgumentError("a checkpoint entry hash is malformed");
  }
  if (checkpoint.head_hash() != checkpoint.entry_hashes(count - 1)) {
    return absl::InvalidArgumentError("checkpoint head_hash is not its last entry hash");
  }
  return checkpoint;
}

// ---------------------------------------------------------------------------------------
// Checkpointer

namespace {

std::string OwnCheckpointPrefix(const AuditLog& log) {
  return KeyBuilder().AddString(log.prefix()).AddString("c").Build();
}
std::string OutboxPrefix(const AuditLog& log, absl::string_view witness) {
  return KeyBuilder().AddString(log.prefix()).AddString("o").AddString(witness).Build();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Checkpointer>> Checkpointer::Start(AuditLog* log, Clock* clock,
                                                                  CheckpointerOptions options,
                                                                  std::vector<Witness> witnesses) {
  if (options.every_entries == 0) options.every_entries = 1;
  uint64_t checkpointed = 0;
  std::string prefix = OwnCheckpointPrefix(*log);
  auto last = log->store()->LastWithPrefix(prefix);
  if (last.ok()) {
    store::KeyReader reader(absl::string_view(last->first).substr(prefix.size()));
    if (!reader.ReadUint64(&checkpointed)) {
      return absl::DataLossError("an audit checkpoint record has a malformed key");
    }
  } else if (last.status().code() != absl::StatusCode::kNotFound) {
    return last.status();
  }
  auto checkpointer = std::unique_ptr<Checkpointer>(
      new Checkpointer(log, clock, std::move(options), std::move(witnesses), checkpointed));
  Checkpointer* self = checkpointer.get();
  log->SetAppendObserver([self](uint64_t size) { self->OnAppend(size); });
  checkpointer->thread_ = std::thread([self] { self->Loop(); });
  return checkpointer;
}

Checkpointer::Checkpointer(AuditLog* log, Clock* clock, CheckpointerOptions options,
                           std::vector<Witness> witnesses, uint64_t checkpointed)
    : log_(log),
      store_(log->store()),
      clock_(clock),
      options_(std::move(options)),
      witnesses_(std::move(witnesses)),
      checkpointed_(checkpointed),
      appended_(log->size()),
      last_checkpoint_(clock->Now()),
      retry_at_(witnesses_.size(), absl::InfinitePast()),
      backoff_(witnesses_.size(), options_.min_retry) {
  // A log that grew past the last checkpoint while no checkpointer ran is checkpointed
  // at once.
  wake_ = appended_ > checkpointed_;
}

Checkpointer::~Checkpointer() {
  log_->SetAppendObserver(nullptr);
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

uint64_t Checkpointer::checkpointed_size() const {
  absl::MutexLock lock(&mu_);
  return checkpointed_;
}

void Checkpointer::OnAppend(uint64_t size) {
  absl::MutexLock lock(&mu_);
  appended_ = std::max(appended_, size);
  if (appended_ >= checkpointed_ + options_.every_entries) wake_ = true;
}

void Checkpointer::Loop() {
  const absl::Duration tick = std::min(options_.interval, absl::Seconds(1));
  for (;;) {
    bool due = false;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](Checkpointer* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) {
                                 return c->wake_ || c->stop_;
                               },
                               this),
                           tick);
      if (stop_) return;
      due = wake_ ||
            (appended_ > checkpointed_ && clock_->Now() - last_checkpoint_ >= options_.interval);
      wake_ = false;
    }
    if (due) {
      if (absl::Status s = MakeCheckpoints(); !s.ok()) {
        LogWarning("audit checkpoint not signed (retried): ", s.ToString());
      }
    }
    for (size_t i = 0; i < witnesses_.size(); ++i) {
      {
        absl::MutexLock lock(&mu_);
        if (stop_) return;
        if (clock_->Now() < retry_at_[i]) continue;
      }
      absl::Status s = Drain(i);
      absl::MutexLock lock(&mu_);
      if (s.ok()) {
        backoff_[i] = options_.min_retry;
        retry_at_[i] = absl::InfinitePast();
      } else {
        if (backoff_[i] >= options_.max_retry || backoff_[i] == options_.min_retry) {
          LogWarning("audit checkpoint deposit with ", witnesses_[i].name, " at ",
                     witnesses_[i].address, " failed (retried): ", s.message());
        }
        retry_at_[i] = clock_->Now() + backoff_[i];
        backoff_[i] = std::min(backoff_[i] * 2, options_.max_retry);
      }
    }
  }
}

absl::Status Checkpointer::RunOnceForTest() {
  HIE_RETURN_IF_ERROR(MakeCheckpoints());
  for (size_t i = 0; i < witnesses_.size(); ++i) HIE_RETURN_IF_ERROR(Drain(i));
  return absl::OkStatus();
}

absl::Status Checkpointer::MakeCheckpoints() {
  absl::MutexLock work(&work_mu_);
  uint64_t size = log_->size();
  // Everything appended up to `size` was written before this sync, so it is durable
  // after it: a checkpoint never covers an entry a crash could still take back.
  HIE_RETURN_IF_ERROR(store_->Sync());
  uint64_t from;
  {
    absl::MutexLock lock(&mu_);
    from = checkpointed_;
  }
  while (from < size) {
    uint64_t to = std::min(size, from + kMaxEntriesPerCheckpoint);
    HIE_ASSIGN_OR_RETURN(std::vector<std::string> hashes, log_->EntryHashes(from, to));
    hie::v1::AuditCheckpoint checkpoint;
    checkpoint.set_org_id(options_.self.org_id);
    checkpoint.set_role(options_.self.role);
    checkpoint.set_from_size(from);
    checkpoint.set_size(to);
    checkpoint.set_head_hash(hashes.back());
    *checkpoint.mutable_time() = ToTimestamp(clock_->Now());
    for (std::string& h : hashes) checkpoint.add_entry_hashes(std::move(h));
    hie::v1::SignedCheckpoint signed_checkpoint;
    if (!checkpoint.SerializeToString(signed_checkpoint.mutable_checkpoint())) {
      return absl::InternalError("cannot encode an audit checkpoint");
    }
    HIE_ASSIGN_OR_RETURN(std::string key_pem, ReadFile(options_.key_file));
    HIE_ASSIGN_OR_RETURN(*signed_checkpoint.mutable_signature(),
                         SignWithKey(key_pem, signed_checkpoint.checkpoint()));
    store::WriteBatch batch;
    batch.Put((OwnCheckpointPrefix(*log_)) + KeyBuilder().AddUint64(to).Build(),
              signed_checkpoint.SerializeAsString());
    for (const Witness& witness : witnesses_) {
      batch.Put(KeyBuilder()
                    .AddString(log_->prefix())
                    .AddString("o")
                    .AddString(witness.name)
                    .AddUint64(to)
                    .Build(),
                "");
    }
    HIE_RETURN_IF_ERROR(store_->Write(batch));
    absl::MutexLock lock(&mu_);
    checkpointed_ = to;
    last_checkpoint_ = clock_->Now();
    from = to;
  }
  return absl::OkStatus();
}

absl::Status Checkpointer::Drain(size_t i) {
  absl::MutexLock work(&work_mu_);
  const Witness& witness = witnesses_[i];
  std::string outbox = OutboxPrefix(*log_, witness.name);
  std::vector<std::pair<std::string, uint64_t>> pending;
  HIE_RETURN_IF_ERROR(store_->ScanPrefix(outbox, [&](absl::string_view key, absl::string_view) {
    store::KeyReader reader(key.substr(outbox.size()));
    uint64_t size = 0;
    if (reader.ReadUint64(&size)) pending.emplace_back(std::string(key), size);
    return pending.size() < 64;  // a bounded batch per pass
  }));
  for (const auto& [key, size] : pending) {
    HIE_ASSIGN_OR_RETURN(std::string stored, store_->Get((OwnCheckpointPrefix(*log_)) +
                                                         KeyBuilder().AddUint64(size).Build()));
    hie::v1::SignedCheckpoint signed_checkpoint;
    if (!signed_checkpoint.ParseFromString(stored)) {
      return absl::DataLossError(absl::StrCat("audit checkpoint ", size, " is unreadable"));
    }
    // Signed again with the current key: the witness checks the signature against the
    // certificate the call is made with, which may have rotated since.
    HIE_ASSIGN_OR_RETURN(std::string key_pem, ReadFile(options_.key_file));
    HIE_ASSIGN_OR_RETURN(*signed_checkpoint.mutable_signature(),
                         SignWithKey(key_pem, signed_checkpoint.checkpoint()));
    absl::Status deposited = witness.deposit(signed_checkpoint);
    if (!deposited.ok()) {
      absl::StatusCode code = deposited.code();
      if (code != absl::StatusCode::kFailedPrecondition &&
          code != absl::StatusCode::kInvalidArgument) {
        return deposited;  // retried later, in order
      }
      // Refused for good (a fork the witness keeps as evidence): retrying cannot help.
      LogError("audit checkpoint ", size, " refused by witness ", witness.name, ": ",
               deposited.message());
    }
    HIE_RETURN_IF_ERROR(store_->Delete(key));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------
// WitnessStore

std::string WitnessStore::PartyPrefix(absl::string_view kind, const Party& party) const {
  return KeyBuilder()
      .AddString("witness")
      .AddString(kind)
      .AddString(party.org_id)
      .AddString(party.role)
      .Build();
}

absl::Status WitnessStore::Refuse(const Party& caller, absl::Status status,
                                  absl::string_view what) {
  hie::v1::AuditEntry entry;
  entry.set_action(hie::v1::AUDIT_ACTION_CHECKPOINT);
  entry.set_actor_org(caller.org_id);
  entry.set_counterpart_org(caller.org_id);
  entry.set_outcome("refused");
  entry.set_detail(absl::StrCat(what, " (", PartyName(caller), "): ", status.message()));
  if (auto appended = audit_->Append(std::move(entry)); !appended.ok()) {
    LogError("audit checkpoint refusal not audited: ", appended.status().ToString());
  }
  return status;
}

absl::StatusOr<uint64_t> WitnessStore::Deposit(const Party& caller,
                                               absl::string_view caller_cert_pem,
                                               hie::v1::SignedCheckpoint deposit) {
  absl::StatusOr<hie::v1::AuditCheckpoint> parsed = ParseCheckpoint(deposit.checkpoint());
  if (!parsed.ok()) return parsed.status();
  const hie::v1::AuditCheckpoint& checkpoint = *parsed;
  if (checkpoint.org_id() != caller.org_id || checkpoint.role() != caller.role) {
    return Refuse(caller,
                  WithReason(absl::PermissionDeniedError(absl::StrCat(
                                 "a party deposits only its own checkpoints: this one names ",
                                 checkpoint.role(), " ", checkpoint.org_id())),
                             hie::v1::ERROR_REASON_CHECKPOINT_REFUSED),
                  "checkpoint for another party refused");
  }
  if (absl::Status s =
          VerifyWithCertificate(caller_cert_pem, deposit.checkpoint(), deposit.signature());
      !s.ok()) {
    return Refuse(caller,
                  WithReason(absl::PermissionDeniedError(s.message()),
                             hie::v1::ERROR_REASON_CHECKPOINT_REFUSED),
                  "checkpoint with a bad signature refused");
  }
  deposit.set_signer_certificate(std::string(caller_cert_pem));
  *deposit.mutable_received() = ToTimestamp(clock_->Now());

  absl::MutexLock lock(&mu_);
  std::string prefix = PartyPrefix("cp", caller);
  // Every held checkpoint that ends after this one starts may share entries with it.
  std::string conflict;
  bool same = false;
  uint64_t held_size = 0;
  HIE_RETURN_IF_ERROR(store_->Scan(
      (prefix) + KeyBuilder().AddUint64(checkpoint.from_size() + 1).Build(),
      (prefix) + KeyBuilder().AddUint64(UINT64_MAX).Build(),
      [&](absl::string_view, absl::string_view value) {
        hie::v1::SignedCheckpoint held_signed;
        hie::v1::AuditCheckpoint held;
        if (!held_signed.ParseFromArray(value.data(), static_cast<int>(value.size())) ||
            !held.ParseFromString(held_signed.checkpoint())) {
          return true;
        }
        uint64_t lo = std::max(held.from_size(), checkpoint.from_size()) + 1;
        uint64_t hi = std::min(held.size(), checkpoint.size());
        for (uint64_t at = lo; at <= hi; ++at) {
          if (held.entry_hashes(at - held.from_size() - 1) !=
              checkpoint.entry_hashes(at - checkpoint.from_size() - 1)) {
            conflict = absl::StrCat("entry ", at, " has hash ",
                                    checkpoint.entry_hashes(at - checkpoint.from_size() - 1),
                                    " but a checkpoint of ", held.size(),
                                    " entries held since earlier says ",
                                    held.entry_hashes(at - held.from_size() - 1));
            return false;
          }
        }
        if (held.size() == checkpoint.size() && held.from_size() == checkpoint.from_size()) {
          same = true;
        }
        return true;
      }));
  if (!conflict.empty()) {
    // Kept as evidence: the signed, contradicting checkpoint.
    HIE_RETURN_IF_ERROR(
        store_->Put((PartyPrefix("fork", caller)) +
                        KeyBuilder().AddInt64(absl::ToUnixNanos(clock_->Now())).Build(),
                    deposit.SerializeAsString()));
    return Refuse(caller,
                  WithReason(absl::FailedPreconditionError(absl::StrCat(
                                 "the checkpoint contradicts one already witnessed (a fork of "
                                 "the audit chain): ",
                                 conflict)),
                             hie::v1::ERROR_REASON_CHECKPOINT_FORK),
                  "forked checkpoint refused and kept as evidence");
  }
  if (!same) {
    HIE_RETURN_IF_ERROR(store_->Put((prefix) + KeyBuilder().AddUint64(checkpoint.size()).Build(),
                                    deposit.SerializeAsString()));
  }
  auto last = store_->LastWithPrefix(prefix);
  if (last.ok()) {
    store::KeyReader reader(absl::string_view(last->first).substr(prefix.size()));
    reader.ReadUint64(&held_size);
  }
  return held_size;
}

absl::StatusOr<std::vector<hie::v1::SignedCheckpoint>> WitnessStore::List(
    const Party& party) const {
  std::vector<hie::v1::SignedCheckpoint> out;
  HIE_RETURN_IF_ERROR(
      store_->ScanPrefix(PartyPrefix("cp", party), [&](absl::string_view, absl::string_view v) {
        out.emplace_back();
        if (!out.back().ParseFromArray(v.data(), static_cast<int>(v.size()))) out.pop_back();
        return true;
      }));
  return out;
}

absl::StatusOr<std::vector<hie::v1::SignedCheckpoint>> WitnessStore::Forks(
    const Party& party) const {
  std::vector<hie::v1::SignedCheckpoint> out;
  HIE_RETURN_IF_ERROR(
      store_->ScanPrefix(PartyPrefix("fork", party), [&](absl::string_view, absl::string_view v) {
        out.emplace_back();
        if (!out.back().ParseFromArray(v.data(), static_cast<int>(v.size()))) out.pop_back();
        return true;
      }));
  return out;
}

}  // namespace hie::audit
