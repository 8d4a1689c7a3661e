// Text into HTML: every page the daemons render puts what it did not write itself (a
// name, a record's text, a message) through HtmlEscape, so that it is shown as text and
// never parsed as markup.
#ifndef HIE_HTTP_HTML_H_
#define HIE_HTTP_HTML_H_

#include <string>

#include "absl/strings/string_view.h"

namespace hie::http {

// `text` with & < > " ' replaced by character references: safe in element content and
// in a quoted attribute value (not in a script, a style or an unquoted attribute).
std::string HtmlEscape(absl::string_view text);

}  // namespace hie::http

#endif  // HIE_HTTP_HTML_H_
