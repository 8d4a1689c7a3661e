#include "tests/http/test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace hie::http::testing {
namespace {

void SetTimeout(int fd, absl::Duration timeout) {
  timeval tv = absl::ToTimeval(timeout);
  if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1000;  // zero would mean "forever"
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(e, text, sizeof(text));
    absl::StrAppend(&out, out.empty() ? "" : "; ", text);
  }
  return out.empty() ? "connection closed" : out;
}

absl::StatusOr<HttpResponse> ParseHead(absl::string_view head) {
  std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
  std::vector<absl::string_view> status_line = absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
  HttpResponse response;
  if (status_line.size() < 2 || !absl::SimpleAtoi(status_line[1], &response.status)) {
    return absl::InternalError(absl::StrCat("bad status line: ", lines[0]));
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos) continue;
    std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
    response.headers[name] = std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
  }
  return response;
}

}  // namespace

TestClient::~TestClient() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<std::unique_ptr<TestClient>> TestClient::Connect(int port,
                                                                const ClientOptions& options) {
  ::signal(SIGPIPE, SIG_IGN);  // a write to a closed connection is an error, not death
  std::unique_ptr<TestClient> client(new TestClient());
  client->fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  SetTimeout(client->fd_, options.timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(client->fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return absl::UnavailableError("connection refused");
  }
  client->ctx_ = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(client->ctx_, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(client->ctx_, options.ca_file.c_str(), nullptr) != 1) {
    return absl::InternalError("cannot load the CA file");
  }
  if (!options.cert_file.empty() &&
      (SSL_CTX_use_certificate_chain_file(client->ctx_, options.cert_file.c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(client->ctx_, options.key_file.c_str(), SSL_FILETYPE_PEM) !=
           1)) {
    return absl::InternalError("cannot load the client certificate");
  }
  client->ssl_ = SSL_new(client->ctx_);
  SSL_set_fd(client->ssl_, client->fd_);
  if (SSL_connect(client->ssl_) != 1) return absl::UnavailableError(OpenSslErrors());
  return client;
}

absl::Status TestClient::Send(absl::string_view bytes) {
  while (!bytes.empty()) {
    int n = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
    if (n <= 0) return absl::UnavailableError(OpenSslErrors());
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status TestClient::Fill() {
  char chunk[16384];
  int n = SSL_read(ssl_, chunk, sizeof(chunk));
  if (n > 0) {
    buffer_.append(chunk, static_cast<size_t>(n));
    return absl::OkStatus();
  }
  if (SSL_get_error(ssl_, n) == SSL_ERROR_WANT_READ) {
    return absl::DeadlineExceededError("no response in time");
  }
  return absl::UnavailableError(OpenSslErrors());
}

absl::StatusOr<HttpResponse> TestClient::ReadResponse() {
  size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (absl::Status s = Fill(); !s.ok()) return s;
  }
  absl::StatusOr<HttpResponse> response = ParseHead(absl::string_view(buffer_).substr(0, end));
  if (!response.ok()) return response.status();
  buffer_.erase(0, end + 4);
  size_t length = 0;
  if (!absl::SimpleAtoi(response->Header("content-length"), &length)) length = 0;
  while (buffer_.size() < length) {
    if (absl::Status s = Fill(); !s.ok()) return s;
  }
  response->body = buffer_.substr(0, length);
  buffer_.erase(0, length);
  return response;
}

absl::StatusOr<HttpResponse> TestClient::Request(absl::string_view method, absl::string_view target,
                                                 const std::vector<std::string>& headers,
                                                 absl::string_view body) {
  std::string request = absl::StrCat(method, " ", target, " HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  for (const std::string& header : headers) absl::StrAppend(&request, header, "\r\n");
  if (!body.empty()) absl::StrAppend(&request, "Content-Length: ", body.size(), "\r\n");
  absl::StrAppend(&request, "\r\n", body);
  if (absl::Status s = Send(request); !s.ok()) return s;
  return ReadResponse();
}

void TestClient::set_timeout(absl::Duration timeout) { SetTimeout(fd_, timeout); }

bool TestClient::WaitClosed(absl::Duration limit) {
  absl::Time end = absl::Now() + limit;
  while (absl::Now() < end) {
    SetTimeout(fd_, end - absl::Now());
    absl::Status s = Fill();
    if (absl::IsUnavailable(s)) return true;
    buffer_.clear();
  }
  return false;
}

}  // namespace hie::http::testing
