#include "dataplane/histogram.h"

#include <algorithm>
#include <cmath>

namespace sctpdp {

// Below 2 * kSubBuckets a bucket is one value. Above, a value whose top bit
// is bit e drops its s = e - kSubBucketBits low bits: what is left, in
// [kSubBuckets, 2 * kSubBuckets), picks one of the kSubBuckets buckets of
// width 2^s that follow the kSubBuckets * s before them. A bucket of width
// 2^s starts at kSubBuckets * 2^s or above, so its middle is within
// 2^(s-1) / (kSubBuckets * 2^s) = 1 / (2 * kSubBuckets) of any value in it.
size_t Histogram::BucketOf(uint64_t value) {
  if (value < kSubBuckets) return static_cast<size_t>(value);
  const int s = 63 - __builtin_clzll(value) - kSubBucketBits;
  return static_cast<size_t>(s * kSubBuckets + (value >> s));
}

uint64_t Histogram::BucketLowest(size_t bucket) {
  if (bucket < 2 * kSubBuckets) return bucket;
  const uint64_t s = bucket / kSubBuckets - 1;
  return (bucket - s * kSubBuckets) << s;
}

uint64_t Histogram::BucketWidth(size_t bucket) {
  if (bucket < 2 * kSubBuckets) return 1;
  return uint64_t{1} << (bucket / kSubBuckets - 1);
}

void Histogram::Record(uint64_t value, uint64_t times) {
  if (times == 0) return;
  const size_t b = BucketOf(value);
  if (b >= counts_.size()) counts_.resize(b + 1);
  counts_[b] += times;
  count_ += times;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void Histogram::Merge(const Histogram& other) {
  if (other.count_ == 0) return;
  if (other.counts_.size() > counts_.size()) counts_.resize(other.counts_.size());
  for (size_t b = 0; b < other.counts_.size(); ++b) counts_[b] += other.counts_[b];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

uint64_t Histogram::Rank(double p, uint64_t n) {
  if (n == 0) return 0;
  if (!(p > 0)) return 1;
  if (p >= 1) return n;
  // Less a hair, so that 0.99 * 100 (98.99999999999999 or 99.00000000000001
  // in doubles) is rank 99.
  const double r = std::ceil(p * static_cast<double>(n) - 1e-7);
  return std::clamp<uint64_t>(r < 1 ? 1 : static_cast<uint64_t>(r), 1, n);
}

uint64_t Histogram::Percentile(double p) const {
  const uint64_t rank = Rank(p, count_);
  if (rank == 0) return 0;
  if (rank == 1) return min_;
  if (rank == count_) return max_;
  uint64_t seen = 0;
  for (size_t b = 0; b < counts_.size(); ++b) {
    seen += counts_[b];
    if (seen < rank) continue;
    const uint64_t middle = BucketLowest(b) + (BucketWidth(b) - 1) / 2;
    return std::clamp(middle, min_, max_);
  }
  return max_;  // not reached: the counts add up to count_
}

}  // namespace sctpdp
