#include "services/common/reference.h"

#include <random>
#include <set>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace frontdoor {
namespace {

TEST(Reference, FormatsInGroupsWithCheck) {
  std::string r = FormatReference(0);
  EXPECT_EQ(r, "0000-0000-000");
  std::string s = FormatReference(123456789);
  EXPECT_EQ(s.size(), 13u);
  EXPECT_EQ(s[4], '-');
  EXPECT_EQ(s[9], '-');
}

TEST(Reference, RoundTripsAndAcceptsAliases) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 1000; ++i) {
    std::string r = FormatReference(rng());
    auto c = CanonicalReference(r);
    ASSERT_TRUE(c.ok()) << r;
    EXPECT_EQ(*c, r);
    std::string lower;
    for (char ch : r) lower.push_back(ch == '-' ? ' ' : static_cast<char>(std::tolower(ch)));
    auto d = CanonicalReference(lower);
    ASSERT_TRUE(d.ok()) << lower;
    EXPECT_EQ(*d, r);
  }
  std::string with_one = FormatReference(1);  // ...01 + check
  std::string aliased = with_one;
  aliased[11] = 'l';
  EXPECT_EQ(*CanonicalReference(aliased), with_one);
}

TEST(Reference, DetectsEverySingleCharacterError) {
  std::mt19937_64 rng(7);
  const std::string alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  for (int i = 0; i < 200; ++i) {
    std::string r = FormatReference(rng());
    for (size_t pos = 0; pos < r.size(); ++pos) {
      if (r[pos] == '-' || pos == r.size() - 1) continue;
      for (char c : alphabet) {
        if (c == r[pos]) continue;
        std::string bad = r;
        bad[pos] = c;
        EXPECT_FALSE(CanonicalReference(bad).ok()) << r << " -> " << bad;
      }
    }
  }
}

TEST(Reference, DetectsAdjacentTranspositions) {
  std::mt19937_64 rng(9);
  for (int i = 0; i < 500; ++i) {
    std::string compact;
    for (char ch : FormatReference(rng())) {
      if (ch != '-') compact.push_back(ch);
    }
    for (size_t p = 0; p + 2 < compact.size(); ++p) {
      if (compact[p] == compact[p + 1]) continue;
      std::string bad = compact;
      std::swap(bad[p], bad[p + 1]);
      EXPECT_FALSE(CanonicalReference(bad).ok()) << compact << " -> " << bad;
    }
  }
}

// The store keys referrals by reference: a later minute must sort after
// every reference of an earlier one, whatever their random halves.
TEST(Reference, LaterMinutesSortLater) {
  const absl::Time t0 = absl::FromCivil(
      absl::CivilSecond(2026, 11, 24, 9, 30, 59), absl::UTCTimeZone());
  const std::string latest_of_minute = TimeOrderedReference(t0, ~uint64_t{0});
  const std::string earliest_of_next =
      TimeOrderedReference(t0 + absl::Seconds(1), 0);
  EXPECT_LT(latest_of_minute, earliest_of_next);
  EXPECT_LT(TimeOrderedReference(t0 - absl::Hours(24 * 365), ~uint64_t{0}),
            TimeOrderedReference(t0, 0));
  std::mt19937_64 rng(7);
  std::string previous;
  for (int i = 0; i < 2000; ++i) {
    const std::string r =
        TimeOrderedReference(t0 + absl::Seconds(61 * i), rng());
    EXPECT_TRUE(CanonicalReference(r).ok()) << r;
    EXPECT_LT(previous, r) << "step " << i;
    previous = r;
  }
}

// Within a minute references differ by their random half only: every one
// of a thousand draws is distinct, and the time alone does not give them.
TEST(Reference, AMinutesReferencesDifferByTheirRandomHalf) {
  const absl::Time t = absl::FromCivil(
      absl::CivilSecond(2026, 11, 24, 9, 30, 0), absl::UTCTimeZone());
  std::mt19937_64 rng(11);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    seen.insert(TimeOrderedReference(t + absl::Milliseconds(59 * i), rng()));
  }
  EXPECT_EQ(seen.size(), 1000u);
  // The same minute and random bits give the same reference; bits above
  // the 25 random ones are ignored.
  EXPECT_EQ(
      TimeOrderedReference(t, 12345),
      TimeOrderedReference(t + absl::Seconds(59), (uint64_t{1} << 25) | 12345));
  EXPECT_NE(TimeOrderedReference(t, 12345), TimeOrderedReference(t, 12346));
  // A clock before the epoch is minute 0, not a wrapped-around future.
  EXPECT_EQ(TimeOrderedReference(absl::UnixEpoch(), 5), FormatReference(5));
}

TEST(Reference, DocumentedExampleIsValid) {
  EXPECT_EQ(*CanonicalReference("k3m7 9q2d x8a"), "K3M7-9Q2D-X8A");
}

TEST(Reference, RejectsMalformedText) {
  EXPECT_FALSE(CanonicalReference("").ok());
  EXPECT_FALSE(CanonicalReference("ABC").ok());
  EXPECT_FALSE(CanonicalReference("K3M7-9Q2D-XZ4-EXTRA").ok());
  EXPECT_FALSE(CanonicalReference("K3M7-9Q2D-X!4").ok());
  EXPECT_FALSE(CanonicalReference("UUUU-UUUU-UUU").ok());
}

}  // namespace
}  // namespace frontdoor
