// A latency histogram with log-linear buckets, in the manner of
// HdrHistogram: values below 256 ns are kept exactly, and every power of two
// above that is split into 128 equal buckets, so a reported percentile is
// within 1/128 (0.8%) of the true sample. Fixed size (7,424 counters, 58
// KiB), no allocation while recording.
//
// Not thread-safe: give each caller its own histogram and Merge them at the
// end.

#ifndef FRONTDOOR_TESTS_LOAD_HISTOGRAM_H_
#define FRONTDOOR_TESTS_LOAD_HISTOGRAM_H_

#include <cstdint>
#include <vector>

namespace frontdoor::load {

class LatencyHistogram {
 public:
  LatencyHistogram();

  // Records one sample of `nanos` (negative values count as 0).
  void Record(int64_t nanos);
  // Adds every sample of `other`.
  void Merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  // Exact smallest and largest samples; 0 when empty.
  int64_t min() const { return count_ == 0 ? 0 : min_; }
  int64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0 : static_cast<double>(sum_) / count_; }

  // The value at quantile `q` (0 < q <= 1): the highest value that falls in
  // the bucket of the ceil(q * count)-th smallest sample, capped at max().
  // So it is never below that sample and at most 0.8% above it. 0 when
  // empty.
  int64_t Percentile(double q) const;

  // Bucket arithmetic, exposed for tests.
  static int BucketOf(uint64_t value);
  static uint64_t BucketHigh(int bucket);  // largest value in the bucket
  static constexpr int kSubBits = 7;       // 128 buckets per power of two
  static constexpr int kBuckets = (65 - kSubBits) * (1 << kSubBits);

 private:
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
  __int128 sum_ = 0;
};

}  // namespace frontdoor::load

#endif  // FRONTDOOR_TESTS_LOAD_HISTOGRAM_H_
