// A log-linear histogram of non-negative integers (load's round trips and
// send lags in nanoseconds, the data plane's move latency) with bounded relative error, for percentiles
// over millions of samples without keeping them. Debian 12 packages no C or
// C++ HDR histogram (only Go's and Java's), so this is its own small one.
//
// Buckets: every value below 2 * kSubBuckets has its own; above, each
// power-of-two range [2^e, 2^(e+1)) is cut into kSubBuckets equal buckets.
// A percentile is its bucket's middle, so it is within kMaxRelativeError
// (1/256, under 0.4%) of the exact value of that rank; min and max are kept
// exactly. The whole uint64_t range fits (7424 buckets at most); the counts
// grow only up to the largest bucket used, 8 bytes each (24 KiB for values
// up to a second in nanoseconds).
#ifndef SCTPDP_DATAPLANE_HISTOGRAM_H_
#define SCTPDP_DATAPLANE_HISTOGRAM_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sctpdp {

class Histogram {
 public:
  static constexpr int kSubBucketBits = 7;
  static constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;  // per power of two
  // |Percentile(p) - exact| <= exact * kMaxRelativeError (see the banner).
  static constexpr double kMaxRelativeError = 1.0 / (2 * kSubBuckets);

  void Record(uint64_t value, uint64_t times = 1);
  void Merge(const Histogram& other);

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }  // exact; 0 when empty
  uint64_t max() const { return max_; }                // exact; 0 when empty

  // The nearest-rank percentile: the Rank(p, count())-th smallest value
  // recorded, within kMaxRelativeError. p <= 0 gives min(), p >= 1 max(),
  // an empty histogram 0.
  uint64_t Percentile(double p) const;
  // ceil(p * n), within [1, n]: the 1-based rank of percentile p of n values
  // (0 when n is 0). Shared with the tests' exact percentiles.
  static uint64_t Rank(double p, uint64_t n);

  // The bucket arithmetic, public for the tests: the bucket of `value`, and
  // each bucket's smallest value and width (its values are [lowest, lowest +
  // width)).
  static size_t BucketOf(uint64_t value);
  static uint64_t BucketLowest(size_t bucket);
  static uint64_t BucketWidth(size_t bucket);

 private:
  std::vector<uint64_t> counts_;  // by bucket, up to the largest used
  uint64_t count_ = 0;
  uint64_t min_ = ~uint64_t{0};
  uint64_t max_ = 0;
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_HISTOGRAM_H_
