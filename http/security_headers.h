// The headers every HTTPS response carries, set in one place (DESIGN.md, the HTTPS
// front, point 9): the server applies them to every response it writes, a handler's
// and its own errors alike.
//
//   Strict-Transport-Security: max-age=31536000
//   X-Content-Type-Options: nosniff
//   Referrer-Policy: no-referrer
//   Content-Security-Policy: default-src 'self'; frame-ancestors 'none'
//   Cache-Control: no-store            (unless the handler chose its own, e.g. for
//                                       immutable hashed assets)
#ifndef HIE_HTTP_SECURITY_HEADERS_H_
#define HIE_HTTP_SECURITY_HEADERS_H_

#include "http/request.h"

namespace hie::http {

inline constexpr char kContentSecurityPolicy[] = "default-src 'self'; frame-ancestors 'none'";

// Sets the headers above on `response`, replacing any the handler set, except that a
// handler's own Cache-Control is kept.
void ApplySecurityHeaders(Response* response);

}  // namespace hie::http

#endif  // HIE_HTTP_SECURITY_HEADERS_H_
