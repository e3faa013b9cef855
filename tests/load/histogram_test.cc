#include "tests/load/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace frontdoor::load {
namespace {

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  for (uint64_t v = 0; v < 256; ++v) {
    EXPECT_EQ(LatencyHistogram::BucketOf(v), static_cast<int>(v));
    EXPECT_EQ(LatencyHistogram::BucketHigh(static_cast<int>(v)), v);
  }
}

TEST(LatencyHistogramTest, BucketsAreContiguousMonotoneAndTight) {
  // Every bucket boundary: the value after a bucket's high is the next bucket.
  for (int b = 0; b + 1 < LatencyHistogram::kBuckets; ++b) {
    const uint64_t high = LatencyHistogram::BucketHigh(b);
    ASSERT_EQ(LatencyHistogram::BucketOf(high), b) << b;
    ASSERT_EQ(LatencyHistogram::BucketOf(high + 1), b + 1) << b;
  }
  EXPECT_EQ(LatencyHistogram::BucketOf(std::numeric_limits<uint64_t>::max()),
            LatencyHistogram::kBuckets - 1);
  EXPECT_EQ(LatencyHistogram::BucketHigh(LatencyHistogram::kBuckets - 1),
            std::numeric_limits<uint64_t>::max());
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t v = rng() >> (rng() % 64);
    const uint64_t high = LatencyHistogram::BucketHigh(LatencyHistogram::BucketOf(v));
    ASSERT_GE(high, v);
    ASSERT_LE(static_cast<double>(high - v), static_cast<double>(v) / 128.0) << v;
  }
}

TEST(LatencyHistogramTest, PercentilesMatchSortedSamplesWithinResolution) {
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(11.0, 1.0);  // ~60 us median, long tail
  LatencyHistogram h;
  std::vector<int64_t> samples;
  for (int i = 0; i < 50000; ++i) {
    const int64_t v = static_cast<int64_t>(dist(rng));
    samples.push_back(v);
    h.Record(v);
  }
  std::sort(samples.begin(), samples.end());
  EXPECT_EQ(h.count(), samples.size());
  EXPECT_EQ(h.min(), samples.front());
  EXPECT_EQ(h.max(), samples.back());
  for (double q : {0.001, 0.5, 0.9, 0.99, 0.999, 1.0}) {
    const size_t rank = static_cast<size_t>(std::ceil(q * samples.size()));
    const int64_t exact = samples[rank - 1];
    const int64_t got = h.Percentile(q);
    EXPECT_GE(got, exact) << q;
    EXPECT_LE(got, exact + exact / 128 + 1) << q;
  }
  EXPECT_EQ(h.Percentile(1.0), samples.back());
}

TEST(LatencyHistogramTest, MergeEqualsRecordingEverythingInOne) {
  LatencyHistogram a, b, all;
  for (int i = 0; i < 1000; ++i) {
    a.Record(i * 37);
    all.Record(i * 37);
    b.Record(1000000 + i * 1001);
    all.Record(1000000 + i * 1001);
  }
  LatencyHistogram merged;
  merged.Merge(a);
  merged.Merge(b);
  merged.Merge(LatencyHistogram());
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_DOUBLE_EQ(merged.mean(), all.mean());
  for (double q : {0.1, 0.5, 0.75, 0.99}) EXPECT_EQ(merged.Percentile(q), all.Percentile(q));
}

TEST(LatencyHistogramTest, EmptyAndNegative) {
  LatencyHistogram h;
  EXPECT_EQ(h.Percentile(0.99), 0);
  EXPECT_EQ(h.max(), 0);
  h.Record(-5);
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.Percentile(0.5), 0);
}

}  // namespace
}  // namespace frontdoor::load
