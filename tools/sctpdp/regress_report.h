// The report of `sctpdp regress`: every boot's results turned into one
// comparison per (bench cell, metric, side against the first side), the
// correctness suite as fail:runs per test and side, the console findings;
// printed as a table a kernel developer reads at once, and as JSON (which
// tools/plots/regress_plot.py draws, so an old run can be redrawn).
#ifndef SCTPDP_TOOLS_SCTPDP_REGRESS_REPORT_H_
#define SCTPDP_TOOLS_SCTPDP_REGRESS_REPORT_H_

#include <cstdio>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tools/sctpdp/regress_boot.h"
#include "tools/sctpdp/regress_side.h"
#include "tools/sctpdp/regress_stats.h"

namespace sctpdp {

struct MetricRow {
  std::string cell;    // BenchCell::Key()
  std::string metric;  // one of RegressMetrics()
  std::string side;    // compared against the first side
  Samples a, b;
  Comparison comparison;
};

struct TestRow {
  std::string test, side;
  int failed = 0, runs = 0;
};

struct Report {
  std::vector<Side> sides;  // sides[0] is the baseline
  std::vector<BootResult> boots;
  std::vector<MetricRow> rows;
  std::vector<TestRow> tests;
  CompareLimits limits;
  int runs_per_boot = 0;
};

Direction MetricDirection(const std::string& metric);

// Compares every side with the first. Warm-up runs (repeat 0) are dropped; a
// metric that is 0 in every run of both sides (round trips in sink mode) is
// left out.
Report Analyze(const std::vector<Side>& sides, const std::vector<BootResult>& boots, const CompareLimits& limits,
               int runs_per_boot);

// True when some row's verdict is unstable.
bool AnyUnstable(const Report& report);

void PrintReport(const Report& report, FILE* out);
nlohmann::json ReportJson(const Report& report);

}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_REGRESS_REPORT_H_
