#include "services/common/nhs_number.h"

#include <string>

#include "gtest/gtest.h"

namespace frontdoor {
namespace {

// Worked examples from the project's clinical reference (NHS number §3).
TEST(IsValidNhsNumber, AcceptsWorkedValidExamples) {
  EXPECT_TRUE(IsValidNhsNumber("9434765919"));  // sum 299, r 2, check 9
  EXPECT_TRUE(IsValidNhsNumber("4010232137"));  // sum 92, r 4, check 7
  EXPECT_TRUE(IsValidNhsNumber("9990000018"));  // test range, check 8
}

TEST(IsValidNhsNumber, RejectsWrongCheckDigit) {
  EXPECT_FALSE(IsValidNhsNumber("9434765918"));  // check should be 9
}

TEST(IsValidNhsNumber, RejectsNumbersWhoseCheckWouldBeTen) {
  EXPECT_FALSE(IsValidNhsNumber("1234567890"));  // sum 210, r 1, check 10
  EXPECT_FALSE(IsValidNhsNumber("9991234560"));  // sum 320, r 1, check 10
}

TEST(IsValidNhsNumber, AcceptsCheckDigitElevenReadAsZero) {
  // 999000005: sum 9*10+9*9+9*8+5*2 = 253, 253 mod 11 = 0, 11 - 0 = 11 -> 0.
  EXPECT_TRUE(IsValidNhsNumber("9990000050"));
  EXPECT_FALSE(IsValidNhsNumber("9990000051"));
}

TEST(IsValidNhsNumber, RejectsAllSameDigitsByPolicy) {
  // Each of these passes the Modulus 11 arithmetic.
  for (char d = '0'; d <= '9'; ++d) {
    const std::string number(10, d);
    EXPECT_FALSE(IsValidNhsNumber(number)) << number;
  }
}

TEST(IsValidNhsNumber, RejectsWrongShape) {
  EXPECT_FALSE(IsValidNhsNumber(""));
  EXPECT_FALSE(IsValidNhsNumber("943476591"));    // 9 digits
  EXPECT_FALSE(IsValidNhsNumber("94347659190"));  // 11 digits
  EXPECT_FALSE(IsValidNhsNumber("943 476 5919"));
  EXPECT_FALSE(IsValidNhsNumber("943-476-5919"));
  EXPECT_FALSE(IsValidNhsNumber(" 9434765919"));
  EXPECT_FALSE(IsValidNhsNumber("9434765919 "));
  EXPECT_FALSE(IsValidNhsNumber("94347659l9"));
  EXPECT_FALSE(IsValidNhsNumber("+434765919"));
  EXPECT_FALSE(IsValidNhsNumber(std::string("943476\0919", 10)));
}

TEST(IsValidNhsNumber, ExactlyOneCheckDigitOrNoneForEveryPrefix) {
  // For each 9-digit prefix either exactly one 10th digit is valid or, when
  // the check would be 10, none is.
  for (int prefix = 999000000; prefix < 999000200; ++prefix) {
    int valid = 0;
    for (char d = '0'; d <= '9'; ++d) {
      if (IsValidNhsNumber(std::to_string(prefix) + d)) ++valid;
    }
    EXPECT_LE(valid, 1) << prefix;
  }
}

TEST(FormatNhsNumber, FormatsTenDigitsAsThreeThreeFour) {
  EXPECT_EQ(FormatNhsNumber("9434765919"), "943 476 5919");
  EXPECT_EQ(FormatNhsNumber("0101000000"), "010 100 0000");
  // Shape only: a failing check digit is still shown in display form.
  EXPECT_EQ(FormatNhsNumber("9434765918"), "943 476 5918");
}

TEST(FormatNhsNumber, ReturnsAnythingElseUnchanged) {
  EXPECT_EQ(FormatNhsNumber(""), "");
  EXPECT_EQ(FormatNhsNumber("943 476 5919"), "943 476 5919");
  EXPECT_EQ(FormatNhsNumber("943476591"), "943476591");
  EXPECT_EQ(FormatNhsNumber("unknown"), "unknown");
}

}  // namespace
}  // namespace frontdoor
