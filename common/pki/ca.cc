#include "common/pki/ca.h"

#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/pki/openssl_internal.h"
#include "common/status/status_macros.h"

namespace hie::pki {
namespace {

namespace fs = std::filesystem;
using internal::EvpPkeyPtr;
using internal::OpenSslError;
using internal::X509Ptr;

constexpr char kSettingsFile[] = "settings";

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

// Writes `content` to `path` through a temporary file and rename(2), so that a reader
// (a daemon reloading its CRL, say) sees either the old file or the new one.
absl::Status WriteFileAtomic(const std::string& path, std::string_view content, mode_t mode) {
  std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return absl::PermissionDeniedError(absl::StrCat(tmp, ": ", strerror(errno)));
  }
  fchmod(fd, mode);  // umask may have narrowed or the file may have existed
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      int err = errno;
      close(fd);
      unlink(tmp.c_str());
      return absl::InternalError(absl::StrCat(tmp, ": ", strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat(tmp, ": ", strerror(errno)));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("rename to ", path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<EvpPkeyPtr> GenerateP256Key() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) return absl::InternalError("EC P-256 key generation: " + OpenSslError());
  return EvpPkeyPtr(key);
}

// A random positive 127-bit serial.
internal::Asn1IntegerPtr RandomSerial() {
  unsigned char bytes[16];
  RAND_bytes(bytes, sizeof(bytes));
  bytes[0] &= 0x7f;
  bytes[0] |= 0x40;  // never leading zeros: serials keep their length
  internal::BignumPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  return internal::Asn1IntegerPtr(BN_to_ASN1_INTEGER(bn.get(), nullptr));
}

void SetTime(ASN1_TIME* field, absl::Time t) { ASN1_TIME_set(field, absl::ToTimeT(t)); }

// Adds extension `nid` with config-style `value` (e.g. "critical,CA:TRUE").
absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate extension '", value, "': ", OpenSslError()));
  }
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return absl::OkStatus();
}

void AddNameEntry(X509_NAME* name, const char* field, const std::string& value) {
  X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(value.data()),
                             static_cast<int>(value.size()), -1, 0);
}

class CertificateAuthorityImpl final : public CertificateAuthority {
 public:
  CertificateAuthorityImpl(std::string dir, X509Ptr cert, EvpPkeyPtr key, std::string cert_pem,
                           absl::Duration crl_validity, Clock* clock)
      : dir_(std::move(dir)),
        cert_(std::move(cert)),
        key_(std::move(key)),
        cert_pem_(std::move(cert_pem)),
        crl_validity_(crl_validity),
        clock_(clock) {}

