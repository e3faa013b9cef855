#include "services/common/nhs_number.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace frontdoor {
namespace {

constexpr size_t kNhsNumberLength = 10;

// True iff `s` is exactly kNhsNumberLength ASCII digits.
bool HasNhsNumberShape(absl::string_view s) {
  if (s.size() != kNhsNumberLength) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

bool IsValidNhsNumber(absl::string_view nhs_number) {
  if (!HasNhsNumberShape(nhs_number)) return false;

  bool all_same = true;
  for (char c : nhs_number) {
    if (c != nhs_number[0]) {
      all_same = false;
      break;
    }
  }
  if (all_same) return false;

  int sum = 0;
  for (size_t i = 0; i < kNhsNumberLength - 1; ++i) {
    sum += (nhs_number[i] - '0') * static_cast<int>(kNhsNumberLength - i);
  }
  int check = 11 - (sum % 11);
  if (check == 11) check = 0;
  if (check == 10) return false;  // No 10th digit can satisfy the check.
  return check == nhs_number[kNhsNumberLength - 1] - '0';
}

std::string FormatNhsNumber(absl::string_view nhs_number) {
  if (!HasNhsNumberShape(nhs_number)) return std::string(nhs_number);
  return absl::StrCat(nhs_number.substr(0, 3), " ", nhs_number.substr(3, 3),
                      " ", nhs_number.substr(6, 4));
}

}  // namespace frontdoor
