#include "node/web/qr_svg.h"

#include <qrencode.h>

#include <cerrno>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "http/html.h"

namespace hie::node {

absl::StatusOr<std::string> QrCodeSvg(absl::string_view text, absl::string_view label) {
  const std::string input(text);
  errno = 0;  // the encoder tells "too long" by ERANGE only
  std::unique_ptr<QRcode, decltype(&QRcode_free)> code(
      QRcode_encodeString(input.c_str(), /*version=*/0, QR_ECLEVEL_M, QR_MODE_8,
                          /*casesensitive=*/1),
      &QRcode_free);
  if (code == nullptr) {
    if (errno == ERANGE) return absl::InvalidArgumentError("too long for a QR code");
    return absl::InternalError("the QR encoder failed");
  }
  constexpr int kQuiet = 4;
  const int width = code->width;
  const int size = width + 2 * kQuiet;
  // One path: a unit square per dark module (the low bit of each byte).
  std::string path;
  for (int y = 0; y < width; ++y) {
    for (int x = 0; x < width; ++x) {
      if ((code->data[y * width + x] & 1) != 0) {
        absl::StrAppend(&path, "M", x + kQuiet, " ", y + kQuiet, "h1v1h-1z");
      }
    }
  }
  return absl::StrCat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"qr\" role=\"img\" "
      "aria-label=\"",
      http::HtmlEscape(label), "\" viewBox=\"0 0 ", size, " ", size, "\" width=\"", size * 5,
      "\" height=\"", size * 5, "\" shape-rendering=\"crispEdges\"><rect width=\"", size,
      "\" height=\"", size, "\" fill=\"#ffffff\"/><path fill=\"#000000\" d=\"", path, "\"/></svg>");
}

}  // namespace hie::node
