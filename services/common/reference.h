#ifndef FRONTDOOR_SERVICES_COMMON_REFERENCE_H_
#define FRONTDOOR_SERVICES_COMMON_REFERENCE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace frontdoor {

// Referral references: short enough to read out on the phone, with a check
// character that catches a mistyped or transposed character.
//
// A reference is a 50-bit value as 10 Crockford base32 characters plus one
// Crockford check symbol (value mod 37), shown in groups: "K3M7-9Q2D-X8A".
// The characters are in ASCII order and the hyphens at fixed places, so
// references sort as their values do.
// Parsing accepts any case, spaces or hyphens, and Crockford's aliases
// (I and L read as 1, O as 0).

// Formats the 50 low bits of `value` as a reference.
std::string FormatReference(uint64_t value);

// The reference of a referral received at `received`: its minute since
// 2024-01-01 UTC in the top 25 bits (they wrap after 63 years) and the low
// 25 bits of `random` below. Later minutes sort later, so the store, which
// keys a referral, its events and its audit index by reference, writes new
// ones near the end of those key spaces instead of all over them: flushes
// and compactions then rewrite recent files, not the whole store. The
// random half, 33 million values a minute, keeps a reference from being
// worked out from its time; it is not a secret either way (every read is
// authorised and audited). Not unique by itself: the caller checks that
// it is not in use.
std::string TimeOrderedReference(absl::Time received, uint64_t random);

// The canonical form of `text` ("K3M7-9Q2D-X8A"), or INVALID_ARGUMENT if it is
// not a well-formed reference or its check character does not match.
absl::StatusOr<std::string> CanonicalReference(absl::string_view text);

}  // namespace frontdoor

#endif  // FRONTDOOR_SERVICES_COMMON_REFERENCE_H_
