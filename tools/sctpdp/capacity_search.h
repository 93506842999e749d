// The capacity search of `sctpdp bench --modes=latency`: the highest offered
// rate at which a trial passes, in the spirit of RFC 9971 (MLRsearch): trials
// of a set duration at an offered load, a load passing only when every one
// of its repeats does (zero loss, a goal exceed ratio of 0), an exponential
// phase that brackets the capacity and a binary phase that narrows it to a
// set relative width. Pure logic: the trial is a function, so the search is
// tested on the host over fakes (capacity_search_test.cc) and driven in the
// guest by bench_latency.cc.
//
// Not MLRsearch itself: one trial duration throughout (no shorter early
// phases), no loss-ratio goals above zero, and a load that failed once is
// an upper bound for the rest of the search, even if a retrial would pass.
#ifndef SCTPDP_TOOLS_SCTPDP_CAPACITY_SEARCH_H_
#define SCTPDP_TOOLS_SCTPDP_CAPACITY_SEARCH_H_

#include <functional>
#include <vector>

namespace sctpdp {

struct CapacitySearchOptions {
  double start = 1000;      // first offered rate (messages/s)
  double min_rate = 1;      // a failure here ends the search: capacity 0
  double max_rate = 1e7;    // a pass here ends the search: capacity max_rate
  double precision = 0.05;  // stop once (failed - passed) / passed <= this
  int repeats = 1;          // trials per rate; the rate passes only if all pass
  int max_trials = 50;      // at most this many trials in all
};

struct CapacityTrial {
  double rate = 0;
  bool passed = false;
};

struct CapacitySearchResult {
  double capacity = 0;   // the highest rate that passed (0: none did)
  double failed = 0;     // the lowest rate that failed above it (0: none did, up to max_rate)
  bool converged = false;  // the bracket is within `precision` (or hit min_rate or max_rate)
  std::vector<CapacityTrial> trials;  // in the order run
};

// One trial at `rate`: true when it passed (every message arrived and every
// echo came back).
using CapacityTrialFn = std::function<bool(double rate)>;

// REQUIRES: 0 < min_rate <= max_rate, precision > 0, repeats >= 1.
CapacitySearchResult SearchCapacity(const CapacitySearchOptions& options, const CapacityTrialFn& trial);

}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_CAPACITY_SEARCH_H_