  absl::StatusOr<IssuedCertificate> Issue(const IssueOptions& options) override {
    if (!IsValidOrgId(options.org_id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid org id '", options.org_id,
                       "': 1-63 characters of a-z, 0-9 and '-', not starting with '-'"));
    }
    if (options.name.empty()) return absl::InvalidArgumentError("certificate name is empty");
    if (!options.client_auth && !options.server_auth) {
      return absl::InvalidArgumentError("a certificate needs client or server use (or both)");
    }
    HIE_ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateP256Key());
    X509Ptr cert(X509_new());
    X509_set_version(cert.get(), X509_VERSION_3);
    internal::Asn1IntegerPtr serial = RandomSerial();
    X509_set_serialNumber(cert.get(), serial.get());
    absl::Time not_before = options.not_before.value_or(clock_->Now() - absl::Minutes(5));
    SetTime(X509_getm_notBefore(cert.get()), not_before);
    SetTime(X509_getm_notAfter(cert.get()), not_before + options.validity);
    X509_NAME* subject = X509_get_subject_name(cert.get());
    AddNameEntry(subject, "O", options.org_id);
    AddNameEntry(subject, "OU", std::string(RoleName(options.role)));
    AddNameEntry(subject, "CN", options.name);
    X509_set_issuer_name(cert.get(), X509_get_subject_name(cert_.get()));
    X509_set_pubkey(cert.get(), key.get());

    std::vector<std::string> sans;
    if (!options.omit_org_uri_for_test) sans.push_back("URI:hie://org/" + options.org_id);
    for (const auto& uri : options.extra_uri_sans_for_test) sans.push_back("URI:" + uri);
    std::vector<std::string> dns = options.dns_names;
    std::vector<std::string> ips = options.ip_addresses;
    if (options.server_auth && dns.empty() && ips.empty()) {
      dns = {"localhost"};
      ips = {"127.0.0.1"};
    }
    for (const auto& d : dns) {
      if (d.empty() || d.find_first_of(", ") != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat("invalid DNS name '", d, "'"));
      }
      sans.push_back("DNS:" + d);
    }
    for (const auto& ip : ips) {
      if (ip.empty() || ip.find_first_of(", ") != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat("invalid IP address '", ip, "'"));
      }
      sans.push_back("IP:" + ip);
    }
    std::vector<std::string> eku;
    if (options.server_auth) eku.push_back("serverAuth");
    if (options.client_auth) eku.push_back("clientAuth");

    HIE_RETURN_IF_ERROR(
        AddExtension(cert.get(), cert_.get(), NID_basic_constraints, "critical,CA:FALSE"));
    HIE_RETURN_IF_ERROR(
        AddExtension(cert.get(), cert_.get(), NID_key_usage, "critical,digitalSignature"));
    HIE_RETURN_IF_ERROR(
        AddExtension(cert.get(), cert_.get(), NID_ext_key_usage, absl::StrJoin(eku, ",")));
    if (!sans.empty()) {
      HIE_RETURN_IF_ERROR(
          AddExtension(cert.get(), cert_.get(), NID_subject_alt_name, absl::StrJoin(sans, ",")));
    }
    HIE_RETURN_IF_ERROR(AddExtension(cert.get(), cert_.get(), NID_subject_key_identifier, "hash"));
    HIE_RETURN_IF_ERROR(
        AddExtension(cert.get(), cert_.get(), NID_authority_key_identifier, "keyid:always"));
    if (X509_sign(cert.get(), key_.get(), EVP_sha256()) == 0) {
      return absl::InternalError("signing the certificate: " + OpenSslError());
    }
    IssuedCertificate issued;
    issued.cert_pem = internal::CertificateToPem(cert.get());
    issued.key_pem = internal::PrivateKeyToPem(key.get());
    issued.serial_hex = internal::SerialHex(serial.get());
    HIE_RETURN_IF_ERROR(WriteFileAtomic(absl::StrCat(dir_, "/issued/", issued.serial_hex, ".crt"),
                                        issued.cert_pem, 0644));
    return issued;
  }

  absl::Status Revoke(std::string_view cert_pem) override {
    HIE_ASSIGN_OR_RETURN(X509Ptr cert, internal::ParseCertificate(cert_pem));
    if (X509_check_issued(cert_.get(), cert.get()) != X509_V_OK ||
        X509_verify(cert.get(), key_pub()) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError("certificate was not issued by this CA");
    }
    std::string serial = internal::SerialHex(X509_get0_serialNumber(cert.get()));
    HIE_ASSIGN_OR_RETURN(std::set<std::string> revoked, ReadRevoked());
    revoked.insert(serial);
    std::string list;
    for (const auto& s : revoked) absl::StrAppend(&list, s, "\n");
    HIE_RETURN_IF_ERROR(WriteFileAtomic(dir_ + "/revoked.txt", list, 0644));
    return WriteCrl(revoked);
  }

  absl::Status RefreshCrl() override {
    HIE_ASSIGN_OR_RETURN(std::set<std::string> revoked, ReadRevoked());
    return WriteCrl(revoked);
  }

  const std::string& ca_cert_pem() const override { return cert_pem_; }
  std::string ca_cert_path() const override { return dir_ + "/ca.crt"; }
  std::string crl_dir() const override { return dir_ + "/crl"; }

  // Every CRL gets a CRL number one above the last (kept in DIR/crlnumber, and never
  // below the number of the CRL in DIR/crl), so daemons can tell a newer CRL from an
  // older one copied back and refuse the older.
  absl::StatusOr<uint64_t> NextCrlNumber() const {
    uint64_t last = 0;
    if (auto text = ReadWholeFile(dir_ + "/crlnumber"); text.ok()) {
      if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &last)) {
        return absl::DataLossError(absl::StrCat(dir_, "/crlnumber: not a number"));
      }
    }
    if (auto current = ReadWholeFile(crl_dir() + "/ca.crl"); current.ok()) {
      internal::BioPtr bio = internal::MemoryBio(*current);
      internal::X509CrlPtr old(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
      if (old != nullptr) {
        internal::Asn1IntegerPtr n(static_cast<ASN1_INTEGER*>(
            X509_CRL_get_ext_d2i(old.get(), NID_crl_number, nullptr, nullptr)));
        uint64_t value = 0;
        if (n != nullptr && ASN1_INTEGER_get_uint64(&value, n.get()) == 1) {
          last = std::max(last, value);
        }
      }
      ERR_clear_error();
    }
    if (last == std::numeric_limits<uint64_t>::max()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "CRL number ", last,
          " is the highest this CA can write: no newer CRL can be "
          "numbered above it; set up a new CA (daemons count CRL numbers per CA key)"));
    }
    return last + 1;
  }

  absl::Status WriteCrl(const std::set<std::string>& revoked) {
    HIE_ASSIGN_OR_RETURN(uint64_t number, NextCrlNumber());
    HIE_RETURN_IF_ERROR(WriteFileAtomic(dir_ + "/crlnumber", absl::StrCat(number, "\n"), 0644));
    internal::X509CrlPtr crl(X509_CRL_new());
    X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2);
    {
      internal::Asn1IntegerPtr crl_number(ASN1_INTEGER_new());
      if (crl_number == nullptr || ASN1_INTEGER_set_uint64(crl_number.get(), number) != 1 ||
          X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, crl_number.get(), 0, 0) != 1) {
        return absl::InternalError("setting the CRL number: " + OpenSslError());
      }
    }
    X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(cert_.get()));
    absl::Time now = clock_->Now();
    internal::Asn1TimePtr this_update(ASN1_TIME_new());
    internal::Asn1TimePtr next_update(ASN1_TIME_new());
    // Backdated a little, so that a daemon whose clock lags still accepts it.
    SetTime(this_update.get(), now - absl::Minutes(5));
    SetTime(next_update.get(), now + crl_validity_);
    X509_CRL_set1_lastUpdate(crl.get(), this_update.get());
    X509_CRL_set1_nextUpdate(crl.get(), next_update.get());
    for (const auto& serial_hex : revoked) {
      BIGNUM* bn = nullptr;
      if (BN_hex2bn(&bn, serial_hex.c_str()) == 0) {
        return absl::DataLossError(
            absl::StrCat(dir_, "/revoked.txt: '", serial_hex, "' is not a hex serial"));
      }
      internal::BignumPtr bn_owner(bn);
      internal::Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn, nullptr));
      X509_REVOKED* entry = X509_REVOKED_new();
      X509_REVOKED_set_serialNumber(entry, serial.get());
      X509_REVOKED_set_revocationDate(entry, this_update.get());
      X509_CRL_add0_revoked(crl.get(), entry);
    }
    X509_CRL_sort(crl.get());
    if (X509_CRL_sign(crl.get(), key_.get(), EVP_sha256()) == 0) {
      return absl::InternalError("signing the CRL: " + OpenSslError());
    }
    internal::BioPtr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509_CRL(bio.get(), crl.get());
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return WriteFileAtomic(crl_dir() + "/ca.crl", std::string_view(data, static_cast<size_t>(len)),
                           0644);
  }

 private:
  EVP_PKEY* key_pub() const { return X509_get0_pubkey(cert_.get()); }

  absl::StatusOr<std::set<std::string>> ReadRevoked() const {
    std::set<std::string> revoked;
    auto content = ReadWholeFile(dir_ + "/revoked.txt");
    if (!content.ok()) return revoked;
    for (absl::string_view line : absl::StrSplit(*content, '\n', absl::SkipWhitespace())) {
      revoked.insert(std::string(absl::StripAsciiWhitespace(line)));
    }
    return revoked;
  }

  const std::string dir_;
  const X509Ptr cert_;
  const EvpPkeyPtr key_;
  const std::string cert_pem_;
  const absl::Duration crl_validity_;
  Clock* const clock_;
};

