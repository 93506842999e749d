#include "tools/sctpdp/regress_stats.h"

#include <cmath>

#include "gtest/gtest.h"

namespace sctpdp {
namespace {

TEST(MedianTest, OddEvenEmpty) {
  EXPECT_EQ(Median({3, 1, 2}), 2);
  EXPECT_EQ(Median({4, 1, 3, 2}), 2.5);
  EXPECT_EQ(Median({7}), 7);
  EXPECT_EQ(Median({}), 0);
}

TEST(DescribeTest, SeparatesBetweenAndWithinBootSpread) {
  // Two boots whose means differ (100 vs 110), each with the same small spread.
  Samples s{{{99, 100, 101}, {109, 110, 111}}};
  const Spread d = Describe(s);
  EXPECT_EQ(d.median, 105);
  EXPECT_EQ(d.boots, 2);
  EXPECT_EQ(d.runs, 6);
  // Boot means 100 and 110: stddev 7.0711 over a grand mean of 105.
  EXPECT_NEAR(d.between_boot_rsd, 7.0711 / 105, 1e-4);
  // Within each boot: squares 1 + 0 + 1 twice, 4 degrees of freedom: stddev 1.
  EXPECT_NEAR(d.within_boot_rsd, 1.0 / 105, 1e-9);
  // Every run: deviations ±4, ±5, ±6 from 105: sqrt(154 / 5) = 5.5498.
  EXPECT_NEAR(d.rsd, 5.5498 / 105, 1e-5);
}

TEST(DescribeTest, OneBootHasNoBetweenBootSpread) {
  const Spread d = Describe(Samples{{{10, 20, 30}}});
  EXPECT_EQ(d.median, 20);
  EXPECT_EQ(d.between_boot_rsd, 0);
  EXPECT_NEAR(d.within_boot_rsd, 0.5, 1e-12);
  EXPECT_NEAR(d.rsd, 0.5, 1e-12);
}

TEST(CompareTest, IdenticalConstantSamplesNoChange) {
  Samples a{{{100, 100, 100}, {100, 100, 100}, {100, 100, 100}}};
  const Comparison c = Compare(a, a, Direction::kHigherIsBetter, {});
  EXPECT_TRUE(c.defined);
  EXPECT_EQ(c.change, 0);
  EXPECT_EQ(c.ci_low, 0);
  EXPECT_EQ(c.ci_high, 0);
  EXPECT_EQ(c.detectable, 0.01);  // floored at min_change
  EXPECT_EQ(c.verdict, Verdict::kNoChange);
}

TEST(CompareTest, ConstantShiftHasAPointInterval) {
  // Every resample of B/A is exactly 0.8: the interval is the point.
  Samples a{{{100, 100}, {100, 100}, {100, 100}}}, b{{{80, 80}, {80, 80}, {80, 80}}};
  const Comparison higher = Compare(a, b, Direction::kHigherIsBetter, {});
  EXPECT_NEAR(higher.change, -0.2, 1e-12);
  EXPECT_NEAR(higher.ci_low, -0.2, 1e-12);
  EXPECT_NEAR(higher.ci_high, -0.2, 1e-12);
  EXPECT_EQ(higher.verdict, Verdict::kRegression);  // fewer messages/s
  EXPECT_EQ(Compare(a, b, Direction::kLowerIsBetter, {}).verdict, Verdict::kImprovement);  // less CPU
}

TEST(CompareTest, ClearSeparationIsFlaggedWithAnIntervalAroundTheChange) {
  Samples a{{{98, 100, 102}, {99, 101, 103}, {97, 100, 101}}};
  Samples b{{{108, 110, 112}, {109, 111, 113}, {107, 110, 111}}};
  const Comparison c = Compare(a, b, Direction::kLowerIsBetter, {});
  EXPECT_NEAR(c.change, 0.10, 1e-12);  // medians 100 and 110
  EXPECT_GT(c.ci_low, 0.05);
  EXPECT_LT(c.ci_high, 0.16);
  EXPECT_LE(c.ci_low, c.change);
  EXPECT_GE(c.ci_high, c.change);
  EXPECT_EQ(c.verdict, Verdict::kRegression);  // round trips got longer
  EXPECT_LT(c.detectable, 0.06);
}

TEST(CompareTest, OverlappingNoisySamplesAreNoChange) {
  Samples a{{{90, 110, 100}, {95, 105, 102}, {97, 99, 104}}};
  Samples b{{{92, 108, 103}, {97, 101, 99}, {94, 106, 100}}};
  const Comparison c = Compare(a, b, Direction::kHigherIsBetter, {});
  EXPECT_LT(c.ci_low, 0);
  EXPECT_GT(c.ci_high, 0);
  EXPECT_EQ(c.verdict, Verdict::kNoChange);
  EXPECT_GT(c.detectable, 0.01);
}

TEST(CompareTest, ChangesUnderOnePercentAreNeverFlagged) {
  // A tiny but perfectly consistent shift: the interval excludes 0, yet 0.5%.
  Samples a{{{1000, 1000}, {1000, 1000}, {1000, 1000}}}, b{{{1005, 1005}, {1005, 1005}, {1005, 1005}}};
  const Comparison c = Compare(a, b, Direction::kHigherIsBetter, {});
  EXPECT_GT(c.ci_low, 0);
  EXPECT_EQ(c.verdict, Verdict::kNoChange);
}

TEST(CompareTest, SpreadAboveTheLimitIsUnstable) {
  Samples a{{{50, 150, 100}, {60, 140, 100}, {55, 145, 100}}};  // RSD about 37%
  Samples b{{{200, 200, 200}, {200, 200, 200}, {200, 200, 200}}};
  const Comparison c = Compare(a, b, Direction::kHigherIsBetter, {});
  EXPECT_GT(c.a.rsd, 0.2);
  EXPECT_EQ(c.verdict, Verdict::kUnstable);
  CompareLimits loose;
  loose.max_rsd = 0.5;
  EXPECT_EQ(Compare(a, b, Direction::kHigherIsBetter, loose).verdict, Verdict::kImprovement);
}

TEST(CompareTest, FewerThanThreeBootsAreUnstable) {
  // A clear 20% drop, but over two boots per side: the spread between boots
  // is unknown, so no verdict but unstable (regress then boots more).
  Samples a{{{100, 100}, {100, 100}}}, b{{{80, 80}, {80, 80}}};
  const Comparison c = Compare(a, b, Direction::kHigherIsBetter, {});
  EXPECT_NEAR(c.change, -0.2, 1e-12);
  EXPECT_EQ(c.verdict, Verdict::kUnstable);
  CompareLimits two;
  two.min_boots = 2;
  EXPECT_EQ(Compare(a, b, Direction::kHigherIsBetter, two).verdict, Verdict::kRegression);
}

TEST(CompareTest, ZeroBaselineIsUndefinedAndUnstable) {
  const Comparison c = Compare(Samples{{{0, 0}}}, Samples{{{5, 5}}}, Direction::kLowerIsBetter, {});
  EXPECT_FALSE(c.defined);
  EXPECT_EQ(c.verdict, Verdict::kUnstable);
}

TEST(CompareTest, SameSeedSameInterval) {
  Samples a{{{90, 110, 100}, {95, 105, 102}}}, b{{{92, 118, 103}, {97, 111, 99}}};
  const Comparison x = Compare(a, b, Direction::kHigherIsBetter, {});
  const Comparison y = Compare(a, b, Direction::kHigherIsBetter, {});
  EXPECT_EQ(x.ci_low, y.ci_low);
  EXPECT_EQ(x.ci_high, y.ci_high);
}

TEST(CompareTest, BetweenBootSpreadWidensTheInterval) {
  // The same twelve values per side; grouped so that boots differ, the
  // two-stage bootstrap must give a wider interval than one big boot does.
  Samples a_boots{{{90, 91, 92}, {110, 111, 112}}}, b_boots{{{95, 96, 97}, {115, 116, 117}}};
  Samples a_one{{{90, 91, 92, 110, 111, 112}}}, b_one{{{95, 96, 97, 115, 116, 117}}};
  const Comparison grouped = Compare(a_boots, b_boots, Direction::kHigherIsBetter, {});
  const Comparison flat = Compare(a_one, b_one, Direction::kHigherIsBetter, {});
  EXPECT_GT(grouped.ci_high - grouped.ci_low, flat.ci_high - flat.ci_low);
}

TEST(CompareTest, SimultaneousIntervalsAreWider) {
  Samples a{{{98, 100, 102}, {99, 101, 103}, {97, 100, 101}}};
  Samples b{{{101, 104, 106}, {103, 105, 107}, {100, 104, 105}}};
  CompareLimits one, many;
  many.comparisons = 16;
  const Comparison single = Compare(a, b, Direction::kHigherIsBetter, one);
  const Comparison family = Compare(a, b, Direction::kHigherIsBetter, many);
  EXPECT_LT(family.ci_low, single.ci_low);
  EXPECT_GT(family.ci_high, single.ci_high);
  EXPECT_GT(family.detectable, single.detectable);
}

TEST(VerdictNameTest, Names) {
  EXPECT_STREQ(VerdictName(Verdict::kRegression), "regression");
  EXPECT_STREQ(VerdictName(Verdict::kUnstable), "unstable");
  EXPECT_STREQ(VerdictName(Verdict::kNoChange), "no change");
  EXPECT_STREQ(VerdictName(Verdict::kImprovement), "improvement");
}

}  // namespace
}  // namespace sctpdp
