#ifndef FRONTDOOR_SERVICES_COMMON_REFERENCE_H_
#define FRONTDOOR_SERVICES_COMMON_REFERENCE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace frontdoor {

// Referral references: short enough to read out on the phone, with a check
// character that catches a mistyped or transposed character.
//
// A reference is 50 random bits as 10 Crockford base32 characters plus one
// Crockford check symbol (value mod 37), shown in groups: "K3M7-9Q2D-X8A".
// Parsing accepts any case, spaces or hyphens, and Crockford's aliases
// (I and L read as 1, O as 0).

// Formats the 50 low bits of `value` as a reference.
std::string FormatReference(uint64_t value);

// The canonical form of `text` ("K3M7-9Q2D-X8A"), or INVALID_ARGUMENT if it is
// not a well-formed reference or its check character does not match.
absl::StatusOr<std::string> CanonicalReference(absl::string_view text);

}  // namespace frontdoor

#endif  // FRONTDOOR_SERVICES_COMMON_REFERENCE_H_
