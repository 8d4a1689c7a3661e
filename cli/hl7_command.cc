// hiectl hl7 convert | send: for a practice's integration engineer. `convert` runs the
// node's own HL7 v2 parser and mapping (and checks the result with the node's FHIR
// ingest) on files, offline; `send` sends messages to a node's MLLP port and prints each
// acknowledgement.

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "common/json/json_writer.h"
#include "node/domain/fhir_ingest.h"
#include "node/domain/labeler.h"
#include "node/hl7/hl7_message.h"
#include "node/hl7/hl7_to_fhir.h"
#include "node/hl7/mllp_framer.h"
#include "openssl/err.h"
#include "openssl/ssl.h"

namespace hie::cli {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Readable(absl::string_view segments) {
  std::string out = absl::StrReplaceAll(segments, {{"\r", "\n"}});
  if (!out.empty() && out.back() != '\n') out.push_back('\n');
  return out;
}

int RunConvert(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  FlagSet flags("hiectl hl7 convert FILE...",
                "Prints the FHIR R4 Bundle each HL7 v2 message in FILE becomes: the very\n"
                "parser, mapping and FHIR checks hie-node applies to its MLLP feed (docs/hl7.md).\n"
                "A file may hold several messages (with or without FHS/BHS); each Bundle is one\n"
                "line of JSON. Nothing is sent anywhere. A message the node would refuse prints\n"
                "the segment, field and reason on stderr, and the exit status is 1.",
                "hiectl hl7 convert adt-a01.hl7 | jq .entry[].resource.resourceType");
  if (absl::Status s = flags.Parse(args, &files); !s.ok()) return UsageError("hl7 convert", s);
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return kExitOk;
  }
  if (files.empty()) {
    return UsageError("hl7 convert", absl::InvalidArgumentError("name at least one FILE"));
  }
  auto labeler = node::Labeler::FromConfig({});
  if (!labeler.ok()) return Fail(labeler.status());
  node::FhirIngester ingester(&*labeler);
  bool failed = false;
  for (const std::string& file : files) {
    absl::StatusOr<std::string> text = ReadFile(file);
    if (!text.ok()) return Fail(text.status());
    std::vector<std::string> messages = node::hl7::SplitMessages(*text);
    if (messages.empty()) {
      std::cerr << "hiectl: " << file << ": no HL7 v2 message\n";
      failed = true;
    }
    for (size_t i = 0; i < messages.size(); ++i) {
      std::string where = messages.size() > 1 ? absl::StrCat(file, " message ", i + 1) : file;
      node::hl7::Hl7Issue issue;
      auto message = node::hl7::Hl7Message::Parse(messages[i], &issue);
      absl::StatusOr<node::hl7::Hl7Conversion> conversion =
          message.ok() ? node::hl7::ConvertToFhir(*message, {}, &issue)
                       : absl::StatusOr<node::hl7::Hl7Conversion>(message.status());
      if (!conversion.ok()) {
        std::cerr << "hiectl: " << where << ": " << (issue.reject ? "AR" : "AE") << " at "
                  << issue.Location() << ": " << issue.reason << "\n";
        failed = true;
        continue;
      }
      node::IngestBatch checked = ingester.ParseJson(conversion->bundle_json, where);
      if (!checked.problems.empty()) {
        for (const auto& p : checked.problems) {
          std::cerr << "hiectl: " << where << ": AE: FHIR ingest refuses " << p.path << ": "
                    << p.message << "\n";
        }
        failed = true;
        continue;
      }
      for (const auto& warning : conversion->warnings) {
        std::cerr << "hiectl: " << where << ": warning at " << warning.Location() << ": "
                  << warning.reason << "\n";
      }
      std::cout << conversion->bundle_json << "\n";
    }
  }
  return failed ? kExitFailed : kExitOk;
}

// One MLLP connection, plain or TLS.
class MllpClient {
 public:
  ~MllpClient() {
    if (ssl_ != nullptr) {
      SSL_shutdown(ssl_);
      SSL_free(ssl_);
    }
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }

  absl::Status Connect(const std::string& target, bool tls, const std::string& ca,
                       const std::string& cert, const std::string& key) {
    size_t colon = target.rfind(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError("--target must be HOST:PORT");
    }
    std::string host = target.substr(0, colon), port = target.substr(colon + 1);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) {
      return absl::UnavailableError(absl::StrCat("cannot resolve ", target));
    }
    for (addrinfo* a = found; a != nullptr && fd_ < 0; a = a->ai_next) {
      int fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
      if (fd < 0) continue;
      if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
        fd_ = fd;
      } else {
        ::close(fd);
      }
    }
    ::freeaddrinfo(found);
    if (fd_ < 0) return absl::UnavailableError(absl::StrCat("cannot connect to ", target));
    if (!tls) return absl::OkStatus();
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    if (!ca.empty()) {
      if (SSL_CTX_load_verify_locations(ctx_, ca.c_str(), nullptr) != 1) {
        return absl::InvalidArgumentError(absl::StrCat("cannot load --ca ", ca));
      }
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    }
    if (!cert.empty() && (SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str()) != 1 ||
                          SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM) != 1)) {
      return absl::InvalidArgumentError("cannot load --cert/--key");
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    if (SSL_connect(ssl_) != 1) {
      char buffer[256];
      ERR_error_string_n(ERR_get_error(), buffer, sizeof(buffer));
      return absl::UnavailableError(absl::StrCat("TLS handshake with ", target, ": ", buffer));
    }
    return absl::OkStatus();
  }

  // Sends one framed message and waits (at most `timeout`) for one framed answer.
  absl::StatusOr<std::string> Exchange(const std::string& message, absl::Duration timeout) {
    std::string framed = node::hl7::MllpFrame(message);
    size_t sent = 0;
    while (sent < framed.size()) {
      int n = ssl_ != nullptr
                  ? SSL_write(ssl_, framed.data() + sent, static_cast<int>(framed.size() - sent))
                  : static_cast<int>(
                        ::send(fd_, framed.data() + sent, framed.size() - sent, MSG_NOSIGNAL));
      if (n <= 0) return absl::UnavailableError("the node closed the connection");
      sent += static_cast<size_t>(n);
    }
    absl::Time deadline = absl::Now() + timeout;
    std::vector<std::string> acks;
    char buffer[8192];
    while (acks.empty()) {
      if (ssl_ == nullptr || SSL_pending(ssl_) == 0) {
        int ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
        if (ms <= 0) return absl::DeadlineExceededError("no acknowledgement in time");
        pollfd p = {fd_, POLLIN, 0};
        if (::poll(&p, 1, ms) <= 0) continue;
      }
      int n = ssl_ != nullptr ? SSL_read(ssl_, buffer, sizeof(buffer))
                              : static_cast<int>(::recv(fd_, buffer, sizeof(buffer), 0));
      if (n <= 0) return absl::UnavailableError("the node closed the connection without an ACK");
      if (absl::Status s = decoder_.Feed(absl::string_view(buffer, n), &acks); !s.ok()) return s;
    }
    return acks.front();
  }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  node::hl7::MllpDecoder decoder_{16 << 20};
};

