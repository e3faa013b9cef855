#include "tests/load/load_util.h"

#include <set>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "services/common/nhs_number.h"
#include "tests/bench/corpus.h"

namespace frontdoor::load {
namespace {

TEST(LoadUtilTest, DaysToRecentPutsEveryCorpusReferralInTheLastDay) {
  const absl::Time now = absl::FromUnixSeconds(1795000000);  // 2026-11-18
  for (uint64_t i = 0; i < 2000; ++i) {
    v1::Referral r = bench::GenerateReferral(i);
    const int64_t received_before = r.received_at().seconds();
    const int64_t days = DaysToRecent(r, now);
    ShiftReferralDays(&r, days);
    const absl::Time received = absl::FromUnixSeconds(r.received_at().seconds());
    ASSERT_LE(received, now) << i;
    ASSERT_GT(received, now - absl::Hours(24)) << i;
    ASSERT_EQ(r.received_at().seconds() - received_before, days * 86400);
    if (r.observations().has_taken_at()) {
      ASSERT_LE(absl::FromUnixSeconds(r.observations().taken_at().seconds()),
                now + absl::Minutes(5));
    }
    if (r.patient().has_date_of_birth()) {
      const auto& d = r.patient().date_of_birth();
      ASSERT_LE(absl::CivilDay(d.year(), d.month(), d.day()),
                absl::ToCivilDay(now, absl::UTCTimeZone()) + 1);
    }
  }
}

TEST(LoadUtilTest, ShiftKeepsCalendarAge) {
  v1::Referral r;
  r.mutable_received_at()->set_seconds(absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(2025, 2, 28, 12, 0, 0), absl::UTCTimeZone())));
  auto* dob = r.mutable_patient()->mutable_date_of_birth();
  dob->set_year(1940);
  dob->set_month(3);
  dob->set_day(1);
  ShiftReferralDays(&r, 1);  // received 2025-03-01: the 85th birthday
  EXPECT_EQ(dob->year(), 1940);
  EXPECT_EQ(dob->month(), 3);
  EXPECT_EQ(dob->day(), 2);
}

TEST(LoadUtilTest, UniqueNhsNumbersAreValidAndDistinct) {
  UniqueNhsNumbers numbers(999000);  // wraps past 999999
  std::set<std::string> seen;
  for (int i = 0; i < 20000; ++i) {
    const std::string n = numbers.Next();
    ASSERT_TRUE(IsValidNhsNumber(n)) << n;
    ASSERT_EQ(n.substr(0, 3), "999");
    ASSERT_TRUE(seen.insert(n).second) << n;
  }
  EXPECT_EQ(NhsNumberForSlot(14), "");  // 999000014: check digit 10
  EXPECT_EQ(NhsNumberForSlot(1000014), "");
  EXPECT_EQ(NhsNumberForSlot(15).substr(0, 9), "999000015");
}

TEST(LoadUtilTest, GrpcFrameHasFlagAndBigEndianLength) {
  v1::Referral r;
  r.set_free_text(std::string(300, 'x'));
  const std::string frame = GrpcFrame(r);
  ASSERT_EQ(frame.size(), 5 + r.ByteSizeLong());
  EXPECT_EQ(frame[0], '\0');
  const uint32_t n = (uint8_t(frame[1]) << 24) | (uint8_t(frame[2]) << 16) |
                     (uint8_t(frame[3]) << 8) | uint8_t(frame[4]);
  EXPECT_EQ(n, r.ByteSizeLong());
  v1::Referral back;
  ASSERT_TRUE(back.ParseFromString(frame.substr(5)));
  EXPECT_EQ(back.free_text(), r.free_text());
}

}  // namespace
}  // namespace frontdoor::load
