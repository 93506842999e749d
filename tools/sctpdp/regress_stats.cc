#include "tools/sctpdp/regress_stats.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace sctpdp {
namespace {

double Mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0 : sum / v.size();
}

// Sample standard deviation (n - 1); 0 for fewer than two values.
double StdDev(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double mean = Mean(v);
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  return std::sqrt(ss / (v.size() - 1));
}

double Fraction(double part, double whole) { return whole != 0 ? part / std::fabs(whole) : 0; }

// One two-stage resample of `s`: boots with replacement, then runs with
// replacement within each chosen boot. Returns its median.
double ResampledMedian(const Samples& s, std::mt19937_64& rng, std::vector<double>& scratch) {
  scratch.clear();
  const size_t boots = s.boots.size();
  for (size_t i = 0; i < boots; ++i) {
    const std::vector<double>& boot = s.boots[boots > 1 ? rng() % boots : 0];
    for (size_t j = 0; j < boot.size(); ++j) scratch.push_back(boot[rng() % boot.size()]);
  }
  return Median(scratch);
}

}  // namespace

int Samples::runs() const {
  int n = 0;
  for (const auto& b : boots) n += static_cast<int>(b.size());
  return n;
}

std::vector<double> Samples::All() const {
  std::vector<double> all;
  for (const auto& b : boots) all.insert(all.end(), b.begin(), b.end());
  return all;
}

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kNoChange: return "no change";
    case Verdict::kImprovement: return "improvement";
    case Verdict::kRegression: return "regression";
    case Verdict::kUnstable: return "unstable";
  }
  return "?";
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + mid, values.end());
  if (values.size() % 2 == 1) return values[mid];
  const double upper = values[mid];
  return (*std::max_element(values.begin(), values.begin() + mid) + upper) / 2;
}

Spread Describe(const Samples& samples) {
  Spread s;
  const std::vector<double> all = samples.All();
  const double mean = Mean(all);
  s.median = Median(all);
  s.rsd = Fraction(StdDev(all), mean);
  s.runs = static_cast<int>(all.size());
  std::vector<double> boot_means;
  double within_ss = 0;
  int within_df = 0;
  for (const auto& boot : samples.boots) {
    if (boot.empty()) continue;
    const double m = Mean(boot);
    boot_means.push_back(m);
    for (double x : boot) within_ss += (x - m) * (x - m);
    within_df += static_cast<int>(boot.size()) - 1;
  }
  s.boots = static_cast<int>(boot_means.size());
  s.between_boot_rsd = Fraction(StdDev(boot_means), mean);
  s.within_boot_rsd = within_df > 0 ? Fraction(std::sqrt(within_ss / within_df), mean) : 0;
  return s;
}

Comparison Compare(const Samples& a, const Samples& b, Direction direction, const CompareLimits& limits) {
  Comparison c;
  c.a = Describe(a);
  c.b = Describe(b);
  if (c.a.median == 0) {
    c.verdict = Verdict::kUnstable;
    return c;
  }
  c.defined = true;
  c.change = c.b.median / c.a.median - 1;
  std::mt19937_64 rng(limits.seed);
  std::vector<double> changes, scratch;
  changes.reserve(limits.iterations);
  for (int i = 0; i < limits.iterations; ++i) {
    const double ma = ResampledMedian(a, rng, scratch);
    const double mb = ResampledMedian(b, rng, scratch);
    changes.push_back(ma != 0 ? mb / ma - 1 : c.change);
  }
  std::sort(changes.begin(), changes.end());
  const double tail = (1 - limits.confidence) / 2 / std::max(1, limits.comparisons);
  const size_t n = changes.size();
  c.ci_low = changes[std::min(n - 1, static_cast<size_t>(std::floor(tail * n)))];
  c.ci_high = changes[std::min(n - 1, static_cast<size_t>(std::ceil((1 - tail) * n)) - 1)];
  c.detectable = std::max(limits.min_change, (c.ci_high - c.ci_low) / 2);
  if (c.a.rsd > limits.max_rsd || c.b.rsd > limits.max_rsd || c.a.boots < limits.min_boots ||
      c.b.boots < limits.min_boots) {
    c.verdict = Verdict::kUnstable;
  } else if (std::fabs(c.change) >= limits.min_change && (c.ci_low > 0 || c.ci_high < 0)) {
    const bool higher = c.change > 0;
    c.verdict = higher == (direction == Direction::kHigherIsBetter) ? Verdict::kImprovement : Verdict::kRegression;
  }
  return c;
}

}  // namespace sctpdp
