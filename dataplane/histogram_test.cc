#include "dataplane/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace sctpdp {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
const double kPercentiles[] = {0, 1e-6, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 0.9999, 1};

// The exact nearest-rank percentile of `values`.
uint64_t Exact(std::vector<uint64_t> values, double p) {
  if (values.empty()) return 0;
  const uint64_t rank = Histogram::Rank(p, values.size());
  std::nth_element(values.begin(), values.begin() + (rank - 1), values.end());
  return values[rank - 1];
}

// Every percentile of kPercentiles (and count, min, max) against the sorted
// values: within the stated relative error, exact below 2 * kSubBuckets.
void ExpectWithinBound(const std::vector<uint64_t>& values, const Histogram& h) {
  ASSERT_EQ(h.count(), values.size());
  if (values.empty()) return;
  EXPECT_EQ(h.min(), *std::min_element(values.begin(), values.end()));
  EXPECT_EQ(h.max(), *std::max_element(values.begin(), values.end()));
  for (double p : kPercentiles) {
    const uint64_t exact = Exact(values, p);
    const uint64_t got = h.Percentile(p);
    const double error = std::fabs(static_cast<double>(got) - static_cast<double>(exact));
    EXPECT_LE(error, static_cast<double>(exact) * Histogram::kMaxRelativeError)
        << "p=" << p << " exact=" << exact << " got=" << got << " n=" << values.size();
    if (exact < 2 * Histogram::kSubBuckets) {
      EXPECT_EQ(got, exact) << "p=" << p;
    }
  }
}

Histogram Of(const std::vector<uint64_t>& values) {
  Histogram h;
  for (uint64_t v : values) h.Record(v);
  return h;
}

TEST(HistogramTest, TheBoundIsUnderOnePercent) { EXPECT_LT(Histogram::kMaxRelativeError, 0.01); }

TEST(HistogramTest, EmptyIsZeroEverywhere) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  for (double p : kPercentiles) EXPECT_EQ(h.Percentile(p), 0u);
  Histogram other;
  h.Merge(other);
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Percentile(0.5), 0u);
}

TEST(HistogramTest, RankIsNearestRank) {
  EXPECT_EQ(Histogram::Rank(0.5, 0), 0u);
  EXPECT_EQ(Histogram::Rank(0.5, 1), 1u);
  EXPECT_EQ(Histogram::Rank(0.5, 4), 2u);
  EXPECT_EQ(Histogram::Rank(0.5, 5), 3u);
  EXPECT_EQ(Histogram::Rank(0.99, 100), 99u);  // not 100: 0.99 * 100 is not exactly 99 in doubles
  EXPECT_EQ(Histogram::Rank(0.999, 1000), 999u);
  EXPECT_EQ(Histogram::Rank(0.991, 100), 100u);
  EXPECT_EQ(Histogram::Rank(0, 10), 1u);
  EXPECT_EQ(Histogram::Rank(-1, 10), 1u);
  EXPECT_EQ(Histogram::Rank(std::nan(""), 10), 1u);
  EXPECT_EQ(Histogram::Rank(1, 10), 10u);
  EXPECT_EQ(Histogram::Rank(2, 10), 10u);
}

// Buckets tile the whole range: consecutive, each [lowest, lowest + width)
// mapping back to itself, widths a power of two no wider than the bound.
TEST(HistogramTest, BucketsTileTheRange) {
  const size_t last = Histogram::BucketOf(kMax);
  EXPECT_EQ(last, 7423u);
  uint64_t next = 0;
  for (size_t b = 0; b <= last; ++b) {
    const uint64_t lo = Histogram::BucketLowest(b), w = Histogram::BucketWidth(b);
    ASSERT_EQ(lo, next) << "bucket " << b;
    ASSERT_EQ(w & (w - 1), 0u) << "bucket " << b;
    ASSERT_EQ(Histogram::BucketOf(lo), b);
    ASSERT_EQ(Histogram::BucketOf(lo + (w - 1)), b);
    if (w > 1) {
      ASSERT_LE(static_cast<double>(w / 2) / static_cast<double>(lo), Histogram::kMaxRelativeError);
    }
    next = lo + w;  // wraps to 0 after the last bucket
  }
  EXPECT_EQ(next, 0u);
}

TEST(HistogramTest, SmallValuesAreExact) {
  std::vector<uint64_t> values;
  for (uint64_t v = 0; v < 2 * Histogram::kSubBuckets; ++v) values.push_back(v);
  const Histogram h = Of(values);
  for (double p : kPercentiles) EXPECT_EQ(h.Percentile(p), Exact(values, p)) << p;
  EXPECT_EQ(h.Percentile(0.5), 127u);
}

TEST(HistogramTest, RandomLogUniformWithinBound) {
  std::mt19937_64 rng(1);
  for (int trial = 0; trial < 50; ++trial) {
    std::uniform_int_distribution<int> bits(0, 63), n(1, 20000);
    std::vector<uint64_t> values(n(rng));
    for (uint64_t& v : values) v = rng() >> bits(rng);
    ExpectWithinBound(values, Of(values));
  }
}

TEST(HistogramTest, RandomLatencyLikeWithinBound) {
  std::mt19937_64 rng(2);
  std::lognormal_distribution<double> rtt(std::log(200e3), 1.0);  // ns: 200 us median, a long tail
  std::vector<uint64_t> values(200000);
  for (uint64_t& v : values) v = static_cast<uint64_t>(rtt(rng));
  ExpectWithinBound(values, Of(values));
}

