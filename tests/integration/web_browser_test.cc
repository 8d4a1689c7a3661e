// The node's web app in a real browser: a whole exchange brought up as the README's
// quick start does (`hiectl devnet up --nodes 3`, then `hiectl devnet samples`: three
// practices, Jane Oyelaran's records at each, the demo accounts), and
// tests/js/web/*.test.mjs run with Node's test runner, driving Debian's headless chromium
// through puppeteer-core: sign-in, two-step sign-in set-up, lockout, sessions, CSRF,
// cross-role and XSS cases, the error pages, the clinician's, the front desk's, the
// practice admin's and the patient's pages (her record from every practice, her sharing
// choices and what they do to a clinician's query; the admin's upload runs
// web/node/import.js in the browser), each main page screenshotted into
// <build>/web-screenshots/ and checked with axe-core. chromium comes from
// scripts/install-deps.sh, puppeteer-core and axe-core from tests/js/package-lock.json
// (scripts/install-js-deps.sh); without them this test fails, it does not skip.
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/integration/daemon_process.h"

namespace hie::testing {
namespace {

namespace fs = std::filesystem;

fs::path SourceDir() {
  const char* env = std::getenv("HIE_SOURCE_DIR");
  return fs::path(env != nullptr ? env : HIE_TEST_SOURCE_DIR);
}

// `name` on PATH, as a shell would find it; empty if there is none.
std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path != nullptr ? path : "", ':', absl::SkipEmpty())) {
    fs::path candidate = fs::path(std::string(dir)) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

// The devnet of one test: brought up by Up, always taken down (and its directory
// removed) when the test ends, passed or failed.
class Devnet {
 public:
  Devnet()
      : dir_(fs::temp_directory_path() / ("hie-web-browser-" + std::to_string(::getpid()))),
        hiectl_(BinDir() + "/hiectl") {
    fs::remove_all(dir_);
  }
  ~Devnet() {
    if (up_) RunCommand({hiectl_, "devnet", "down", "--dir", dir_.string()}, absl::Seconds(60));
    fs::remove_all(dir_);
  }

  CommandResult Up() {
    up_ = true;  // a failed up may have started some daemons: down stops what runs
    CommandResult up = RunCommand({hiectl_, "devnet", "up", "--dir", dir_.string(), "--nodes", "3"},
                                  absl::Seconds(120));
    if (up.exit_code != 0) return up;
    return RunCommand(
        {hiectl_, "devnet", "samples", "--dir", dir_.string(), "--synthea-patients", "0"},
        absl::Seconds(120));
  }

  const fs::path& dir() const { return dir_; }
  const std::string& hiectl() const { return hiectl_; }

 private:
  fs::path dir_;
  std::string hiectl_;
  bool up_ = false;
};

TEST(WebBrowserTest, TheWebAppInHeadlessChromium) {
  const fs::path js = SourceDir() / "tests/js";
  const std::string node = FindOnPath("node");
  ASSERT_FALSE(node.empty()) << "node is not on PATH: scripts/install-deps.sh installs it";
  const char* chromium_env = std::getenv("HIE_CHROMIUM");
  const std::string chromium = chromium_env != nullptr ? chromium_env : "/usr/bin/chromium";
  ASSERT_EQ(::access(chromium.c_str(), X_OK), 0)
      << chromium << " is missing: scripts/install-deps.sh installs Debian's chromium";
  ASSERT_TRUE(fs::exists(js / "node_modules/puppeteer-core/package.json") &&
              fs::exists(js / "node_modules/axe-core/axe.min.js"))
      << "the JavaScript test dependencies are not installed in " << js
      << ": run scripts/install-js-deps.sh (scripts/test.sh does)";

  Devnet devnet;
  CommandResult up = devnet.Up();
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err;

  const fs::path screenshots = fs::path(BinDir()).parent_path() / "web-screenshots";
  fs::remove_all(screenshots);
  fs::create_directories(screenshots);
  ASSERT_EQ(::setenv("HIE_WEB_DEVNET_DIR", devnet.dir().c_str(), 1), 0);
  ASSERT_EQ(::setenv("HIE_WEB_SCREENSHOTS", screenshots.c_str(), 1), 0);
  ASSERT_EQ(::setenv("HIE_HIECTL", devnet.hiectl().c_str(), 1), 0);
  ASSERT_EQ(::setenv("HIE_CHROMIUM", chromium.c_str(), 1), 0);

  std::vector<std::string> argv = {node, "--test", "--test-reporter=tap"};
  for (const auto& entry : fs::directory_iterator(js / "web")) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 9 && name.compare(name.size() - 9, 9, ".test.mjs") == 0) {
      argv.push_back(entry.path().string());
    }
  }
  ASSERT_GT(argv.size(), 3u) << "no tests in " << js / "web";
  CommandResult run = RunCommand(argv, absl::Seconds(240));
  // The runner's report, also when it passes: which tests ran, which are still to do.
  std::cout << run.out << run.err;
  if (run.exit_code != 0) {
    // The devnet's directory goes with the test: its nodes' logs, while they are here.
    for (const char* log : {"node-a", "node-b", "node-c"}) {
      std::string text =
          ReadWholeFile((devnet.dir() / "logs" / (std::string(log) + ".log")).string());
      std::cout << "--- " << log << ".log (its end)\n"
                << text.substr(text.size() > 4000 ? text.size() - 4000 : 0) << "\n";
    }
  }
  EXPECT_EQ(run.exit_code, 0) << "node --test failed (output and the nodes' logs above)";
  EXPECT_NE(run.out.find("\n# fail 0"), std::string::npos) << "node's report above counts failures";
  EXPECT_EQ(run.out.find("\n# pass 0"), std::string::npos) << "no browser test passed";
  // Every test runs: none skipped, none left to do.
  EXPECT_NE(run.out.find("\n# skipped 0"), std::string::npos) << "a browser test was skipped";
  EXPECT_NE(run.out.find("\n# todo 0"), std::string::npos) << "a browser test is marked todo";
  std::cout << "screenshots: " << screenshots << "\n";
}

}  // namespace
}  // namespace hie::testing