absl::Status MakeDir(const std::string& path, fs::perms perms) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat(path, ": ", ec.message()));
  fs::permissions(path, perms, ec);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<CertificateAuthority>> CertificateAuthority::Init(
    const std::string& dir, const CaInitOptions& options, Clock* clock) {
  std::error_code ec;
  if (fs::exists(dir + "/ca.crt", ec) || fs::exists(dir + "/ca.key", ec)) {
    return absl::AlreadyExistsError(absl::StrCat(dir, " already holds a CA (ca.crt)"));
  }
  if (options.common_name.empty()) return absl::InvalidArgumentError("CA name is empty");
  HIE_RETURN_IF_ERROR(MakeDir(dir, fs::perms::owner_all | fs::perms::group_read |
                                       fs::perms::group_exec | fs::perms::others_read |
                                       fs::perms::others_exec));
  HIE_RETURN_IF_ERROR(MakeDir(dir + "/crl", fs::perms::owner_all | fs::perms::group_read |
                                                fs::perms::group_exec | fs::perms::others_read |
                                                fs::perms::others_exec));
  HIE_RETURN_IF_ERROR(MakeDir(dir + "/issued", fs::perms::owner_all));

  HIE_ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateP256Key());
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  internal::Asn1IntegerPtr serial = RandomSerial();
  X509_set_serialNumber(cert.get(), serial.get());
  absl::Time now = clock->Now();
  SetTime(X509_getm_notBefore(cert.get()), now - absl::Minutes(5));
  SetTime(X509_getm_notAfter(cert.get()), now + options.validity);
  X509_NAME* subject = X509_get_subject_name(cert.get());
  AddNameEntry(subject, "CN", options.common_name);
  X509_set_issuer_name(cert.get(), subject);
  X509_set_pubkey(cert.get(), key.get());
  HIE_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  HIE_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  HIE_RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return absl::InternalError("signing the CA certificate: " + OpenSslError());
  }
  std::string cert_pem = internal::CertificateToPem(cert.get());
  // The key first: a ca.crt without its key would look like a CA that cannot sign.
  HIE_RETURN_IF_ERROR(WriteFileAtomic(dir + "/ca.key", internal::PrivateKeyToPem(key.get()), 0600));
  HIE_RETURN_IF_ERROR(WriteFileAtomic(
      dir + "/" + kSettingsFile,
      absl::StrCat("crl_validity_seconds ", absl::ToInt64Seconds(options.crl_validity), "\n"),
      0644));
  HIE_RETURN_IF_ERROR(WriteFileAtomic(dir + "/revoked.txt", "", 0644));
  auto ca = std::make_unique<CertificateAuthorityImpl>(dir, std::move(cert), std::move(key),
                                                       cert_pem, options.crl_validity, clock);
  HIE_RETURN_IF_ERROR(ca->WriteCrl({}));
  HIE_RETURN_IF_ERROR(WriteFileAtomic(dir + "/ca.crt", cert_pem, 0644));
  return ca;
}

