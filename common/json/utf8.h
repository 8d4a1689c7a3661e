// UTF-8 validity, for text that came from outside and must go into JSON or a proto3
// string field, both of which must hold valid UTF-8.
#ifndef HIE_COMMON_JSON_UTF8_H_
#define HIE_COMMON_JSON_UTF8_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace hie {

// The length (1-4) of the well-formed UTF-8 sequence starting at text[i], or 0 if the
// bytes there are not one: a stray continuation byte, a truncated sequence, an
// overlong form, a surrogate or a code point beyond U+10FFFF.
// REQUIRES: i < text.size().
size_t Utf8SequenceLength(absl::string_view text, size_t i);

}  // namespace hie

#endif  // HIE_COMMON_JSON_UTF8_H_
