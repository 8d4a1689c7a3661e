#include "mpi/directory/directory.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/pki/identity.h"
#include "common/status/status_macros.h"
#include "common/store/key_codec.h"
#include "google/protobuf/util/time_util.h"

namespace hie::mpi {
namespace {

using google::protobuf::util::TimeUtil;

std::string OrgKey(const std::string& org_id) {
  return store::KeyBuilder().AddString("O").AddString(org_id).Build();
}

}  // namespace

bool IsValidEndpoint(const std::string& endpoint) {
  size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  int port = 0;
  return absl::SimpleAtoi(endpoint.substr(colon + 1), &port) && port >= 1 && port <= 65535;
}

absl::StatusOr<std::unique_ptr<Directory>> Directory::Open(store::KvStore* store, Clock* clock) {
  std::unique_ptr<Directory> directory(new Directory(store, clock));
  absl::MutexLock lock(&directory->mu_);
  absl::Status bad;
  HIE_RETURN_IF_ERROR(store->ScanPrefix(
      store::KeyBuilder().AddString("O").Build(), [&](absl::string_view, absl::string_view value) {
        hie::v1::Organization org;
        if (!org.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          bad = absl::DataLossError("a stored organisation is unreadable");
          return false;
        }
        directory->orgs_[org.org_id()] = std::move(org);
        return true;
      }));
  HIE_RETURN_IF_ERROR(bad);
  return directory;
}

absl::StatusOr<hie::v1::Organization> Directory::Save(hie::v1::Organization org) {
  HIE_RETURN_IF_ERROR(store_->Put(OrgKey(org.org_id()), org.SerializeAsString()));
  orgs_[org.org_id()] = org;
  return org;
}

absl::StatusOr<hie::v1::Organization> Directory::Enroll(
    const hie::v1::EnrollOrganizationRequest& request) {
  if (!pki::IsValidOrgId(request.org_id())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "org_id \"", request.org_id(), "\" is not 1-63 characters of a-z, 0-9 and '-'"));
  }
  if (request.display_name().empty()) return absl::InvalidArgumentError("display_name is empty");
  if (!request.endpoint().empty() && !IsValidEndpoint(request.endpoint())) {
    return absl::InvalidArgumentError(
        absl::StrCat("endpoint \"", request.endpoint(), "\" is not host:port"));
  }
  absl::MutexLock lock(&mu_);
  if (orgs_.contains(request.org_id())) {
    return absl::AlreadyExistsError(
        absl::StrCat("org \"", request.org_id(), "\" is already enrolled"));
  }
  hie::v1::Organization org;
  org.set_org_id(request.org_id());
  org.set_display_name(request.display_name());
  org.set_endpoint(request.endpoint());
  org.set_contact(request.contact());
  org.set_sensitive(request.sensitive());
  org.set_state(hie::v1::Organization::STATE_ACTIVE);
  auto now = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock_->Now()));
  *org.mutable_enrolled_at() = now;
  *org.mutable_state_changed_at() = now;
  return Save(std::move(org));
}

absl::StatusOr<hie::v1::Organization> Directory::ChangeState(const std::string& org_id,
                                                             hie::v1::Organization::State state,
                                                             const std::string& reason) {
  if (reason.empty()) return absl::InvalidArgumentError("a reason is required");
  absl::MutexLock lock(&mu_);
  auto it = orgs_.find(org_id);
  if (it == orgs_.end()) {
    return absl::NotFoundError(absl::StrCat("org \"", org_id, "\" is not enrolled"));
  }
  hie::v1::Organization org = it->second;
  org.set_state(state);
  org.set_state_reason(reason);
  *org.mutable_state_changed_at() =
      TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock_->Now()));
  return Save(std::move(org));
}

absl::StatusOr<hie::v1::Organization> Directory::Suspend(const std::string& org_id,
                                                         const std::string& reason) {
  return ChangeState(org_id, hie::v1::Organization::STATE_SUSPENDED, reason);
}

absl::StatusOr<hie::v1::Organization> Directory::Reinstate(const std::string& org_id,
                                                           const std::string& reason) {
  return ChangeState(org_id, hie::v1::Organization::STATE_ACTIVE, reason);
}

absl::StatusOr<hie::v1::Organization> Directory::SetEndpoint(const std::string& org_id,
                                                             const std::string& endpoint) {
  if (!IsValidEndpoint(endpoint)) {
    return absl::InvalidArgumentError(absl::StrCat("endpoint \"", endpoint, "\" is not host:port"));
  }
  absl::MutexLock lock(&mu_);
  auto it = orgs_.find(org_id);
  if (it == orgs_.end()) {
    return absl::NotFoundError(absl::StrCat("org \"", org_id, "\" is not enrolled"));
  }
  hie::v1::Organization org = it->second;
  org.set_endpoint(endpoint);
  return Save(std::move(org));
}

absl::StatusOr<hie::v1::Organization> Directory::Get(const std::string& org_id) const {
  absl::MutexLock lock(&mu_);
  auto it = orgs_.find(org_id);
  if (it == orgs_.end()) {
    return absl::NotFoundError(absl::StrCat("org \"", org_id, "\" is not enrolled"));
  }
  return it->second;
}

std::vector<hie::v1::Organization> Directory::List(hie::v1::Organization::State state) const {
  absl::MutexLock lock(&mu_);
  std::vector<hie::v1::Organization> out;
  for (const auto& [id, org] : orgs_) {
    if (state == hie::v1::Organization::STATE_UNSPECIFIED || org.state() == state) {
      out.push_back(org);
    }
  }
  return out;
}

absl::Status Directory::CheckActive(const std::string& org_id) const {
  absl::MutexLock lock(&mu_);
  auto it = orgs_.find(org_id);
  if (it == orgs_.end()) {
    return absl::PermissionDeniedError(
        absl::StrCat("org \"", org_id, "\" is not enrolled in the exchange"));
  }
  if (it->second.state() != hie::v1::Organization::STATE_ACTIVE) {
    return absl::PermissionDeniedError(
        absl::StrCat("org \"", org_id, "\" is suspended: ", it->second.state_reason()));
  }
  return absl::OkStatus();
}

}  // namespace hie::mpi
