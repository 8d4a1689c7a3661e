// The daemon configs embedded in deploy/kubernetes/ parse as the daemons' own config
// messages: a typo there would only show on a cluster.
#include <fstream>
#include <sstream>

#include "common/config/config_file.h"
#include "gtest/gtest.h"
#include "proto/hie/v1/config.pb.h"

namespace hie {
namespace {

// The indented block after "<name>.textproto: |" in a ConfigMap, de-indented.
std::string EmbeddedConfig(const std::string& yaml, const std::string& name) {
  std::string marker = name + ".textproto: |\n";
  size_t at = yaml.find(marker);
  if (at == std::string::npos) return "";
  std::istringstream lines(yaml.substr(at + marker.size()));
  std::string line, out;
  while (std::getline(lines, line)) {
    if (line.rfind("    ", 0) != 0) break;
    out += line.substr(4) + "\n";
  }
  return out;
}

TEST(DeployManifestsTest, KubernetesConfigMapsHoldValidConfigs) {
  const std::string dir = std::string(HIE_TEST_SOURCE_DIR) + "/deploy/kubernetes/";
  auto read = [&](const std::string& file) {
    std::ifstream in(dir + file);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  hie::v1::MpiConfig mpi;
  hie::v1::ConsentConfig consent;
  hie::v1::NodeConfig node;
  std::string text = EmbeddedConfig(read("hie-mpi.yaml"), "mpi");
  ASSERT_FALSE(text.empty());
  EXPECT_TRUE(ConfigFile::Parse("hie-mpi.yaml", text, &mpi).ok());
  text = EmbeddedConfig(read("hie-consent.yaml"), "consent");
  ASSERT_FALSE(text.empty());
  EXPECT_TRUE(ConfigFile::Parse("hie-consent.yaml", text, &consent).ok());
  EXPECT_EQ(consent.mpi().address(), "hie-mpi:41001");
  text = EmbeddedConfig(read("hie-node.yaml"), "node");
  ASSERT_FALSE(text.empty());
  EXPECT_TRUE(ConfigFile::Parse("hie-node.yaml", text, &node).ok());
  EXPECT_EQ(node.consent().address(), "hie-consent:41002");
  EXPECT_EQ(node.data_dir(), "/var/lib/hie/node");
}

}  // namespace
}  // namespace hie
