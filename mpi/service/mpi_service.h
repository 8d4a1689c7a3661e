// The MasterPatientIndex gRPC service: translation between the v1 contract and the
// PatientIndex, nothing more. RPCs not implemented here answer UNIMPLEMENTED.
#ifndef HIE_MPI_SERVICE_MPI_SERVICE_H_
#define HIE_MPI_SERVICE_MPI_SERVICE_H_

#include <memory>

#include "common/store/kv_store.h"
#include "mpi/index/patient_index.h"
#include "proto/hie/v1/mpi.grpc.pb.h"

namespace hie::mpi {

class MasterPatientIndexService final : public hie::v1::MasterPatientIndex::CallbackService {
 public:
  // Owns the store and the index; the index must live in the store.
  MasterPatientIndexService(std::unique_ptr<store::KvStore> store,
                            std::unique_ptr<PatientIndex> index)
      : store_(std::move(store)), index_(std::move(index)) {}
  // Destroys the index before the store it lives in.
  ~MasterPatientIndexService() override { index_.reset(); }

  grpc::ServerUnaryReactor* RegisterPatient(grpc::CallbackServerContext* context,
                                            const hie::v1::RegisterPatientRequest* request,
                                            hie::v1::RegisterPatientResponse* response) override;
  grpc::ServerUnaryReactor* RemovePatient(grpc::CallbackServerContext* context,
                                          const hie::v1::RemovePatientRequest* request,
                                          hie::v1::RemovePatientResponse* response) override;
  grpc::ServerUnaryReactor* GetCrossReference(grpc::CallbackServerContext* context,
                                              const hie::v1::GetCrossReferenceRequest* request,
                                              hie::v1::CrossReference* response) override;

 private:
  std::unique_ptr<store::KvStore> store_;
  std::unique_ptr<PatientIndex> index_;
};

}  // namespace hie::mpi

#endif  // HIE_MPI_SERVICE_MPI_SERVICE_H_
