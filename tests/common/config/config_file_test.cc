#include "common/config/config_file.h"

#include <filesystem>
#include <fstream>

#include "common/config/server_config.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/hie/v1/config.pb.h"

namespace hie {
namespace {

using ::hie::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hie-config-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_ / "crl");
    for (const char* name : {"ca.crt", "node.crt", "node.key"}) {
      std::ofstream(dir_ / name) << "placeholder\n";
    }
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  std::filesystem::path dir_;
};

constexpr char kGoodServer[] = R"(server {
  listen_address: "127.0.0.1:0"
  tls {
    ca_file: "ca.crt"
    cert_file: "node.crt"
    key_file: "node.key"
    crl_dir: "crl"
  }
}
data_dir: "data"
)";

TEST_F(ConfigFileTest, TypoInFieldNameReportsFileLineAndField) {
  std::string path = Write("node.textproto", R"(server {
  listen_address: "127.0.0.1:0"
  tls {
    ca_file: "ca.crt"
    cert_fil: "node.crt"
  }
}
)");
  hie::v1::NodeConfig config;
  EXPECT_THAT(ConfigFile::Load(path, &config).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(path + ":5:"), HasSubstr("cert_fil"),
                             HasSubstr("hie.v1.TlsConfig"))));
}

TEST_F(ConfigFileTest, WrongValueTypeReportsLine) {
  std::string path = Write("node.textproto", "server {\n  max_message_bytes: \"big\"\n}\n");
  hie::v1::NodeConfig config;
  EXPECT_THAT(ConfigFile::Load(path, &config).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(path + ":2:"), HasSubstr("max_message_bytes"))));
}

TEST_F(ConfigFileTest, MissingFileIsNotFound) {
  hie::v1::NodeConfig config;
  EXPECT_THAT(ConfigFile::Load((dir_ / "absent.textproto").string(), &config).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("absent.textproto")));
}

TEST_F(ConfigFileTest, GoodServerConfigResolvesPathsAgainstConfigDirectory) {
  std::string path = Write("node.textproto", kGoodServer);
  hie::v1::NodeConfig config;
  ASSERT_OK_AND_ASSIGN(ConfigFile file, ConfigFile::Load(path, &config));
  ASSERT_OK_AND_ASSIGN(ServerSettings settings,
                       ValidateServerConfig(file, config.server(), "server"));
  EXPECT_EQ(settings.tls.ca_file, (dir_ / "ca.crt").string());
  EXPECT_EQ(settings.tls.crl_dir, (dir_ / "crl").string());
  EXPECT_EQ(settings.max_message_bytes, 4 * 1024 * 1024);
  EXPECT_TRUE(settings.log_requests);
  EXPECT_EQ(settings.tls.reload_interval, absl::Seconds(2));
}

TEST_F(ConfigFileTest, OutOfRangeValueNamesLineAndField) {
  std::string text = kGoodServer;
  text.insert(text.find("  tls {"), "  max_message_bytes: 12\n");
  std::string path = Write("node.textproto", text);
  hie::v1::NodeConfig config;
  ASSERT_OK_AND_ASSIGN(ConfigFile file, ConfigFile::Load(path, &config));
  EXPECT_THAT(ValidateServerConfig(file, config.server(), "server").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(path + ":3:3: field \"server.max_message_bytes\""),
                             HasSubstr("1024"))));
}

TEST_F(ConfigFileTest, MissingCertificateFileNamesField) {
  std::string text = kGoodServer;
  text.replace(text.find("node.crt"), 8, "absent.crt");
  std::string path = Write("node.textproto", text);
  hie::v1::NodeConfig config;
  ASSERT_OK_AND_ASSIGN(ConfigFile file, ConfigFile::Load(path, &config));
  EXPECT_THAT(ValidateServerConfig(file, config.server(), "server").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(":5:"), HasSubstr("server.tls.cert_file"),
                             HasSubstr("absent.crt"))));
}

TEST_F(ConfigFileTest, MissingTlsSectionIsRefused) {
  std::string path = Write("node.textproto", "server { listen_address: \"127.0.0.1:1\" }\n");
  hie::v1::NodeConfig config;
  ASSERT_OK_AND_ASSIGN(ConfigFile file, ConfigFile::Load(path, &config));
  EXPECT_THAT(ValidateServerConfig(file, config.server(), "server").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("server.tls"), HasSubstr("mutual TLS"))));
}

TEST_F(ConfigFileTest, BadListenAddressIsRefused) {
  for (const char* bad : {"127.0.0.1", "127.0.0.1:99999", ":80", "127.0.0.1:http"}) {
    std::string text = kGoodServer;
    text.replace(text.find("127.0.0.1:0"), 11, bad);
    std::string path = Write("node.textproto", text);
    hie::v1::NodeConfig config;
    ASSERT_OK_AND_ASSIGN(ConfigFile file, ConfigFile::Load(path, &config));
    EXPECT_THAT(ValidateServerConfig(file, config.server(), "server").status(),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr(":2:3: field \"server.listen_address\"")))
        << bad;
  }
}

TEST_F(ConfigFileTest, PeerNeedsValidExpectedOrg) {
  std::string path =
      Write("node.textproto", "mpi { address: \"127.0.0.1:5\" expected_org: \"Bad Org\" }\n");
  hie::v1::NodeConfig config;
  ASSERT_OK_AND_ASSIGN(ConfigFile file, ConfigFile::Load(path, &config));
  EXPECT_THAT(ValidatePeerConfig(file, config.mpi(), "mpi").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(":1:"), HasSubstr("mpi.expected_org"))));
}

}  // namespace
}  // namespace hie
