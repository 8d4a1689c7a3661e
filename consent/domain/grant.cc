#include "consent/domain/grant.h"

#include <openssl/rand.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status/error_detail.h"
#include "common/time/proto_time.h"
#include "google/protobuf/util/time_util.h"

namespace hie::consent {
namespace {

using google::protobuf::util::TimeUtil;

constexpr absl::string_view kContext("hie.v1.DisclosureGrant\0", 23);

}  // namespace

std::string GrantSigningInput(absl::string_view serialized_grant) {
  return absl::StrCat(kContext, serialized_grant);
}

std::string NewNonce() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    // The CSPRNG failing is not something to carry on from.
    std::abort();
  }
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(bytes), 16));
}

absl::StatusOr<hie::v1::SignedGrant> GrantSigner::Sign(hie::v1::DisclosureGrant grant) const {
  absl::Time now = clock_->Now();
  grant.set_nonce(NewNonce());
  *grant.mutable_issued_at() = ToProtoTime(now);
  *grant.mutable_expires_at() = ToProtoTime(now + validity_);
  hie::v1::SignedGrant signed_grant;
  if (!grant.SerializeToString(signed_grant.mutable_grant())) {
    return absl::InternalError("could not serialize the grant");
  }
  absl::StatusOr<std::string> signature = key_->Sign(GrantSigningInput(signed_grant.grant()));
  if (!signature.ok()) return signature.status();
  signed_grant.set_key_id(key_->key_id());
  signed_grant.set_signature(*std::move(signature));
  return signed_grant;
}

absl::StatusOr<hie::v1::DisclosureGrant> GrantVerifier::Verify(
    const hie::v1::SignedGrant& signed_grant, absl::string_view requester_org,
    absl::string_view holder_org) const {
  if (absl::Status s = keys_.Verify(signed_grant.key_id(), GrantSigningInput(signed_grant.grant()),
                                    signed_grant.signature());
      !s.ok()) {
    return WithReason(absl::UnauthenticatedError(absl::StrCat("grant refused: ", s.message())),
                      hie::v1::ERROR_REASON_GRANT_INVALID_SIGNATURE);
  }
  hie::v1::DisclosureGrant grant;
  if (!grant.ParseFromString(signed_grant.grant())) {
    return WithReason(absl::UnauthenticatedError("grant refused: signed bytes are not a grant"),
                      hie::v1::ERROR_REASON_GRANT_INVALID_SIGNATURE);
  }
  absl::Time now = clock_->Now();
  absl::Time expires = FromProtoTime(grant.expires_at());
  if (now > AcceptedUntil(grant)) {
    return WithReason(
        absl::UnauthenticatedError(absl::StrCat("grant expired at ", absl::FormatTime(expires),
                                                "; ask the consent service again")),
        hie::v1::ERROR_REASON_GRANT_EXPIRED);
  }
  if (FromProtoTime(grant.issued_at()) > now + skew_) {
    return WithReason(
        absl::UnauthenticatedError("grant refused: issued in the future (check the clocks' skew)"),
        hie::v1::ERROR_REASON_GRANT_EXPIRED);
  }
  if (grant.requester_org() != requester_org) {
    return WithReason(
        absl::PermissionDeniedError(absl::StrCat("grant was issued to ", grant.requester_org(),
                                                 ", not to ", requester_org)),
        hie::v1::ERROR_REASON_GRANT_WRONG_REQUESTER);
  }
  bool named = false;
  for (const auto& holder : grant.holders()) named = named || holder.org_id() == holder_org;
  if (!named) {
    return WithReason(absl::PermissionDeniedError(
                          absl::StrCat("grant does not name ", holder_org, " as a holder")),
                      hie::v1::ERROR_REASON_GRANT_WRONG_HOLDER);
  }
  return grant;
}

absl::Time GrantVerifier::AcceptedUntil(const hie::v1::DisclosureGrant& grant) const {
  return FromProtoTime(grant.expires_at()) + skew_;
}

}  // namespace hie::consent
