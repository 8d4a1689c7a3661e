// What every test of the node's FHIR API starts from: org-a's node with the API on a
// port of its choosing, SMART clients registered with hiectl as a practice would, tokens
// from hiectl fhir token, and requests over real TLS.
#ifndef HIE_TESTS_INTEGRATION_FHIR_FIXTURE_H_
#define HIE_TESTS_INTEGRATION_FHIR_FIXTURE_H_

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/https_client.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "tests/integration/daemon_fixture.h"

namespace hie::testing {

class FhirApiFixture : public DaemonFixture {
 protected:
  // Starts the exchange's MPI and consent service, which the nodes started after are
  // configured to use. Returns the MPI's port (0, with a failure recorded, if either
  // did not start).
  int StartMpiAndConsent() {
    int mpi = StartDaemon("mpi");
    EXPECT_GT(mpi, 0);
    mpi_address_ = absl::StrCat("127.0.0.1:", mpi);
    int consent = StartDaemon("consent");
    EXPECT_GT(consent, 0);
    consent_address_ = absl::StrCat("127.0.0.1:", consent);
    return mpi > 0 && consent > 0 ? mpi : 0;
  }

  // Starts org-a's node with the FHIR API on a port of its choosing; returns the gRPC
  // port, and sets base_. `extra` is more of the node's configuration.
  int StartNodeWithApi(const std::string& extra = "") {
    std::filesystem::remove(Path("fhir.port"));
    int port = StartDaemon("node", absl::StrCat("fhir_api { listen_address: \"127.0.0.1:0\" "
                                                "port_file: \"",
                                                Path("fhir.port"), "\" }\n", extra));
    auto fhir_port = WaitForPortFile(Path("fhir.port"), absl::Seconds(30));
    EXPECT_TRUE(fhir_port.ok()) << fhir_port.status();
    base_ = absl::StrCat("https://127.0.0.1:", fhir_port.ok() ? *fhir_port : 0);
    return port;
  }

  cli::HttpsResponse Get(const std::string& path, const std::string& token = "") {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    auto r = cli::HttpsRequest("GET", base_ + path, Path("ca/ca.crt"), "", "", absl::Seconds(10),
                               headers);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : cli::HttpsResponse{};
  }

  // `method` `path` with a FHIR JSON `body` (none when empty) and extra `headers`.
  cli::HttpsResponse Send(const std::string& method, const std::string& path,
                          const std::string& body, const std::string& token = "",
                          std::vector<std::pair<std::string, std::string>> headers = {}) {
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    auto r = cli::HttpsRequest(method, base_ + path, Path("ca/ca.crt"),
                               body.empty() ? "" : "application/fhir+json", body, absl::Seconds(10),
                               headers);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : cli::HttpsResponse{};
  }

  // An EC P-384 key pair in PEM files, as a practice's IT would make with openssl.
  void MakeKey(const std::string& name) {
    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
    ASSERT_NE(key, nullptr);
    for (bool is_private : {true, false}) {
      std::string path = Path(name + (is_private ? ".key.pem" : ".pub.pem"));
      BIO* out = BIO_new_file(path.c_str(), "w");
      ASSERT_NE(out, nullptr);
      int ok = is_private
                   ? PEM_write_bio_PrivateKey(out, key, nullptr, nullptr, 0, nullptr, nullptr)
                   : PEM_write_bio_PUBKEY(out, key);
      BIO_free(out);
      ASSERT_EQ(ok, 1) << path;
    }
    EVP_PKEY_free(key);
  }

  // Registers a client of org-a's node with `scope`; returns its id.
  std::string AddClient(int port, const std::string& name, const std::string& scope) {
    MakeKey(name);
    CommandResult r = HiectlAs("node-a", port,
                               {"fhir", "client", "add", "--name", name, "--public-key",
                                Path(name + ".pub.pem"), "--scope", scope, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    std::string_view id;
    if (parser.parse(r.out).get(root) || root["client_id"].get_string().get(id)) return "";
    return std::string(id);
  }

  // A token from hiectl fhir token, with a profile naming the API and the client.
  CommandResult Token(const std::string& client_id, const std::string& name,
                      std::vector<std::string> extra = {}) {
    std::string profile = Path(name + ".profile");
    std::ofstream(profile) << "ca_file: \"" << Path("ca/ca.crt") << "\"\n"
                           << "fhir_base: \"" << base_ << "\"\n"
                           << "fhir_client_id: \"" << client_id << "\"\n"
                           << "fhir_client_key_file: \"" << Path(name + ".key.pem") << "\"\n";
    std::vector<std::string> argv = {BinDir() + "/hiectl", "fhir", "token", "--profile", profile};
    for (auto& word : extra) argv.push_back(word);
    return RunCommand(argv);
  }

  static std::string Trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  }

  std::string base_;
};

}  // namespace hie::testing

#endif  // HIE_TESTS_INTEGRATION_FHIR_FIXTURE_H_