absl::StatusOr<std::unique_ptr<CertificateAuthority>> CertificateAuthority::Open(
    const std::string& dir, Clock* clock) {
  auto cert_pem = ReadWholeFile(dir + "/ca.crt");
  if (!cert_pem.ok()) {
    return absl::NotFoundError(absl::StrCat(dir,
                                            " holds no CA (no ca.crt); create one with "
                                            "'hiectl ca init --dir ",
                                            dir, "'"));
  }
  auto key_pem = ReadWholeFile(dir + "/ca.key");
  if (!key_pem.ok()) return absl::NotFoundError(absl::StrCat(dir, "/ca.key: cannot read"));
  auto cert = internal::ParseCertificate(*cert_pem);
  if (!cert.ok()) return Annotate(cert.status(), dir + "/ca.crt");
  auto key = internal::ParsePrivateKey(*key_pem);
  if (!key.ok()) return Annotate(key.status(), dir + "/ca.key");
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(dir, "/ca.key does not match ", dir, "/ca.crt"));
  }
  absl::Duration crl_validity = absl::Hours(24 * 7);
  if (auto settings = ReadWholeFile(dir + "/" + kSettingsFile); settings.ok()) {
    absl::string_view rest(*settings);
    int64_t seconds = 0;
    if (absl::ConsumePrefix(&rest, "crl_validity_seconds ") &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &seconds) && seconds > 0) {
      crl_validity = absl::Seconds(seconds);
    }
  }
  return std::make_unique<CertificateAuthorityImpl>(dir, std::move(*cert), std::move(*key),
                                                    *cert_pem, crl_validity, clock);
}

absl::Status WriteCertificateFiles(const IssuedCertificate& cert, const std::string& prefix) {
  std::error_code ec;
  fs::path parent = fs::path(prefix).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  HIE_RETURN_IF_ERROR(WriteFileAtomic(prefix + ".key", cert.key_pem, 0600));
  return WriteFileAtomic(prefix + ".crt", cert.cert_pem, 0644);
}

}  // namespace hie::pki
