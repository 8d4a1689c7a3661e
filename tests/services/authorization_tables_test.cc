// Every RPC a daemon serves is in its authorization table, and the table names no
// method that does not exist: a method missing from the table would be refused to
// everyone, and a misspelt entry would protect nothing.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "consent/service/consent_services.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/impl/service_type.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "mpi/service/mpi_services.h"
#include "node/service/node_services.h"

namespace hie {
namespace {

using ::testing::ElementsAreArray;
using ::testing::IsSupersetOf;

// The full paths of every method of the services, from their descriptors.
// `added_by_main` are services the daemon's main adds beside the opened ones (the audit
// witness, common/grpc/audit_witness.h).
std::vector<std::string> ServedMethods(const std::vector<std::unique_ptr<grpc::Service>>& services,
                                       const std::vector<std::string>& service_names,
                                       const std::vector<std::string>& added_by_main = {}) {
  std::vector<std::string> methods;
  std::vector<std::string> all = service_names;
  all.insert(all.end(), added_by_main.begin(), added_by_main.end());
  for (const std::string& name : all) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    EXPECT_NE(service, nullptr) << name;
    if (service == nullptr) continue;
    for (int i = 0; i < service->method_count(); ++i) {
      methods.push_back("/" + name + "/" + service->method(i)->name());
    }
  }
  std::sort(methods.begin(), methods.end());
  EXPECT_EQ(services.size(), service_names.size());
  return methods;
}

std::vector<std::string> DomainMethods(const AuthorizationPolicy& policy) {
  std::vector<std::string> out;
  for (const std::string& m : policy.Methods()) {
    if (m.rfind("/hie.v1.", 0) == 0) out.push_back(m);
  }
  return out;
}

TEST(AuthorizationTablesTest, MpiTableCoversExactlyItsServices) {
  std::string dir = ::testing::TempDir() + "hie-services-test-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  auto services = mpi::OpenMpiServices(dir);
  ASSERT_TRUE(services.ok()) << services.status();
  auto served =
      ServedMethods(*services, {"hie.v1.AuditLog", "hie.v1.Directory", "hie.v1.MasterPatientIndex"},
                    {"hie.v1.AuditWitness"});
  EXPECT_THAT(DomainMethods(*mpi::MpiAuthorizationPolicy()), ElementsAreArray(served));
  services->clear();
  std::filesystem::remove_all(dir);
}

TEST(AuthorizationTablesTest, ConsentTableCoversExactlyItsServices) {
  std::string dir = ::testing::TempDir() + "hie-services-consent-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // The MPI channel is never used here: nothing is called.
  consent::ConsentOptions options;
  options.mpi.address = "127.0.0.1:1";
  auto services = consent::OpenConsentServices(dir, grpc::InsecureChannelCredentials(), options);
  ASSERT_TRUE(services.ok()) << services.status();
  auto served = ServedMethods(*services, {"hie.v1.AuditLog", "hie.v1.ConsentService"},
                              {"hie.v1.AuditWitness"});
  EXPECT_THAT(DomainMethods(*consent::ConsentAuthorizationPolicy()), ElementsAreArray(served));
  services->clear();
  std::filesystem::remove_all(dir);
}

TEST(AuthorizationTablesTest, OnlyNodesAuthorizeAndOnlyOperatorsRotateKeys) {
  auto policy = consent::ConsentAuthorizationPolicy();
  EXPECT_TRUE(policy->Check("/hie.v1.ConsentService/Authorize", pki::Role::kNode).ok());
  for (pki::Role role : {pki::Role::kOperator, pki::Role::kConsent, pki::Role::kMpi}) {
    EXPECT_FALSE(policy->Check("/hie.v1.ConsentService/Authorize", role).ok());
  }
  EXPECT_TRUE(policy->Check("/hie.v1.ConsentService/RotateSigningKey", pki::Role::kOperator).ok());
  EXPECT_FALSE(policy->Check("/hie.v1.ConsentService/RotateSigningKey", pki::Role::kNode).ok());
}

TEST(AuthorizationTablesTest, NodeTableCoversExactlyItsServices) {
  std::string dir = ::testing::TempDir() + "hie-services-node-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // The consent channel is never used here: nothing is called.
  auto services =
      node::OpenNodeServices(dir, {.own_org = "org-a",
                                   .consent_address = "127.0.0.1:1",
                                   .consent_credentials = grpc::InsecureChannelCredentials()});
  ASSERT_TRUE(services.ok()) << services.status();
  auto served = ServedMethods(
      *services, {"hie.v1.AuditLog", "hie.v1.FederatedQuery", "hie.v1.Ingest", "hie.v1.NodeStatus",
                  "hie.v1.PeerRecords", "hie.v1.FhirClients", "hie.v1.Users"});
  EXPECT_THAT(DomainMethods(*node::NodeAuthorizationPolicy()), ElementsAreArray(served));
  services->clear();
  std::filesystem::remove_all(dir);
}

TEST(AuthorizationTablesTest, EveryDaemonServesHealthAndReflection) {
  for (const auto& policy : {mpi::MpiAuthorizationPolicy(), consent::ConsentAuthorizationPolicy(),
                             node::NodeAuthorizationPolicy()}) {
    EXPECT_THAT(policy->Methods(), IsSupersetOf({std::string("/grpc.health.v1.Health/Check")}));
  }
}

TEST(AuthorizationTablesTest, OnlyOperatorsChangeTheDirectory) {
  auto policy = mpi::MpiAuthorizationPolicy();
  EXPECT_TRUE(policy->Check("/hie.v1.Directory/EnrollOrganization", pki::Role::kOperator).ok());
  for (pki::Role role : {pki::Role::kNode, pki::Role::kConsent, pki::Role::kMpi}) {
    EXPECT_FALSE(policy->Check("/hie.v1.Directory/EnrollOrganization", role).ok());
  }
}

TEST(AuthorizationTablesTest, OnlyNodesFetchFromPeers) {
  auto policy = node::NodeAuthorizationPolicy();
  EXPECT_TRUE(policy->Check("/hie.v1.PeerRecords/FetchRecords", pki::Role::kNode).ok());
  EXPECT_FALSE(policy->Check("/hie.v1.PeerRecords/FetchRecords", pki::Role::kOperator).ok());
}

}  // namespace
}  // namespace hie
