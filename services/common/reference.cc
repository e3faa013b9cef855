#include "services/common/reference.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"

namespace frontdoor {
namespace {

constexpr char kSymbols[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";
constexpr int kDataChars = 10;
constexpr uint64_t kMask = (uint64_t{1} << (5 * kDataChars)) - 1;

// Value of a data character, or -1.
int DecodeChar(char c) {
  c = absl::ascii_toupper(static_cast<unsigned char>(c));
  if (c == 'I' || c == 'L') return 1;
  if (c == 'O') return 0;
  for (int i = 0; i < 32; ++i) {
    if (kSymbols[i] == c) return i;
  }
  return -1;
}

int DecodeCheck(char c) {
  c = absl::ascii_toupper(static_cast<unsigned char>(c));
  if (c == 'I' || c == 'L') return 1;
  if (c == 'O') return 0;
  for (int i = 0; i < 37; ++i) {
    if (kSymbols[i] == c) return i;
  }
  return -1;
}

}  // namespace

std::string FormatReference(uint64_t value) {
  value &= kMask;
  std::string chars(kDataChars, '0');
  uint64_t v = value;
  for (int i = kDataChars - 1; i >= 0; --i) {
    chars[i] = kSymbols[v & 31];
    v >>= 5;
  }
  char check = kSymbols[value % 37];
  return absl::StrCat(chars.substr(0, 4), "-", chars.substr(4, 4), "-", chars.substr(8, 2),
                      std::string(1, check));
}

std::string TimeOrderedReference(absl::Time received, uint64_t random) {
  constexpr int kRandomBits = 25;
  constexpr uint64_t kMinuteMask =
      (uint64_t{1} << (5 * kDataChars - kRandomBits)) - 1;
  static const absl::Time kEpoch =
      absl::FromCivil(absl::CivilMinute(2024, 1, 1, 0, 0), absl::UTCTimeZone());
  const int64_t minutes =
      absl::ToInt64Minutes(absl::Floor(received - kEpoch, absl::Minutes(1)));
  // Before the epoch (a clock far wrong) counts as minute 0.
  const uint64_t minute =
      minutes < 0 ? 0 : static_cast<uint64_t>(minutes) & kMinuteMask;
  return FormatReference(minute << kRandomBits |
                         (random & ((uint64_t{1} << kRandomBits) - 1)));
}

absl::StatusOr<std::string> CanonicalReference(absl::string_view text) {
  std::string compact;
  for (char c : text) {
    if (c == '-' || c == ' ') continue;
    compact.push_back(c);
  }
  if (compact.size() != kDataChars + 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a referral reference (11 characters, e.g. K3M7-9Q2D-X8A)"));
  }
  uint64_t value = 0;
  for (int i = 0; i < kDataChars; ++i) {
    int d = DecodeChar(compact[i]);
    if (d < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", text, "' is not a referral reference: '", std::string(1, compact[i]),
                       "' is not a reference character"));
    }
    value = value << 5 | static_cast<uint64_t>(d);
  }
  int check = DecodeCheck(compact[kDataChars]);
  if (check < 0 || static_cast<uint64_t>(check) != value % 37) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' has a wrong check character: please read it again"));
  }
  return FormatReference(value);
}

}  // namespace frontdoor
