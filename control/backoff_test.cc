// Backoff on the host: the seeded generator replays, every delay lies within
// its jitter bounds around a base that grows geometrically to the cap, and
// Reset starts the schedule over.
#include "control/backoff.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace sctpdp {
namespace {

TEST(SplitMix64Test, SameSeedSameSequenceOtherSeedOther) {
  SplitMix64 a(42), b(42), c(43);
  std::vector<uint64_t> va, vb, vc;
  for (int i = 0; i < 100; ++i) {
    va.push_back(a.Next());
    vb.push_back(b.Next());
    vc.push_back(c.Next());
  }
  EXPECT_EQ(va, vb);
  EXPECT_NE(va, vc);
  // The reference generator's first output for seed 0 (Vigna's splitmix64.c).
  EXPECT_EQ(SplitMix64(0).Next(), 0xe220a8397b1dcdafull);
}

TEST(SplitMix64Test, UniformIsInTheUnitIntervalAndSpreads) {
  SplitMix64 r(7);
  double lo = 1, hi = 0, sum = 0;
  constexpr int kN = 100000;
  for (int i = 0; i < kN; ++i) {
    const double u = r.Uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    lo = std::min(lo, u);
    hi = std::max(hi, u);
    sum += u;
  }
  EXPECT_LT(lo, 0.001);
  EXPECT_GT(hi, 0.999);
  EXPECT_NEAR(sum / kN, 0.5, 0.01);
}

ReconnectOptions Options(double jitter) {
  ReconnectOptions o;
  o.initial = absl::Milliseconds(100);
  o.max = absl::Seconds(5);
  o.multiplier = 2;
  o.jitter = jitter;
  return o;
}

TEST(BackoffTest, BaseGrowsGeometricallyToTheCap) {
  Backoff b(Options(0.2), 1);
  EXPECT_EQ(b.Base(0), absl::Milliseconds(100));
  EXPECT_EQ(b.Base(1), absl::Milliseconds(200));
  EXPECT_EQ(b.Base(5), absl::Milliseconds(3200));
  EXPECT_EQ(b.Base(6), absl::Seconds(5));     // capped
  EXPECT_EQ(b.Base(1000), absl::Seconds(5));  // no overflow
}

TEST(BackoffTest, WithoutJitterTheDelaysAreTheBases) {
  Backoff b(Options(0), 1);
  for (unsigned n = 0; n < 10; ++n) EXPECT_EQ(b.Next(), b.Base(n)) << n;
  EXPECT_EQ(b.attempts(), 10u);
}

TEST(BackoffTest, EveryDelayLiesWithinItsJitterBoundsAndTheCap) {
  const ReconnectOptions o = Options(0.25);
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    Backoff b(o, seed);
    for (unsigned n = 0; n < 12; ++n) {
      const absl::Duration base = b.Base(n);
      const absl::Duration d = b.Next();
      const absl::Duration slack = absl::Nanoseconds(1);  // double <-> Duration rounding
      ASSERT_GE(d, base * 0.75 - slack) << "seed " << seed << " attempt " << n;
      ASSERT_LE(d, std::min(o.max, base * 1.25) + slack) << "seed " << seed << " attempt " << n;
    }
  }
}

TEST(BackoffTest, JitterSpreadsConnectionsRefusedTogether) {
  // 100 connections refused at the same moment come back at 100 different moments.
  std::set<int64_t> first;
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    first.insert(absl::ToInt64Nanoseconds(Backoff(Options(0.2), seed).Next()));
  }
  EXPECT_EQ(first.size(), 100u);
}

TEST(BackoffTest, TheSameSeedReplaysTheScheduleAndResetStartsOver) {
  Backoff a(Options(0.2), 99), b(Options(0.2), 99);
  std::vector<absl::Duration> da, db;
  for (int i = 0; i < 8; ++i) {
    da.push_back(a.Next());
    db.push_back(b.Next());
  }
  EXPECT_EQ(da, db);
  a.Reset();
  EXPECT_EQ(a.attempts(), 0u);
  const absl::Duration after_reset = a.Next();
  EXPECT_GE(after_reset, absl::Milliseconds(80));
  EXPECT_LE(after_reset, absl::Milliseconds(120));
}

TEST(BackoffTest, OptionsAreValidated) {
  EXPECT_TRUE(ValidateReconnectOptions(ReconnectOptions{}).ok());
  ReconnectOptions o;
  o.initial = absl::ZeroDuration();
  EXPECT_FALSE(ValidateReconnectOptions(o).ok());
  o = {};
  o.max = absl::Milliseconds(1);  // below initial
  EXPECT_FALSE(ValidateReconnectOptions(o).ok());
  o = {};
  o.multiplier = 0.5;
  EXPECT_FALSE(ValidateReconnectOptions(o).ok());
  o = {};
  o.jitter = 1.5;
  EXPECT_FALSE(ValidateReconnectOptions(o).ok());
}

}  // namespace
}  // namespace sctpdp
