// NHS number checks and display.
//
// An NHS number is 10 digits; the 10th is a Modulus 11 check digit over the
// first nine (weights 10 down to 2). A passing check only catches typing
// errors: whether a number belongs to a person is for a PDS trace to say.
// Frontdoor flags a failing number and never blocks routing on it.

#ifndef FRONTDOOR_SERVICES_COMMON_NHS_NUMBER_H_
#define FRONTDOOR_SERVICES_COMMON_NHS_NUMBER_H_

#include <string>

#include "absl/strings/string_view.h"

namespace frontdoor {

// Returns true iff `nhs_number` is exactly 10 ASCII digits (no spaces or
// other separators), its Modulus 11 check digit is right, and its digits are
// not all the same (0000000000 .. 9999999999 pass the arithmetic but are
// never real numbers, so they are rejected by policy).
//
// The check digit is 11 - (sum of digit[i] * (10 - i) for i = 0..8) mod 11,
// with 11 read as 0; a result of 10 means no check digit can make the number
// valid.
bool IsValidNhsNumber(absl::string_view nhs_number);

// Returns `nhs_number` in the 3-3-4 display form, e.g. "9434765919" ->
// "943 476 5919". Only the shape is looked at (the check digit is not): any
// string of exactly 10 ASCII digits is formatted, anything else is returned
// unchanged so that nothing a referrer typed is lost on display.
std::string FormatNhsNumber(absl::string_view nhs_number);

}  // namespace frontdoor

#endif  // FRONTDOOR_SERVICES_COMMON_NHS_NUMBER_H_
