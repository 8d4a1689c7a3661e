// Feeds arbitrary text to the config loader: every failure must be a status whose
// message names the file, never a crash.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "common/config/config_file.h"
#include "proto/hie/v1/config.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  hie::v1::NodeConfig config;
  auto file = hie::ConfigFile::Parse("fuzz.textproto", text, &config);
  if (!file.ok() && !absl::StartsWith(file.status().message(), "fuzz.textproto")) std::abort();
  return 0;
}
