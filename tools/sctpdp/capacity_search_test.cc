#include "tools/sctpdp/capacity_search.h"

#include <cmath>
#include <map>
#include <random>

#include "gtest/gtest.h"

namespace sctpdp {
namespace {

// A system that passes every trial up to `capacity` and fails above it.
CapacityTrialFn Threshold(double capacity) {
  return [capacity](double rate) { return rate <= capacity; };
}

// The search's invariants over any trial function: the capacity passed every
// repeat, the failed rate failed one, the capacity lies below it, and the
// trials fit the budget.
void ExpectConsistent(const CapacitySearchOptions& o, const CapacitySearchResult& r) {
  EXPECT_LE(static_cast<int>(r.trials.size()), o.max_trials);
  std::map<double, std::pair<int, int>> by_rate;  // rate -> (passes, failures)
  for (const CapacityTrial& t : r.trials) {
    EXPECT_GE(t.rate, o.min_rate);
    EXPECT_LE(t.rate, o.max_rate);
    (t.passed ? by_rate[t.rate].first : by_rate[t.rate].second)++;
  }
  if (r.capacity > 0) {
    EXPECT_EQ(by_rate[r.capacity].first, o.repeats) << "capacity " << r.capacity;
    EXPECT_EQ(by_rate[r.capacity].second, 0);
  }
  if (r.failed > 0) {
    EXPECT_GE(by_rate[r.failed].second, 1) << "failed " << r.failed;
    EXPECT_GT(r.failed, r.capacity);
  }
  if (r.converged && r.capacity > 0 && r.failed > 0) {
    EXPECT_LE((r.failed - r.capacity) / r.capacity, o.precision);
  }
}

TEST(CapacitySearchTest, FindsAThresholdFromBelow) {
  CapacitySearchOptions o{.start = 1000, .precision = 0.05};
  const CapacitySearchResult r = SearchCapacity(o, Threshold(23456));
  ExpectConsistent(o, r);
  EXPECT_TRUE(r.converged);
  EXPECT_LE(r.capacity, 23456);
  EXPECT_GE(r.capacity, 23456 / 1.05);
  EXPECT_GT(r.failed, 23456);
  // Exponential: 1k, 2k, 4k, 8k, 16k pass, 32k fails; then a binary search
  // of a 2x bracket to 5%: log2(log(2) / log(1.05)) ~ 4 more.
  EXPECT_LE(r.trials.size(), 6u + 5u);
  EXPECT_EQ(r.trials[0].rate, 1000);
  EXPECT_EQ(r.trials[5].rate, 32000);
  EXPECT_FALSE(r.trials[5].passed);
}

TEST(CapacitySearchTest, FindsAThresholdFromAbove) {
  CapacitySearchOptions o{.start = 1e6, .precision = 0.02};
  const CapacitySearchResult r = SearchCapacity(o, Threshold(777));
  ExpectConsistent(o, r);
  EXPECT_TRUE(r.converged);
  EXPECT_LE(r.capacity, 777);
  EXPECT_GE(r.capacity, 777 / 1.02);
  EXPECT_FALSE(r.trials[0].passed);
}

TEST(CapacitySearchTest, ManyThresholdsAndStarts) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> log_rate(0, 7);
  for (int i = 0; i < 500; ++i) {
    const double capacity = std::pow(10, log_rate(rng)), start = std::pow(10, log_rate(rng));
    CapacitySearchOptions o{.start = start, .min_rate = 1, .max_rate = 1e7, .precision = 0.03};
    const CapacitySearchResult r = SearchCapacity(o, Threshold(capacity));
    ExpectConsistent(o, r);
    ASSERT_TRUE(r.converged) << capacity << " from " << start;
    if (capacity < 1) {
      EXPECT_EQ(r.capacity, 0);
    } else {
      EXPECT_LE(r.capacity, capacity);
      EXPECT_GE(r.capacity, capacity / 1.03) << capacity << " from " << start;
    }
    // Never more than the two exponential phases and the binary one need.
    EXPECT_LE(r.trials.size(), 2 + std::ceil(std::fabs(std::log2(capacity / start))) + 7) << capacity << " " << start;
  }
}

TEST(CapacitySearchTest, AboveTheMaximumIsTheMaximum) {
  CapacitySearchOptions o{.start = 1000, .max_rate = 5000};
  const CapacitySearchResult r = SearchCapacity(o, Threshold(1e9));
  ExpectConsistent(o, r);
  EXPECT_EQ(r.capacity, 5000);
  EXPECT_EQ(r.failed, 0);
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.trials.back().rate, 5000);  // 1000, 2000, 4000, then 5000, not 8000
}

TEST(CapacitySearchTest, NothingPassesIsZero) {
  CapacitySearchOptions o{.start = 1000, .min_rate = 10};
  const CapacitySearchResult r = SearchCapacity(o, [](double) { return false; });
  ExpectConsistent(o, r);
  EXPECT_EQ(r.capacity, 0);
  EXPECT_EQ(r.failed, 10);
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.trials.size(), 8u);  // 1000, 500, ..., 15.6, 10
}

TEST(CapacitySearchTest, EveryRepeatMustPass) {
  // Passes below 3000; above, one trial in three fails: with three repeats a
  // rate there is rejected, with one it may slip through.
  int calls = 0;
  auto flaky = [&calls](double rate) { return rate <= 3000 || ++calls % 3 != 0; };
  CapacitySearchOptions o{.start = 1000, .precision = 0.05, .repeats = 3};
  const CapacitySearchResult r = SearchCapacity(o, flaky);
  ExpectConsistent(o, r);
  EXPECT_LE(r.capacity, 3000);
  EXPECT_GE(r.capacity, 3000 / 1.05);
  // A failed rate stops at its first failure: no trial after it at that rate.
  for (size_t i = 0; i + 1 < r.trials.size(); ++i) {
    if (!r.trials[i].passed) {
      EXPECT_NE(r.trials[i + 1].rate, r.trials[i].rate);
    }
  }
}

TEST(CapacitySearchTest, TheBudgetBoundsTheTrials) {
  CapacitySearchOptions o{.start = 1, .max_rate = 1e9, .precision = 1e-6, .repeats = 2, .max_trials = 9};
  const CapacitySearchResult r = SearchCapacity(o, Threshold(5e5));
  ExpectConsistent(o, r);
  EXPECT_LE(r.trials.size(), 9u);
  EXPECT_FALSE(r.converged);  // 2 trials a rate: 1, 2, 4, 8 passed; no room for 16
  EXPECT_EQ(r.capacity, 8);
  EXPECT_EQ(r.failed, 0);
  // Not even one rate's repeats: no trial at all.
  CapacitySearchOptions none{.repeats = 3, .max_trials = 2};
  EXPECT_TRUE(SearchCapacity(none, Threshold(10)).trials.empty());
}

// A system that gets worse with time (a leak): later trials fail at rates
// that passed before. The result stays consistent: the capacity is a rate
// that passed, below every rate that failed after it.
TEST(CapacitySearchTest, NonMonotonicStaysConsistent) {
  int n = 0;
  auto decaying = [&n](double rate) { return rate <= 100000.0 / (1 + n++); };
  CapacitySearchOptions o{.start = 1000};
  const CapacitySearchResult r = SearchCapacity(o, decaying);
  ExpectConsistent(o, r);
  EXPECT_GT(r.capacity, 0);
}

}  // namespace
}  // namespace sctpdp
