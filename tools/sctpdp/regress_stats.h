// The statistics of `sctpdp regress`: one metric measured on two sides (two
// kernels), runs grouped by the boot they came from, compared the way a
// kernel developer can trust enough to bisect on.
//
// Why grouped by boot: runs within one boot share its page layout, timer
// placement and whatever the host did meanwhile, so they vary less than
// boots do. Treating every run as independent would make intervals too
// narrow; the bootstrap here resamples boots first, then runs within each
// chosen boot (a two-stage bootstrap), so between-boot spread is in the
// interval. With a single boot per side it falls back to resampling runs.
#ifndef SCTPDP_TOOLS_SCTPDP_REGRESS_STATS_H_
#define SCTPDP_TOOLS_SCTPDP_REGRESS_STATS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace sctpdp {

// One side's samples of one metric: boots[i] holds the runs of its i-th boot
// (warm-up runs already dropped).
struct Samples {
  std::vector<std::vector<double>> boots;
  int runs() const;
  std::vector<double> All() const;
};

enum class Direction { kHigherIsBetter, kLowerIsBetter };
enum class Verdict { kNoChange, kImprovement, kRegression, kUnstable };
const char* VerdictName(Verdict verdict);  // "no change", "improvement", ...

// What one side's samples look like. RSDs are fractions (0.05 = 5%).
struct Spread {
  double median = 0;
  double rsd = 0;               // stddev / mean over every run
  double between_boot_rsd = 0;  // stddev of the boots' means / grand mean (0 with one boot)
  double within_boot_rsd = 0;   // pooled stddev of runs about their boot's mean / grand mean
  int boots = 0;
  int runs = 0;
};

struct CompareLimits {
  double min_change = 0.01;  // changes under this are never flagged
  double max_rsd = 0.20;     // a side spreading more than this: unstable
  // Fewer boots than this on a side: unstable. With one or two boots the
  // spread between boots, usually the larger part on a guest, is unknown;
  // an interval from them would be too narrow (lkp-tests also wants at
  // least 3 samples before it calls a change).
  int min_boots = 3;
  double confidence = 0.95;  // of the change's interval
  // How many metrics one run compares. The intervals are simultaneous
  // (Bonferroni): each has confidence 1 - (1 - confidence) / comparisons,
  // so an A/A run of 16 metrics flags any of them with at most 5% chance,
  // not 1 - 0.95^16 = 56%.
  int comparisons = 1;
  int iterations = 10000;    // bootstrap resamples
  uint64_t seed = 1;         // the bootstrap's random stream (results are reproducible)
};

// B against A for one metric. Changes are fractions of A's median
// (median(B) / median(A) - 1; +0.10 = B is 10% higher).
struct Comparison {
  Spread a, b;
  bool defined = false;  // false when A's median is 0 (no change can be stated)
  double change = 0;
  double ci_low = 0, ci_high = 0;  // the change's `confidence` interval
  // The smallest change this run could have told from noise: the interval's
  // half-width, never under min_change.
  double detectable = 0;
  Verdict verdict = Verdict::kNoChange;
};

double Median(std::vector<double> values);
Spread Describe(const Samples& samples);

// The verdict: unstable when either side's RSD exceeds max_rsd, has fewer
// than min_boots boots, or A's median is 0; otherwise a regression or improvement (by `direction`) when
// the interval excludes 0 and the change is at least min_change; otherwise
// no change. REQUIRES: both sides have at least one run.
Comparison Compare(const Samples& a, const Samples& b, Direction direction, const CompareLimits& limits);

}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_REGRESS_STATS_H_
