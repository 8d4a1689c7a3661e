// The client registry: what may be registered, and that registrations and revocations
// are kept in the store across a reopen.
#include "common/auth/client_registry.h"

#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/store/key_codec.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/auth/test_keys.h"

namespace hie::auth {
namespace {

namespace fs = std::filesystem;
using ::hie::auth::testing::EcKey;
using ::hie::auth::testing::RsaKey;
using ::hie::testing::IsOk;
using ::hie::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::UnorderedElementsAre;

const absl::Time kNow = absl::FromUnixSeconds(1'750'000'000);

ClientRegistration EcRegistration() {
  return ClientRegistration{.name = "Riverside EMR export",
                            .org = "org-a",
                            .public_key = EcKey().public_pem,
                            .algorithm = JwsAlgorithm::kES384,
                            .scopes = {"system/*.read"}};
}

class ClientRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "hie-clients-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    Reopen();
  }
  void TearDown() override {
    registry_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  void Reopen() {
    registry_.reset();
    store_.reset();
    absl::StatusOr<std::unique_ptr<store::KvStore>> store = store::KvStore::Open(dir_);
    ASSERT_THAT(store, IsOk());
    store_ = std::move(*store);
    registry_ = std::make_unique<ClientRegistry>(store_.get());
  }

  std::string dir_;
  std::unique_ptr<store::KvStore> store_;
  std::unique_ptr<ClientRegistry> registry_;
};

TEST_F(ClientRegistryTest, RegisterGetAndListSurviveReopen) {
  ASSERT_OK_AND_ASSIGN(Client ec, registry_->Register(EcRegistration(), kNow));
  EXPECT_THAT(ec.client_id, MatchesRegex("[A-Za-z0-9_-]{22}"));
  ClientRegistration rsa = EcRegistration();
  rsa.org = "org-b";
  rsa.public_key = RsaKey().public_jwk;
  rsa.algorithm = JwsAlgorithm::kRS384;
  rsa.scopes = {"system/Patient.rs", "system/Patient.rs", "system/Observation.read"};
  ASSERT_OK_AND_ASSIGN(Client rs, registry_->Register(rsa, kNow + absl::Seconds(1)));
  EXPECT_NE(ec.client_id, rs.client_id);
  EXPECT_THAT(rs.scopes, ElementsAre("system/Patient.rs", "system/Observation.read"));

  Reopen();
  ASSERT_OK_AND_ASSIGN(Client got, registry_->Get(ec.client_id));
  EXPECT_EQ(got.name, "Riverside EMR export");
  EXPECT_EQ(got.org, "org-a");
  EXPECT_EQ(got.public_key, EcKey().public_pem);
  EXPECT_EQ(got.algorithm, JwsAlgorithm::kES384);
  EXPECT_THAT(got.scopes, ElementsAre("system/*.read"));
  EXPECT_EQ(got.registered_at, kNow);
  EXPECT_FALSE(got.revoked());
  EXPECT_THAT(got.Key(), IsOk());
  ASSERT_OK_AND_ASSIGN(std::vector<Client> all, registry_->List());
  std::vector<std::string> ids;
  for (const Client& c : all) ids.push_back(c.client_id);
  EXPECT_THAT(ids, UnorderedElementsAre(ec.client_id, rs.client_id));
}

TEST_F(ClientRegistryTest, RevokeIsKeptAndIdempotent) {
  ASSERT_OK_AND_ASSIGN(Client client, registry_->Register(EcRegistration(), kNow));
  ASSERT_OK(registry_->Revoke(client.client_id, kNow + absl::Minutes(1)));
  ASSERT_OK(registry_->Revoke(client.client_id, kNow + absl::Minutes(2)));
  Reopen();
  ASSERT_OK_AND_ASSIGN(Client got, registry_->Get(client.client_id));
  ASSERT_TRUE(got.revoked());
  EXPECT_EQ(*got.revoked_at, kNow + absl::Minutes(1));
  EXPECT_THAT(registry_->Revoke("no-such-client", kNow), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(registry_->Get("no-such-client"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ClientRegistryTest, InvalidRegistrationsNameTheField) {
  struct Case {
    const char* field;
    void (*edit)(ClientRegistration&);
  };
  const Case cases[] = {
      {"name", [](ClientRegistration& r) { r.name = "  "; }},
      {"org", [](ClientRegistration& r) { r.org = "Org A"; }},
      {"org", [](ClientRegistration& r) { r.org = ""; }},
      {"public_key", [](ClientRegistration& r) { r.public_key = "not a key"; }},
      {"public_key", [](ClientRegistration& r) { r.algorithm = JwsAlgorithm::kRS384; }},
      {"public_key", [](ClientRegistration& r) { r.public_key = EcKey().private_pem; }},
      {"scopes", [](ClientRegistration& r) { r.scopes.clear(); }},
      {"scopes", [](ClientRegistration& r) { r.scopes = {"patient/*.read"}; }},
      {"scopes",
       [](ClientRegistration& r) {
         r.scopes = {"system/*.read", "openid"};
       }},
  };
  for (const Case& c : cases) {
    ClientRegistration registration = EcRegistration();
    c.edit(registration);
    EXPECT_THAT(registry_->Register(registration, kNow),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.field)))
        << c.field;
  }
  ASSERT_OK_AND_ASSIGN(std::vector<Client> all, registry_->List());
  EXPECT_TRUE(all.empty());
}

TEST_F(ClientRegistryTest, CorruptEntryIsDataLoss) {
  ASSERT_OK_AND_ASSIGN(Client client, registry_->Register(EcRegistration(), kNow));
  std::string key = store::KeyBuilder().AddString("auth").AddString("client").Build();
  ASSERT_OK(store_->ScanPrefix(key, [&](absl::string_view k, absl::string_view) {
    key = std::string(k);
    return false;
  }));
  ASSERT_OK(store_->Put(key, "{\"client_id\":"));
  // Read as after a restart (this registry keeps what it wrote in memory).
  ClientRegistry reopened(store_.get());
  EXPECT_THAT(reopened.Get(client.client_id), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(registry_->List(), StatusIs(absl::StatusCode::kDataLoss));
}

// A client read once is kept: checking a token reads no store, and a revocation made
// through the same registry is seen at once.
TEST_F(ClientRegistryTest, ClientsAreKeptInMemoryAndRevocationsSeenAtOnce) {
  ASSERT_OK_AND_ASSIGN(Client client, registry_->Register(EcRegistration(), kNow));
  std::string key = store::KeyBuilder().AddString("auth").AddString("client").Build();
  ASSERT_OK(store_->ScanPrefix(key, [&](absl::string_view k, absl::string_view) {
    key = std::string(k);
    return false;
  }));
  ASSERT_OK(store_->Delete(key));  // gone from the store: the registry still knows it
  EXPECT_OK(registry_->Get(client.client_id));
  ASSERT_OK(store_->Put(key, "{}"));
  ASSERT_OK(registry_->Revoke(client.client_id, kNow));
  ASSERT_OK_AND_ASSIGN(Client revoked, registry_->Get(client.client_id));
  EXPECT_TRUE(revoked.revoked());
  // Unknown ids are never kept.
  EXPECT_THAT(registry_->Get("made-up"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace hie::auth
