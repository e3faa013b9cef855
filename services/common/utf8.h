#ifndef FRONTDOOR_SERVICES_COMMON_UTF8_H_
#define FRONTDOOR_SERVICES_COMMON_UTF8_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace frontdoor {

// The offset of the first byte of `s` that does not start (or continue) a
// valid UTF-8 sequence, or absl::string_view::npos if all of `s` is valid.
// Overlong forms and surrogates are not rejected: this guards against text
// in another encoding (Latin-1, Windows-1252), not against crafted input.
size_t FindInvalidUtf8(absl::string_view s);

}  // namespace frontdoor

#endif  // FRONTDOOR_SERVICES_COMMON_UTF8_H_