// The worst places for a bucketed percentile: bucket edges, powers of two
// and their neighbours, one value repeated, a tail of a few huge values.
TEST(HistogramTest, AdversarialWithinBound) {
  std::vector<uint64_t> edges;
  for (size_t b = 0; b <= Histogram::BucketOf(kMax); b += 7) {
    const uint64_t lo = Histogram::BucketLowest(b);
    edges.push_back(lo);
    edges.push_back(lo + (Histogram::BucketWidth(b) - 1));
  }
  ExpectWithinBound(edges, Of(edges));
  std::vector<uint64_t> powers;
  for (int e = 0; e < 64; ++e) {
    const uint64_t p = uint64_t{1} << e;
    powers.insert(powers.end(), {p - 1, p, p + 1});
  }
  ExpectWithinBound(powers, Of(powers));
  for (uint64_t v : {uint64_t{0}, uint64_t{255}, uint64_t{256}, uint64_t{257}, uint64_t{1000003}, kMax - 1, kMax}) {
    const std::vector<uint64_t> same(1001, v);
    ExpectWithinBound(same, Of(same));
  }
  // 99% fast, 1% slow: p99 is the last fast one, p99.9 a slow one.
  std::vector<uint64_t> bimodal(99000, 1000);
  bimodal.insert(bimodal.end(), 1000, uint64_t{5} << 40);
  const Histogram h = Of(bimodal);
  ExpectWithinBound(bimodal, h);
  EXPECT_NEAR(static_cast<double>(h.Percentile(0.99)), 1000, 1000 * Histogram::kMaxRelativeError);
  EXPECT_NEAR(static_cast<double>(h.Percentile(0.999)), 5.0 * (uint64_t{1} << 40),
              5.0 * (uint64_t{1} << 40) * Histogram::kMaxRelativeError);
  // Counts recorded at once are as many records.
  Histogram many;
  many.Record(1234567, 999);
  many.Record(7, 1);
  many.Record(kMax, 0);  // nothing
  EXPECT_EQ(many.count(), 1000u);
  EXPECT_EQ(many.min(), 7u);
  EXPECT_EQ(many.max(), 1234567u);
  EXPECT_NEAR(static_cast<double>(many.Percentile(0.5)), 1234567, 1234567 * Histogram::kMaxRelativeError);
  EXPECT_EQ(many.Percentile(0.0005), 7u);  // rank 1: the exact min
  // A bucket's middle above the largest value recorded is the largest.
  Histogram top;
  top.Record(1000, 3);  // rank 2 of 3: the middle of [1000, 1003] is 1001
  EXPECT_EQ(top.Percentile(0.5), 1000u);
}

// The stated bound is reached within a factor of two: it is not loose.
TEST(HistogramTest, TheBoundIsNearlyTight) {
  double worst = 0;
  for (uint64_t v = 1 << 20; v < (1 << 20) + 100000; ++v) {
    Histogram h;
    h.Record(0);
    h.Record(v);
    h.Record(kMax);
    worst = std::max(worst, std::fabs(static_cast<double>(h.Percentile(0.5)) - v) / v);
  }
  EXPECT_LE(worst, Histogram::kMaxRelativeError);
  EXPECT_GT(worst, Histogram::kMaxRelativeError / 2);
}

TEST(HistogramTest, HugeValuesKeepAnExactMax) {
  Histogram h;
  h.Record(kMax);
  h.Record(kMax - 12345);
  h.Record(1);
  EXPECT_EQ(h.max(), kMax);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.Percentile(1), kMax);
  const double mid = static_cast<double>(h.Percentile(0.5));
  EXPECT_NEAR(mid, static_cast<double>(kMax - 12345), static_cast<double>(kMax) * Histogram::kMaxRelativeError);
}

TEST(HistogramTest, MergeIsTheSameAsRecordingEverything) {
  std::mt19937_64 rng(3);
  std::vector<uint64_t> all;
  std::vector<Histogram> parts(5);
  for (int i = 0; i < 50000; ++i) {
    const uint64_t v = rng() >> (rng() % 64);
    all.push_back(v);
    parts[rng() % parts.size()].Record(v);
  }
  Histogram merged;
  Histogram empty;
  merged.Merge(empty);
  for (const Histogram& p : parts) merged.Merge(p);
  merged.Merge(empty);
  const Histogram direct = Of(all);
  EXPECT_EQ(merged.count(), direct.count());
  EXPECT_EQ(merged.min(), direct.min());
  EXPECT_EQ(merged.max(), direct.max());
  for (double p : kPercentiles) EXPECT_EQ(merged.Percentile(p), direct.Percentile(p)) << p;
  ExpectWithinBound(all, merged);
  // Into an empty one, and a small one into a big one: order does not matter.
  Histogram into_empty;
  into_empty.Merge(direct);
  EXPECT_EQ(into_empty.Percentile(0.99), direct.Percentile(0.99));
  Histogram small;
  small.Record(3);
  Histogram big = Of({kMax});
  big.Merge(small);
  small.Merge(Of({kMax}));
  EXPECT_EQ(big.count(), 2u);
  EXPECT_EQ(big.min(), 3u);
  EXPECT_EQ(small.max(), kMax);
  EXPECT_EQ(big.Percentile(0.5), small.Percentile(0.5));
}

}  // namespace
}  // namespace sctpdp
