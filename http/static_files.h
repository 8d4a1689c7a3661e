// Files a daemon serves as they are (a web app's CSS, scripts, images), embedded in the
// binary at build time (cmake: hie_embed_files), never read or fetched at run time.
//
//   HIE_RETURN_IF_ERROR(AddStaticRoutes(router, "/app/assets", NodeWebAssets()));
//
// serves GET /app/assets/<path> for each file, anonymous (assets hold no data), with
// its media type by extension, a strong ETag (the SHA-256 of its bytes) answered 304
// on If-None-Match, and Cache-Control "no-cache" (revalidated each use: a new build's
// files are seen at once, an unchanged one costs a 304).
#ifndef HIE_HTTP_STATIC_FILES_H_
#define HIE_HTTP_STATIC_FILES_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "http/router.h"

namespace hie::http {

struct EmbeddedFile {
  const char* path;  // relative, '/'-separated: "app.css", "js/chart.js"
  const unsigned char* data;
  size_t size;
};

// The media type served for `path`, by its extension (text types with charset=utf-8);
// "application/octet-stream" for an unknown one.
std::string MediaTypeFor(absl::string_view path);

// Adds one GET route per file under `prefix` (no trailing '/'). Errors: Router::Add's;
// InvalidArgument for a path that is empty, absolute or has an empty or ".." segment.
absl::Status AddStaticRoutes(Router& router, const std::string& prefix,
                             const std::vector<EmbeddedFile>& files);

}  // namespace hie::http

#endif  // HIE_HTTP_STATIC_FILES_H_
