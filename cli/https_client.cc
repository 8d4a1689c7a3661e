#include "cli/https_client.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace hie::cli {
namespace {

std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  if (code == 0) return "TLS error";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

}  // namespace

absl::StatusOr<HttpsResponse> HttpsRequest(
    const std::string& method, const std::string& url, const std::string& ca_file,
    const std::string& content_type, const std::string& body, absl::Duration timeout,
    const std::vector<std::pair<std::string, std::string>>& headers, const std::string& cert_file,
    const std::string& key_file) {
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat(url, ": not an https:// URL"));
  }
  size_t slash = rest.find('/');
  std::string authority(rest.substr(0, slash));
  std::string path = slash == absl::string_view::npos ? "/" : std::string(rest.substr(slash));
  size_t colon = authority.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(authority.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(absl::StrCat(url, ": the URL needs host:port"));
  }
  std::string host = authority.substr(0, colon);

  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  if (ctx == nullptr) return absl::InternalError(OpenSslError());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  if (SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr) != 1) {
    return absl::FailedPreconditionError(absl::StrCat(ca_file, ": cannot read the CA"));
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (!cert_file.empty() &&
      (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file.c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1)) {
    return absl::FailedPreconditionError(
        absl::StrCat(cert_file, ": cannot use this certificate and key"));
  }
  std::unique_ptr<BIO, decltype(&BIO_free_all)> bio(BIO_new_ssl_connect(ctx.get()), BIO_free_all);
  if (bio == nullptr) return absl::InternalError(OpenSslError());
  SSL* ssl = nullptr;
  BIO_get_ssl(bio.get(), &ssl);
  SSL_set_tlsext_host_name(ssl, host.c_str());
  // The certificate must name the host (a DNS name or an IP address).
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  }
  BIO_set_conn_hostname(bio.get(), authority.c_str());
  // A whole-exchange deadline: the socket's own timeouts once connected.
  if (BIO_do_connect(bio.get()) != 1 || BIO_do_handshake(bio.get()) != 1) {
    return absl::UnavailableError(absl::StrCat(url, ": ", OpenSslError()));
  }
  int fd = -1;
  BIO_get_fd(bio.get(), &fd);
  if (fd >= 0) {
    timeval tv{static_cast<time_t>(absl::ToInt64Seconds(timeout)), 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }
  std::string request = absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: ", authority,
                                     "\r\nAccept: application/json, application/fhir+json\r\n"
                                     "Connection: close\r\n");
  if (!content_type.empty()) {
    absl::StrAppend(&request, "Content-Type: ", content_type, "\r\n");
  }
  for (const auto& [name, value] : headers) absl::StrAppend(&request, name, ": ", value, "\r\n");
  absl::StrAppend(&request, "Content-Length: ", body.size(), "\r\n\r\n", body);
  if (BIO_write(bio.get(), request.data(), static_cast<int>(request.size())) !=
      static_cast<int>(request.size())) {
    return absl::UnavailableError(absl::StrCat(url, ": cannot send: ", OpenSslError()));
  }
  std::string answer;
  char buffer[16384];
  for (;;) {
    int n = BIO_read(bio.get(), buffer, sizeof(buffer));
    if (n <= 0) break;
    answer.append(buffer, static_cast<size_t>(n));
    if (answer.size() > (size_t{64} << 20)) {
      return absl::ResourceExhaustedError(absl::StrCat(url, ": answer larger than 64 MiB"));
    }
  }
  size_t end = answer.find("\r\n\r\n");
  if (end == std::string::npos) {
    return absl::UnavailableError(absl::StrCat(url, ": no answer (or cut short)"));
  }
  HttpsResponse response;
  std::vector<absl::string_view> lines =
      absl::StrSplit(absl::string_view(answer).substr(0, end), "\r\n");
  std::vector<absl::string_view> status_line = absl::StrSplit(lines[0], ' ');
  if (status_line.size() < 2 || !absl::SimpleAtoi(status_line[1], &response.status)) {
    return absl::UnavailableError(absl::StrCat(url, ": not an HTTP answer"));
  }
  size_t length = std::string::npos;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t c = lines[i].find(':');
    if (c == absl::string_view::npos) continue;
    std::string name = absl::AsciiStrToLower(lines[i].substr(0, c));
    absl::string_view value = absl::StripAsciiWhitespace(lines[i].substr(c + 1));
    response.headers.emplace_back(name, std::string(value));
    if (name == "content-type") response.content_type = std::string(value);
    if (name == "content-length") {
      size_t n = 0;
      if (absl::SimpleAtoi(value, &n)) length = n;
    }
  }
  response.body = answer.substr(end + 4);
  if (length != std::string::npos && response.body.size() < length) {
    return absl::UnavailableError(absl::StrCat(url, ": answer cut short"));
  }
  if (length != std::string::npos) response.body.resize(length);
  return response;
}

}  // namespace hie::cli
