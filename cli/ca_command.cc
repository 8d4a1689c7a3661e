// hiectl ca init|issue|revoke|refresh-crl: the exchange's certificate authority.

#include <fstream>
#include <iostream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/command.h"
#include "cli/flags.h"
#include "common/json/json_writer.h"
#include "common/pki/ca.h"
#include "common/pki/identity.h"

namespace hie::cli {
namespace {

// Parses the flags; returns an exit status to stop with, or -1 to go on.
int ParseOrExit(FlagSet& flags, const std::vector<std::string>& args, const std::string& name) {
  if (absl::Status s = flags.Parse(args, nullptr); !s.ok()) return UsageError(name, s);
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return kExitOk;
  }
  return -1;
}

int RunInit(const std::vector<std::string>& args) {
  std::string dir;
  std::string name = "hie exchange CA";
  int validity_days = 3650;
  int crl_days = 7;
  bool json = false;
  FlagSet flags("hiectl ca init --dir D [--name CN] [--validity-days N] [--crl-days N] [--json]",
                "Creates the exchange's certificate authority in D: D/ca.crt (give it to every\n"
                "party), D/ca.key (mode 0600; keep it offline in production) and an empty CRL in\n"
                "D/crl/ (point every daemon's tls.crl_dir at it). EC P-256, SHA-256.",
                "hiectl ca init --dir exchange-ca");
  flags.String("dir", &dir, "D", "directory for the CA (created; must not hold a CA already)");
  flags.String("name", &name, "CN", "the CA's common name (default \"hie exchange CA\")");
  flags.Int("validity-days", &validity_days, "N", "CA certificate lifetime (default 3650)");
  flags.Int("crl-days", &crl_days, "N",
            "CRL lifetime; re-sign with `hiectl ca refresh-crl` before it ends (default 7)");
  flags.Bool("json", &json, "print one JSON document on stdout");
  if (int code = ParseOrExit(flags, args, "ca init"); code >= 0) return code;
  if (dir.empty()) return UsageError("ca init", absl::InvalidArgumentError("--dir D is required"));
  if (validity_days <= 0 || crl_days <= 0) {
    return UsageError("ca init", absl::InvalidArgumentError("lifetimes must be positive"));
  }
  pki::CaInitOptions options;
  options.common_name = name;
  options.validity = absl::Hours(24) * validity_days;
  options.crl_validity = absl::Hours(24) * crl_days;
  auto ca = pki::CertificateAuthority::Init(dir, options);
  if (!ca.ok()) return Fail(ca.status());
  if (json) {
    std::cout << JsonObject()
                     .Add("ca_cert", (*ca)->ca_cert_path())
                     .Add("crl_dir", (*ca)->crl_dir())
                     .Build()
              << "\n";
  } else {
    std::cout << "created CA " << (*ca)->ca_cert_path() << " (CRL in " << (*ca)->crl_dir() << ")\n";
  }
  return kExitOk;
}

int RunIssue(const std::vector<std::string>& args) {
  std::string dir, org, name, out, role = "node";
  std::vector<std::string> dns, ips;
  int validity_days = 397;
  bool client_only = false, server_only = false, json = false;
  FlagSet flags(
      "hiectl ca issue --dir D --org ORG --name NAME --out PREFIX [--role ROLE] [--dns H]... "
      "[--ip A]... [--validity-days N] [--json]",
      "Issues a certificate whose URI SAN hie://org/ORG is the holder's identity, and writes\n"
      "PREFIX.crt and PREFIX.key (mode 0600). ROLE is what the holder may do: node (a\n"
      "practice's hie-node, the default), operator (the exchange's people and tools), mpi,\n"
      "consent. Server names default to DNS localhost and IP 127.0.0.1.",
      "hiectl ca issue --dir exchange-ca --org org-a --name node-a --out certs/org-a");
  flags.String("dir", &dir, "D", "the CA directory (from `hiectl ca init`)");
  flags.String("org", &org, "ORG", "organisation id: 1-63 of a-z, 0-9, '-'");
  flags.String("name", &name, "NAME", "the certificate's common name (a host or person)");
  flags.String("out", &out, "PREFIX", "write PREFIX.crt and PREFIX.key");
  flags.String("role", &role, "ROLE", "node | operator | mpi | consent (default node)");
  flags.Strings("dns", &dns, "H", "a DNS name the holder serves on (repeatable)");
  flags.Strings("ip", &ips, "A", "an IP address the holder serves on (repeatable)");
  flags.Int("validity-days", &validity_days, "N", "lifetime in days (default 397)");
  flags.Bool("client-only", &client_only, "for client authentication only (e.g. operators)");
  flags.Bool("server-only", &server_only, "for server authentication only");
  flags.Bool("json", &json, "print one JSON document on stdout");
  if (int code = ParseOrExit(flags, args, "ca issue"); code >= 0) return code;
  for (const auto& [flag, value] : {std::pair<const char*, std::string*>{"--dir D", &dir},
                                    {"--org ORG", &org},
                                    {"--name NAME", &name},
                                    {"--out PREFIX", &out}}) {
    if (value->empty()) {
      return UsageError("ca issue", absl::InvalidArgumentError(absl::StrCat(flag, " is required")));
    }
  }
  if (!pki::IsValidOrgId(org)) {
    return UsageError("ca issue", absl::InvalidArgumentError(absl::StrCat(
                                      "--org \"", org,
                                      "\" is not a valid org id (1-63 of a-z, 0-9, '-', not "
                                      "starting with '-')")));
  }
  auto parsed_role = pki::ParseRole(role);
  if (!parsed_role.ok()) {
    return UsageError("ca issue",
                      absl::InvalidArgumentError(absl::StrCat(
                          "--role \"", role, "\" is not one of node, operator, mpi, consent")));
  }
  if (validity_days <= 0) {
    return UsageError("ca issue", absl::InvalidArgumentError("--validity-days must be positive"));
  }
  if (client_only && server_only) {
    return UsageError("ca issue", absl::InvalidArgumentError(
                                      "--client-only and --server-only exclude each other"));
  }
  auto ca = pki::CertificateAuthority::Open(dir);
  if (!ca.ok()) return Fail(ca.status());
  pki::IssueOptions options;
  options.org_id = org;
  options.name = name;
  options.role = *parsed_role;
  options.dns_names = dns;
  options.ip_addresses = ips;
  options.validity = absl::Hours(24) * validity_days;
  options.client_auth = !server_only;
  options.server_auth = !client_only;
  auto issued = (*ca)->Issue(options);
  if (!issued.ok()) return Fail(issued.status());
  if (absl::Status s = pki::WriteCertificateFiles(*issued, out); !s.ok()) return Fail(s);
  if (json) {
    std::cout << JsonObject()
                     .Add("org", org)
                     .Add("role", role)
                     .Add("serial", issued->serial_hex)
                     .Add("cert", out + ".crt")
                     .Add("key", out + ".key")
                     .Build()
              << "\n";
  } else {
    std::cout << "issued " << out << ".crt (org \"" << org << "\", role " << role << ", serial "
              << issued->serial_hex << ") and " << out << ".key\n";
  }
  return kExitOk;
}

int RunRevoke(const std::vector<std::string>& args) {
  std::string dir, cert;
  bool json = false;
  FlagSet flags("hiectl ca revoke --dir D --cert FILE [--json]",
                "Revokes a certificate issued by the CA in D and re-signs the CRL in D/crl/.\n"
                "Running daemons re-read the CRL within seconds (tls.reload_interval_seconds)\n"
                "and refuse the certificate from then on, on new and open connections alike.",
                "hiectl ca revoke --dir exchange-ca --cert certs/org-b.crt");
  flags.String("dir", &dir, "D", "the CA directory");
  flags.String("cert", &cert, "FILE", "the certificate to revoke (PEM)");
  flags.Bool("json", &json, "print one JSON document on stdout");
  if (int code = ParseOrExit(flags, args, "ca revoke"); code >= 0) return code;
  if (dir.empty() || cert.empty()) {
    return UsageError("ca revoke",
                      absl::InvalidArgumentError("--dir D and --cert FILE are required"));
  }
  std::ifstream in(cert, std::ios::binary);
  if (!in) return Fail(absl::NotFoundError(absl::StrCat("cannot read ", cert)));
  std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto identity = pki::ReadCertIdentity(pem);
  auto ca = pki::CertificateAuthority::Open(dir);
  if (!ca.ok()) return Fail(ca.status());
  if (absl::Status s = (*ca)->Revoke(pem); !s.ok()) {
    return Fail(absl::Status(s.code(), absl::StrCat(cert, ": ", s.message())));
  }
  std::string serial = identity.ok() ? identity->serial_hex : "?";
  std::string org = identity.ok() ? identity->org_id : "?";
  if (json) {
    std::cout << JsonObject()
                     .Add("revoked", serial)
                     .Add("org", org)
                     .Add("crl_dir", (*ca)->crl_dir())
                     .Build()
              << "\n";
  } else {
    std::cout << "revoked " << cert << " (org \"" << org << "\", serial " << serial << "); CRL in "
              << (*ca)->crl_dir() << " re-signed\n";
  }
  return kExitOk;
}

int RunRefreshCrl(const std::vector<std::string>& args) {
  std::string dir;
  FlagSet flags("hiectl ca refresh-crl --dir D",
                "Re-signs the CA's CRL with a new validity period, same contents. Daemons refuse\n"
                "every peer once the CRL in force has expired, so run this (e.g. daily from cron)\n"
                "well within --crl-days.",
                "hiectl ca refresh-crl --dir exchange-ca");
  flags.String("dir", &dir, "D", "the CA directory");
  if (int code = ParseOrExit(flags, args, "ca refresh-crl"); code >= 0) return code;
  if (dir.empty())
    return UsageError("ca refresh-crl", absl::InvalidArgumentError("--dir D is required"));
  auto ca = pki::CertificateAuthority::Open(dir);
  if (!ca.ok()) return Fail(ca.status());
  if (absl::Status s = (*ca)->RefreshCrl(); !s.ok()) return Fail(s);
  std::cout << "CRL in " << (*ca)->crl_dir() << " re-signed\n";
  return kExitOk;
}

}  // namespace

std::vector<Command> CaCommands() {
  return {
      {{"ca", "init"}, "create the exchange CA (certificate, key, empty CRL)", RunInit},
      {{"ca", "issue"}, "issue a certificate for an org and role", RunIssue},
      {{"ca", "revoke"}, "revoke a certificate and re-sign the CRL", RunRevoke},
      {{"ca", "refresh-crl"}, "re-sign the CRL with a new validity period", RunRefreshCrl},
  };
}

}  // namespace hie::cli
