#include "tools/sctpdp/capacity_search.h"

#include <algorithm>
#include <cmath>

namespace sctpdp {
namespace {

class Search {
 public:
  Search(const CapacitySearchOptions& o, const CapacityTrialFn& trial) : o_(o), trial_(trial) {}

  CapacitySearchResult Run() {
    const double rate = std::clamp(o_.start, o_.min_rate, o_.max_rate);
    if (!Budget()) return std::move(result_);
    if (Passes(rate)) {
      Up(rate);
    } else {
      Down(rate);
    }
    Narrow();
    return std::move(result_);
  }

 private:
  // Room for every repeat of one more rate.
  bool Budget() const { return static_cast<int>(result_.trials.size()) + o_.repeats <= o_.max_trials; }

  // `repeats` trials at `rate`, stopping at the first failure; records the
  // rate as the new lower or upper bound. REQUIRES: Budget().
  bool Passes(double rate) {
    bool passed = true;
    for (int r = 0; r < o_.repeats && passed; ++r) {
      passed = trial_(rate);
      result_.trials.push_back({rate, passed});
    }
    if (passed) {
      result_.capacity = rate;
    } else {
      result_.failed = rate;
    }
    return passed;
  }

  // Exponential phase from a pass: double until a failure or max_rate.
  void Up(double rate) {
    while (rate < o_.max_rate && Budget()) {
      rate = std::min(rate * 2, o_.max_rate);
      if (!Passes(rate)) return;
    }
    if (result_.capacity >= o_.max_rate) result_.converged = true;
  }

  // Exponential phase from a failure: halve until a pass or min_rate.
  void Down(double rate) {
    while (rate > o_.min_rate && Budget()) {
      rate = std::max(rate / 2, o_.min_rate);
      if (Passes(rate)) return;
    }
    if (result_.capacity == 0 && result_.failed <= o_.min_rate) result_.converged = true;
  }

  // Binary phase: the geometric middle of the bracket (the arithmetic one,
  // within a factor of two) until it is within `precision`.
  void Narrow() {
    if (result_.capacity == 0 || result_.failed == 0) return;
    while (true) {
      const double lo = result_.capacity, hi = result_.failed;
      if ((hi - lo) / lo <= o_.precision) {
        result_.converged = true;
        return;
      }
      if (!Budget()) return;
      Passes(std::sqrt(lo * hi));
    }
  }

  const CapacitySearchOptions& o_;
  const CapacityTrialFn& trial_;
  CapacitySearchResult result_;
};

}  // namespace

CapacitySearchResult SearchCapacity(const CapacitySearchOptions& options, const CapacityTrialFn& trial) {
  return Search(options, trial).Run();
}

}  // namespace sctpdp
