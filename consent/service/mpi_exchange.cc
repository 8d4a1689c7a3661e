#include "consent/service/mpi_exchange.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/grpc/status_convert.h"
#include "common/status/error_detail.h"
#include "grpcpp/client_context.h"

namespace hie::consent {

MpiExchange::MpiExchange(std::shared_ptr<grpc::Channel> channel, std::string address, Clock* clock,
                         absl::Duration timeout, absl::Duration directory_ttl)
    : mpi_(hie::v1::MasterPatientIndex::NewStub(channel)),
      directory_(hie::v1::Directory::NewStub(channel)),
      address_(std::move(address)),
      clock_(clock),
      timeout_(timeout),
      directory_ttl_(directory_ttl) {}

absl::Status MpiExchange::Translate(const grpc::Status& status, const std::string& what) const {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return WithReason(
          absl::UnavailableError(absl::StrCat("the MPI at ", address_, " cannot be reached (", what,
                                              "): ", status.error_message())),
          hie::v1::ERROR_REASON_DEPENDENCY_UNAVAILABLE);
    default:
      return FromGrpcStatus(status);
  }
}

absl::StatusOr<PatientLinks> MpiExchange::CrossReference(const std::string& org_id,
                                                         const std::string& local_id) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  hie::v1::GetCrossReferenceRequest request;
  request.mutable_local()->set_org_id(org_id);
  request.mutable_local()->set_local_id(local_id);
  hie::v1::CrossReference response;
  grpc::Status status = mpi_->GetCrossReference(&context, request, &response);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    return WithReason(absl::NotFoundError(
                          absl::StrCat("the MPI does not know patient ", local_id, " of ", org_id)),
                      hie::v1::ERROR_REASON_PATIENT_UNKNOWN);
  }
  if (!status.ok()) return Translate(status, "cross-reference");
  PatientLinks links;
  links.euid = response.euid();
  for (const auto& r : response.registrations()) {
    links.registrations.push_back(
        {.org_id = r.patient().org_id(),
         .local_id = r.patient().local_id(),
         .certain = r.grade() == hie::v1::MATCH_GRADE_CERTAIN || r.manual()});
  }
  return links;
}

absl::StatusOr<Member> MpiExchange::Organization(const std::string& org_id) {
  absl::Time now = clock_->Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = members_.find(org_id);
    if (it != members_.end() && now - it->second.fetched < directory_ttl_) return it->second.member;
  }
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  hie::v1::GetOrganizationRequest request;
  request.set_org_id(org_id);
  hie::v1::Organization response;
  grpc::Status status = directory_->GetOrganization(&context, request, &response);
  absl::StatusOr<Member> member;
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
    member = absl::NotFoundError(absl::StrCat("organisation ", org_id, " is not enrolled"));
  } else if (!status.ok()) {
    return Translate(status, "directory");
  } else {
    member = Member{.org_id = response.org_id(),
                    .active = response.state() == hie::v1::Organization::STATE_ACTIVE,
                    .sensitive = response.sensitive(),
                    .endpoint = response.endpoint()};
  }
  absl::MutexLock lock(&mu_);
  members_[org_id] = Cached{member, now};
  return member;
}

}  // namespace hie::consent
