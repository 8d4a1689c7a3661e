// A QR code as inline SVG markup (presentation attributes only: the page's CSP allows no
// style), for the otpauth:// URI a phone's authenticator scans at two-step set-up.
#ifndef HIE_NODE_WEB_QR_SVG_H_
#define HIE_NODE_WEB_QR_SVG_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace hie::node {

// `text` encoded (libqrencode, error correction M, the smallest version that holds it)
// as an <svg> with role="img" and `label` (escaped) as its accessible name, black modules
// on white with the four-module quiet zone scanners need. Errors: InvalidArgument if
// the text is too long for a QR code; Internal if the encoder fails otherwise.
absl::StatusOr<std::string> QrCodeSvg(absl::string_view text, absl::string_view label);

}  // namespace hie::node

#endif  // HIE_NODE_WEB_QR_SVG_H_
