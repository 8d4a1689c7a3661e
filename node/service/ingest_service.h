// The Ingest gRPC service (the practice's EMR feed): translation to the node's Importer.
#ifndef HIE_NODE_SERVICE_INGEST_SERVICE_H_
#define HIE_NODE_SERVICE_INGEST_SERVICE_H_

#include <functional>
#include <memory>
#include <string>

#include "common/audit/audit_log.h"
#include "common/auth/client_registry.h"
#include "common/store/kv_store.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "node/domain/accounting.h"
#include "node/domain/accounts.h"
#include "node/domain/fhir_ingest.h"
#include "node/domain/known_peers.h"
#include "node/domain/labeler.h"
#include "node/domain/outbox.h"
#include "node/domain/record_store.h"
#include "node/domain/sessions.h"
#include "node/domain/sharing_choices.h"
#include "node/service/mpi_sender.h"
#include "proto/hie/v1/node.grpc.pb.h"

namespace hie::node {

// What hie-node keeps in its data directory, shared by its services.
struct NodeState {
  ~NodeState() {
    sender.reset();  // stop sending before the outbox goes
    // Everything below lives in the store: close it first.
    outbox.reset();
    records.reset();
    audit.reset();
    fhir_clients.reset();
    accounts.reset();
  }
  // The organisation this node serves (from its own certificate).
  std::string own_org;
  std::unique_ptr<store::KvStore> store;
  std::unique_ptr<RecordStore> records;
  std::unique_ptr<audit::AuditLog> audit;
  std::unique_ptr<Labeler> labeler;
  std::unique_ptr<FhirIngester> ingester;
  // Registrations owed to the MPI, and who sends them (null without an MPI channel).
  std::unique_ptr<Outbox> outbox;
  std::unique_ptr<MpiSender> sender;
  // The channel to the MPI (null without one): the sender's, and $match's searches.
  std::shared_ptr<grpc::Channel> mpi_channel;
  // The SMART clients of the FHIR API: one registry for the gRPC FhirClients service
  // and the REST front, so that a revocation is seen by both at once.
  std::unique_ptr<auth::ClientRegistry> fhir_clients;
  // The web app's local accounts (the Users service and the pages share them) and who
  // is signed in; disabling an account or resetting its password ends its sessions.
  std::unique_ptr<Sessions> sessions;
  std::unique_ptr<Accounts> accounts;
  // Answers (FetchRecords, FederatedQuery): the largest record sent or taken in (a
  // larger one is skipped and reported), and the most record or Bundle text one message
  // carries (under the server's message limit).
  size_t max_record_bytes = size_t{64} << 20;
  // The most record text one holder's answer may bring into a federated query.
  size_t max_answer_bytes = size_t{512} << 20;
  size_t piece_bytes = size_t{1} << 20;
  // The channel to the consent service (null without one): the status page's
  // reachability check and the portal's directives.
  std::shared_ptr<grpc::Channel> consent_channel;
  // The node's certificate file, for the status page's expiry.
  std::string certificate_file;
  // The peers this node has fetched from (the federated query tells it), and the
  // credentials to reach one, for the status page's check of them.
  std::shared_ptr<KnownPeers> known_peers = std::make_shared<KnownPeers>();
  std::function<std::shared_ptr<grpc::ChannelCredentials>(const std::string& org)> peer_credentials;
  // A patient's accounting of disclosures (the portal's "who saw my record"), and the
  // consent service's directives for this practice's patients (the portal's sharing
  // choices); null in a node without a consent service.
  std::shared_ptr<DisclosureAccounting> accounting;
  std::shared_ptr<DirectiveClient> directives;
};

class IngestService final : public hie::v1::Ingest::CallbackService {
 public:
  explicit IngestService(std::shared_ptr<NodeState> state) : state_(std::move(state)) {}

  grpc::ServerReadReactor<hie::v1::ImportRequest>* Import(
      grpc::CallbackServerContext* context, hie::v1::ImportResponse* response) override;
  grpc::ServerUnaryReactor* GetRecord(grpc::CallbackServerContext* context,
                                      const hie::v1::GetRecordRequest* request,
                                      hie::v1::RecordEnvelope* response) override;

 private:
  std::shared_ptr<NodeState> state_;
};

}  // namespace hie::node

#endif  // HIE_NODE_SERVICE_INGEST_SERVICE_H_
