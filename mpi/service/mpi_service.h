// The MasterPatientIndex gRPC service: translation between the v1 contract and the
// PatientIndex, nothing more. RPCs not implemented here answer UNIMPLEMENTED.
#ifndef HIE_MPI_SERVICE_MPI_SERVICE_H_
#define HIE_MPI_SERVICE_MPI_SERVICE_H_

#include <memory>

#include "common/audit/audit_log.h"
#include "common/grpc/peer_identity.h"
#include "common/store/kv_store.h"
#include "mpi/directory/directory.h"
#include "mpi/index/patient_index.h"
#include "mpi/index/registration_monitor.h"
#include "proto/hie/v1/directory.grpc.pb.h"
#include "proto/hie/v1/mpi.grpc.pb.h"

namespace hie::mpi {

// What hie-mpi keeps in its data directory, shared by its services.
struct MpiState {
  ~MpiState() {
    // The index, directory and audit log live in the store: close them first.
    index.reset();
    directory.reset();
    audit.reset();
  }
  std::unique_ptr<store::KvStore> store;
  std::unique_ptr<PatientIndex> index;
  std::unique_ptr<Directory> directory;
  // Every operator decision, membership change, automatic link or review opened by a
  // registration, and alert, hash-chained.
  std::unique_ptr<audit::AuditLog> audit;
  // Cross-organisation links per member, for the registration alert.
  std::unique_ptr<RegistrationMonitor> monitor;
};

class MasterPatientIndexService final : public hie::v1::MasterPatientIndex::CallbackService {
 public:
  explicit MasterPatientIndexService(std::shared_ptr<MpiState> state) : state_(std::move(state)) {}

  grpc::ServerUnaryReactor* RegisterPatient(grpc::CallbackServerContext* context,
                                            const hie::v1::RegisterPatientRequest* request,
                                            hie::v1::RegisterPatientResponse* response) override;
  grpc::ServerUnaryReactor* UpdatePatient(grpc::CallbackServerContext* context,
                                          const hie::v1::UpdatePatientRequest* request,
                                          hie::v1::RegisterPatientResponse* response) override;
  grpc::ServerUnaryReactor* SearchPatients(grpc::CallbackServerContext* context,
                                           const hie::v1::SearchPatientsRequest* request,
                                           hie::v1::SearchPatientsResponse* response) override;
  grpc::ServerUnaryReactor* Merge(grpc::CallbackServerContext* context,
                                  const hie::v1::MergeRequest* request,
                                  hie::v1::LinkResponse* response) override;
  grpc::ServerUnaryReactor* RemovePatient(grpc::CallbackServerContext* context,
                                          const hie::v1::RemovePatientRequest* request,
                                          hie::v1::RemovePatientResponse* response) override;
  grpc::ServerUnaryReactor* GetCrossReference(grpc::CallbackServerContext* context,
                                              const hie::v1::GetCrossReferenceRequest* request,
                                              hie::v1::CrossReference* response) override;
  grpc::ServerUnaryReactor* Link(grpc::CallbackServerContext* context,
                                 const hie::v1::LinkRequest* request,
                                 hie::v1::LinkResponse* response) override;
  grpc::ServerUnaryReactor* Unlink(grpc::CallbackServerContext* context,
                                   const hie::v1::UnlinkRequest* request,
                                   hie::v1::LinkResponse* response) override;
  grpc::ServerUnaryReactor* ListReviews(grpc::CallbackServerContext* context,
                                        const hie::v1::ListReviewsRequest* request,
                                        hie::v1::ListReviewsResponse* response) override;
  grpc::ServerUnaryReactor* ResolveReview(grpc::CallbackServerContext* context,
                                          const hie::v1::ResolveReviewRequest* request,
                                          hie::v1::ResolveReviewResponse* response) override;
  grpc::ServerUnaryReactor* ExplainMatch(grpc::CallbackServerContext* context,
                                         const hie::v1::ExplainMatchRequest* request,
                                         hie::v1::MatchExplanation* response) override;
  grpc::ServerUnaryReactor* GetMatchModel(grpc::CallbackServerContext* context,
                                          const hie::v1::GetMatchModelRequest* request,
                                          hie::v1::MatchModelReport* response) override;
  grpc::ServerUnaryReactor* FitMatchModel(grpc::CallbackServerContext* context,
                                          const hie::v1::FitMatchModelRequest* request,
                                          hie::v1::MatchModelReport* response) override;

 private:
  // After a registration or re-registration: audits an automatic link or a review
  // opened (with the registering org and the evidence), files the rate alert the
  // placement raised, and answers; a node is told its EUID, version and grade, never the
  // score (it would tell that someone else holds a similar patient).
  grpc::ServerUnaryReactor* AnswerRegistration(grpc::CallbackServerContext& context,
                                               const Peer& peer, const std::string& local_id,
                                               WatchedPlacement placed,
                                               hie::v1::RegisterPatientResponse* response);

  std::shared_ptr<MpiState> state_;
};

// The directory of member organisations. Operators change it; members read it.
class DirectoryService final : public hie::v1::Directory::CallbackService {
 public:
  explicit DirectoryService(std::shared_ptr<MpiState> state) : state_(std::move(state)) {}

  grpc::ServerUnaryReactor* EnrollOrganization(grpc::CallbackServerContext* context,
                                               const hie::v1::EnrollOrganizationRequest* request,
                                               hie::v1::Organization* response) override;
  grpc::ServerUnaryReactor* SuspendOrganization(grpc::CallbackServerContext* context,
                                                const hie::v1::SuspendOrganizationRequest* request,
                                                hie::v1::Organization* response) override;
  grpc::ServerUnaryReactor* ReinstateOrganization(
      grpc::CallbackServerContext* context, const hie::v1::ReinstateOrganizationRequest* request,
      hie::v1::Organization* response) override;
  grpc::ServerUnaryReactor* SetEndpoint(grpc::CallbackServerContext* context,
                                        const hie::v1::SetEndpointRequest* request,
                                        hie::v1::Organization* response) override;
  grpc::ServerUnaryReactor* GetOrganization(grpc::CallbackServerContext* context,
                                            const hie::v1::GetOrganizationRequest* request,
                                            hie::v1::Organization* response) override;
  grpc::ServerUnaryReactor* ListOrganizations(
      grpc::CallbackServerContext* context, const hie::v1::ListOrganizationsRequest* request,
      hie::v1::ListOrganizationsResponse* response) override;

 private:
  // Audits a successful membership change, then answers.
  grpc::ServerUnaryReactor* AnswerMembership(grpc::CallbackServerContext& context,
                                             absl::StatusOr<hie::v1::Organization> result,
                                             const std::string& outcome, const std::string& detail,
                                             hie::v1::Organization* response);

  std::shared_ptr<MpiState> state_;
};

}  // namespace hie::mpi

#endif  // HIE_MPI_SERVICE_MPI_SERVICE_H_
