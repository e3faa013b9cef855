#include "tests/load/histogram.h"

#include <algorithm>
#include <cmath>

namespace frontdoor::load {
namespace {

constexpr uint64_t kSub = uint64_t{1} << LatencyHistogram::kSubBits;  // 128

}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(kBuckets, 0) {}

int LatencyHistogram::BucketOf(uint64_t value) {
  if (value < 2 * kSub) return static_cast<int>(value);
  const int k = 63 - __builtin_clzll(value);  // k >= kSubBits + 1
  const int shift = k - kSubBits;
  const uint64_t sub = value >> shift;  // in [kSub, 2 * kSub)
  return static_cast<int>((k - kSubBits) * kSub + sub);
}

uint64_t LatencyHistogram::BucketHigh(int bucket) {
  const uint64_t b = static_cast<uint64_t>(bucket);
  if (b < 2 * kSub) return b;
  const uint64_t group = b / kSub;  // k - kSubBits, >= 2
  const uint64_t sub = b % kSub + kSub;
  const int shift = static_cast<int>(group) - 1;
  // ((sub + 1) << shift) - 1 without overflowing in the top bucket.
  return (sub << shift) + ((uint64_t{1} << shift) - 1);
}

void LatencyHistogram::Record(int64_t nanos) {
  if (nanos < 0) nanos = 0;
  ++buckets_[BucketOf(static_cast<uint64_t>(nanos))];
  if (count_ == 0 || nanos < min_) min_ = nanos;
  if (nanos > max_) max_ = nanos;
  sum_ += nanos;
  ++count_;
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (int i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  if (count_ == 0 || other.min_ < min_) min_ = other.min_;
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
  count_ += other.count_;
}

int64_t LatencyHistogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      return std::min<int64_t>(static_cast<int64_t>(BucketHigh(i)), max_);
    }
  }
  return max_;
}

}  // namespace frontdoor::load
