#include "common/status/error_detail.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/json/utf8.h"

namespace hie {
namespace {

// `text` with every byte that is not part of valid UTF-8 replaced by '?': messages can
// quote what a peer sent, and a proto3 string field must hold UTF-8 or the receiver
// cannot parse the detail at all.
std::string ValidUtf8(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (size_t n = Utf8SequenceLength(text, i); n > 0) {
      out.append(text.data() + i, n);
      i += n;
    } else {
      out.push_back('?');
      ++i;
    }
  }
  return out;
}

}  // namespace

absl::Status WithErrorDetail(absl::Status status, const hie::v1::ErrorDetail& detail) {
  if (status.ok()) return status;
  hie::v1::RpcStatus rpc;
  rpc.set_code(static_cast<int>(status.code()));
  rpc.set_message(ValidUtf8(status.message()));
  hie::v1::ErrorDetail clean = detail;
  for (auto& v : *clean.mutable_field_violations()) {
    v.set_field(ValidUtf8(v.field()));
    v.set_description(ValidUtf8(v.description()));
  }
  rpc.add_details()->PackFrom(clean);
  status.SetPayload(kErrorDetailsTypeUrl, absl::Cord(rpc.SerializeAsString()));
  return status;
}

absl::Status WithReason(absl::Status status, hie::v1::ErrorReason reason) {
  hie::v1::ErrorDetail detail;
  detail.set_reason(reason);
  return WithErrorDetail(std::move(status), detail);
}

std::optional<hie::v1::ErrorDetail> GetErrorDetail(const absl::Status& status) {
  auto payload = status.GetPayload(kErrorDetailsTypeUrl);
  if (!payload.has_value()) return std::nullopt;
  hie::v1::RpcStatus rpc;
  if (!rpc.ParseFromString(std::string(*payload))) return std::nullopt;
  for (const auto& any : rpc.details()) {
    hie::v1::ErrorDetail detail;
    if (any.UnpackTo(&detail)) return detail;
  }
  return std::nullopt;
}

absl::Status InvalidResource(const std::vector<Violation>& violations) {
  hie::v1::ErrorDetail detail;
  detail.set_reason(hie::v1::ERROR_REASON_INVALID_RESOURCE);
  for (const Violation& v : violations) {
    auto* out = detail.add_field_violations();
    out->set_field(v.field);
    out->set_description(v.description);
  }
  std::string message = violations.empty()
                            ? std::string("invalid resource")
                            : absl::StrCat(violations[0].field, ": ", violations[0].description);
  if (violations.size() > 1) {
    absl::StrAppend(&message, " (and ", violations.size() - 1, " more)");
  }
  return WithErrorDetail(absl::InvalidArgumentError(message), detail);
}

}  // namespace hie