int RunSend(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  std::string target, ca, cert, key;
  bool tls = false, json = false;
  int timeout_ms = 30000;
  FlagSet flags("hiectl hl7 send --target HOST:PORT FILE... [--tls --ca F [--cert F --key F]]",
                "Sends the HL7 v2 messages in each FILE (one or several per file, CR, LF or\n"
                "CRLF segment endings) to a node's MLLP listener, one at a time, and prints each\n"
                "acknowledgement. --json prints one document: every message's control id, ACK\n"
                "code (AA, AE, AR), reason and the ACK itself. Exit status 1 if any message was\n"
                "not acknowledged AA, 3 if the node could not be reached.",
                "hiectl hl7 send --target 127.0.0.1:2575 adt-a01.hl7 oru-r01.hl7");
  flags.String("target", &target, "HOST:PORT", "the node's MLLP listener (hl7.listen_address)");
  flags.Bool("tls", &tls, "connect with TLS (the node's hl7.tls)");
  flags.String("ca", &ca, "FILE", "with --tls: verify the node against this CA certificate");
  flags.String("cert", &cert, "FILE", "with --tls: present this certificate");
  flags.String("key", &key, "FILE", "with --tls: its private key");
  flags.Int("timeout-ms", &timeout_ms, "MS", "wait this long for each ACK (default 30000)");
  flags.Bool("json", &json, "print one JSON document on stdout");
  if (absl::Status s = flags.Parse(args, &files); !s.ok()) return UsageError("hl7 send", s);
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return kExitOk;
  }
  if (target.empty())
    return UsageError("hl7 send", absl::InvalidArgumentError("--target is required"));
  if (files.empty())
    return UsageError("hl7 send", absl::InvalidArgumentError("name at least one FILE"));
  std::vector<std::pair<std::string, std::string>> messages;
  for (const std::string& file : files) {
    absl::StatusOr<std::string> text = ReadFile(file);
    if (!text.ok()) return Fail(text.status());
    for (std::string& m : node::hl7::SplitMessages(*text))
      messages.emplace_back(file, std::move(m));
  }
  MllpClient client;
  if (absl::Status s = client.Connect(target, tls, ca, cert, key); !s.ok()) {
    return s.code() == absl::StatusCode::kInvalidArgument ? UsageError("hl7 send", s) : Fail(s);
  }
  bool all_accepted = true;
  std::vector<std::string> results;
  for (const auto& [file, message] : messages) {
    absl::StatusOr<std::string> ack = client.Exchange(message, absl::Milliseconds(timeout_ms));
    if (!ack.ok())
      return Fail(
          absl::Status(ack.status().code(), absl::StrCat(target, ": ", ack.status().message())));
    std::string code, control, reason;
    auto parsed = node::hl7::Hl7Message::Parse(*ack);
    if (parsed.ok()) {
      for (const auto& segment : parsed->segments()) {
        if (segment.id() != "MSA") continue;
        code = parsed->Value(segment, 1);
        control = parsed->Value(segment, 2);
        reason = parsed->Value(segment, 3);
      }
    }
    if (code != "AA" && code != "CA") all_accepted = false;
    if (json) {
      results.push_back(JsonObject()
                            .Add("file", file)
                            .Add("control_id", control)
                            .Add("ack_code", code)
                            .Add("reason", reason)
                            .Add("ack", Readable(*ack))
                            .Build());
    } else {
      std::cout << "# " << file << (control.empty() ? "" : absl::StrCat(" (", control, ")")) << ": "
                << (code.empty() ? "?" : code) << "\n"
                << Readable(*ack);
    }
  }
  if (json) std::cout << JsonObject().AddRaw("messages", JsonArray(results)).Build() << "\n";
  return all_accepted ? kExitOk : kExitFailed;
}

}  // namespace

std::vector<Command> Hl7Commands() {
  return {{{"hl7", "convert"}, "print the FHIR Bundle an HL7 v2 message becomes", RunConvert},
          {{"hl7", "send"}, "send HL7 v2 messages to a node over MLLP, print each ACK", RunSend}};
}

}  // namespace hie::cli
