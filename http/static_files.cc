#include "http/static_files.h"

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "openssl/sha.h"

namespace hie::http {
namespace {

std::string Sha256Hex(const unsigned char* data, size_t size) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(data, size, digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

// One file's answer, made once.
struct Served {
  std::string body;
  std::string media_type;
  std::string etag;
};

}  // namespace

std::string MediaTypeFor(absl::string_view path) {
  const size_t dot = path.rfind('.');
  const std::string ext =
      dot == absl::string_view::npos ? "" : absl::AsciiStrToLower(path.substr(dot + 1));
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "ico") return "image/x-icon";
  if (ext == "json") return "application/json";
  if (ext == "woff2") return "font/woff2";
  return "application/octet-stream";
}

absl::Status AddStaticRoutes(Router& router, const std::string& prefix,
                             const std::vector<EmbeddedFile>& files) {
  for (const EmbeddedFile& file : files) {
    const absl::string_view path(file.path);
    bool bad = path.empty() || path.front() == '/';
    for (absl::string_view segment : absl::StrSplit(path, '/')) {
      bad = bad || segment.empty() || segment == "..";
    }
    if (bad) {
      return absl::InvalidArgumentError(absl::StrCat("embedded file path \"", path, "\""));
    }
    auto served = std::make_shared<const Served>(
        Served{.body = std::string(reinterpret_cast<const char*>(file.data), file.size),
               .media_type = MediaTypeFor(path),
               .etag = absl::StrCat("\"", Sha256Hex(file.data, file.size), "\"")});
    absl::Status s =
        router.Add({.method = "GET",
                    .pattern = absl::StrCat(prefix, "/", path),
                    .access = AccessRule::Anonymous(),
                    .audit_kind = "asset",
                    .handler = [served](Request request, Responder responder) {
                      Response r;
                      r.SetHeader("ETag", served->etag);
                      r.SetHeader("Cache-Control", "no-cache");
                      const std::string* match = request.Header("if-none-match");
                      if (match != nullptr && absl::StrContains(*match, served->etag)) {
                        r.status = 304;
                      } else {
                        r.status = 200;
                        r.SetHeader("Content-Type", served->media_type);
                        r.body = served->body;
                      }
                      responder.Respond(std::move(r));
                    }});
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace hie::http
