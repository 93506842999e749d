#include "tools/sctpdp/regress_report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace sctpdp {
namespace {

// cell -> metric -> one vector of runs per boot of one side.
using SideSamples = std::map<std::string, std::map<std::string, Samples>>;

SideSamples Collect(const std::string& side, const std::vector<BootResult>& boots) {
  SideSamples out;
  for (const BootResult& boot : boots) {
    if (boot.side != side) continue;
    std::map<std::string, std::map<std::string, std::vector<double>>> runs;
    for (const BenchCell& cell : boot.cells) {
      if (cell.repeat == 0) continue;  // the warm-up run
      for (const auto& [metric, value] : cell.metrics) runs[cell.Key()][metric].push_back(value);
    }
    for (auto& [cell, metrics] : runs) {
      for (auto& [metric, values] : metrics) out[cell][metric].boots.push_back(std::move(values));
    }
  }
  return out;
}

bool AllZero(const Samples& s) {
  for (double v : s.All()) {
    if (v != 0) return false;
  }
  return true;
}

std::vector<TestRow> SuiteRows(const std::vector<Side>& sides, const std::vector<BootResult>& boots) {
  std::vector<TestRow> rows;
  for (const Side& side : sides) {
    std::map<std::string, TestRow> by_test;
    for (const BootResult& boot : boots) {
      if (boot.side != side.name) continue;
      for (const auto& [test, exit] : boot.tests) {
        TestRow& row = by_test[test];
        row.test = test;
        row.side = side.name;
        row.runs++;
        if (exit != 0) row.failed++;
      }
    }
    for (auto& [test, row] : by_test) rows.push_back(row);
  }
  return rows;
}

std::string Percent(double fraction) { return absl::StrFormat("%+.1f%%", fraction * 100); }

// A value in the table: 4 significant digits, no exponent.
std::string Value(double v) {
  if (v == 0) return "0";
  const int digits = std::max(0, 3 - static_cast<int>(std::floor(std::log10(std::fabs(v)))));
  return absl::StrFormat("%.*f", std::min(digits, 4), v);
}

// "±5.2% (4.0|2.1)": RSD over every run, then between boots | within a boot.
std::string SpreadText(const Spread& s) {
  return absl::StrFormat("±%.1f%% (%.1f|%.1f)", s.rsd * 100, s.between_boot_rsd * 100, s.within_boot_rsd * 100);
}

void PrintMetrics(const Report& report, const std::string& side, FILE* out) {
  const std::string& base = report.sides[0].name;
  std::fprintf(out, "%-24s %-21s %10s %-20s %-26s %10s %-20s %7s  %s\n", "cell", "metric", base.c_str(),
               "  ±%sd (boots|runs)", "  %change [95% CI]", side.c_str(), "  ±%sd (boots|runs)", "detect", "verdict");
  for (const MetricRow& row : report.rows) {
    if (row.side != side) continue;
    const Comparison& c = row.comparison;
    const std::string change =
        c.defined ? absl::StrCat(Percent(c.change), " [", Percent(c.ci_low), ", ", Percent(c.ci_high), "]") : "-";
    std::fprintf(out, "%-24s %-21s %10s   %-18s   %-24s %10s   %-18s %6.1f%%  %s\n", row.cell.c_str(),
                 row.metric.c_str(), Value(c.a.median).c_str(), SpreadText(c.a).c_str(), change.c_str(),
                 Value(c.b.median).c_str(), SpreadText(c.b).c_str(), c.detectable * 100, VerdictName(c.verdict));
  }
}

void PrintSuite(const Report& report, FILE* out) {
  if (report.tests.empty()) return;
  std::fprintf(out, "\ncorrectness suite (fail:runs)\n%-26s", "test");
  for (const Side& s : report.sides) std::fprintf(out, " %12s", s.name.c_str());
  std::fprintf(out, "\n");
  std::set<std::string> tests;
  for (const TestRow& t : report.tests) tests.insert(t.test);
  for (const std::string& test : tests) {
    std::fprintf(out, "%-26s", test.c_str());
    for (const Side& s : report.sides) {
      std::string cell = "-";
      for (const TestRow& t : report.tests) {
        if (t.test == test && t.side == s.name) cell = absl::StrCat(t.failed, ":", t.runs);
      }
      std::fprintf(out, " %12s", cell.c_str());
    }
    std::fprintf(out, "\n");
  }
}

void PrintBoots(const Report& report, FILE* out) {
  std::fprintf(out, "\nboots (in the order run)\n");
  for (const BootResult& b : report.boots) {
    std::fprintf(out, "  #%-2d %-10s %-26s %5.0f s  ring %s%s%s%s\n", b.index, b.side.c_str(), b.release.c_str(),
                 b.seconds, b.ring_flags.empty() ? "?" : b.ring_flags.c_str(),
                 b.resets == 0 ? "" : absl::StrCat("  ", b.resets, " silent reset(s) at boot, booted again").c_str(),
                 b.console.empty() ? "" : absl::StrCat("  console: ", b.console.size(), " kernel problem lines").c_str(),
                 b.why.empty() ? "" : ("  " + b.why).c_str());
    for (const std::string& line : b.console) std::fprintf(out, "      | %s\n", line.c_str());
  }
  for (const Side& s : report.sides) {
    for (const BootResult& b : report.boots) {
      if (b.side != s.name || b.io_uring_features.empty()) continue;
      std::fprintf(out, "  %s io_uring: %s\n", s.name.c_str(), b.io_uring_features.c_str());
      break;
    }
  }
}

nlohmann::json SpreadJson(const Spread& s, const Samples& samples) {
  return {{"median", s.median},         {"rsd", s.rsd},   {"between_boot_rsd", s.between_boot_rsd},
          {"within_boot_rsd", s.within_boot_rsd}, {"boots", s.boots}, {"runs", s.runs},
          {"samples", samples.boots}};
}

nlohmann::json BootJson(const BootResult& b) {
  nlohmann::json tests = nlohmann::json::object();
  for (const auto& [test, exit] : b.tests) tests[test] = exit;
  return {{"index", b.index},           {"side", b.side},
          {"release", b.release},       {"io_uring_features", b.io_uring_features},
          {"ring_flags", b.ring_flags}, {"sctpvm_exit", b.sctpvm_exit},
          {"resets", b.resets},
          {"seconds", b.seconds},       {"tests", tests},
          {"bench_exit", b.bench_exit}, {"console", b.console},
          {"untestable", b.untestable}, {"crashed", b.crashed},
          {"why", b.why},               {"dir", b.dir}};
}

}  // namespace

Direction MetricDirection(const std::string& metric) {
  return metric == "messages_per_s" ? Direction::kHigherIsBetter : Direction::kLowerIsBetter;
}

Report Analyze(const std::vector<Side>& sides, const std::vector<BootResult>& boots, const CompareLimits& limits,
               int runs_per_boot) {
  Report report{sides, boots, {}, SuiteRows(sides, boots), limits, runs_per_boot};
  const SideSamples base = Collect(sides[0].name, boots);
  for (size_t i = 1; i < sides.size(); ++i) {
    const SideSamples other = Collect(sides[i].name, boots);
    for (const auto& [cell, metrics] : base) {
      for (const std::string& metric : RegressMetrics()) {
        auto a = metrics.find(metric);
        auto oc = other.find(cell);
        if (a == metrics.end() || oc == other.end() || !oc->second.count(metric)) continue;
        const Samples& b = oc->second.at(metric);
        if (a->second.runs() == 0 || b.runs() == 0 || (AllZero(a->second) && AllZero(b))) continue;
        report.rows.push_back({cell, metric, sides[i].name, a->second, b, {}});
      }
    }
  }
  // Simultaneous intervals over every metric this run compares.
  report.limits.comparisons = std::max<int>(1, report.rows.size());
  for (MetricRow& row : report.rows) {
    row.comparison = Compare(row.a, row.b, MetricDirection(row.metric), report.limits);
  }
  return report;
}

bool AnyUnstable(const Report& report) {
  return std::any_of(report.rows.begin(), report.rows.end(),
                     [](const MetricRow& r) { return r.comparison.verdict == Verdict::kUnstable; });
}

void PrintReport(const Report& report, FILE* out) {
  for (size_t i = 1; i < report.sides.size(); ++i) {
    const Side& a = report.sides[0];
    const Side& b = report.sides[i];
    std::fprintf(out,
                 "\n%s (%s) against %s (%s): medians; ±%%sd over every run (between boots | within a boot); "
                 "95%% intervals simultaneous over the %d metrics compared\n",
                 b.name.c_str(), b.release.c_str(), a.name.c_str(), a.release.c_str(), report.limits.comparisons);
    PrintMetrics(report, b.name, out);
  }
  std::vector<double> detectable;
  for (const MetricRow& r : report.rows) detectable.push_back(r.comparison.detectable);
  if (!detectable.empty()) {
    std::sort(detectable.begin(), detectable.end());
    std::fprintf(out,
                 "\nsmallest change this run could detect (half its 95%% interval, at least %.0f%%): "
                 "%.1f%% .. %.1f%% (median %.1f%%); unstable above %.0f%% RSD\n",
                 report.limits.min_change * 100, detectable.front() * 100, detectable.back() * 100,
                 Median(detectable) * 100, report.limits.max_rsd * 100);
  }
  PrintSuite(report, out);
  PrintBoots(report, out);
}

nlohmann::json ReportJson(const Report& report) {
  nlohmann::json j = {{"type", "regress"},
                      {"version", 1},
                      {"baseline", report.sides[0].name},
                      {"runs_per_boot", report.runs_per_boot},
                      {"limits",
                       {{"min_change", report.limits.min_change},
                        {"max_rsd", report.limits.max_rsd},
                        {"min_boots", report.limits.min_boots},
                        {"confidence", report.limits.confidence},
                        {"comparisons", report.limits.comparisons},
                        {"iterations", report.limits.iterations},
                        {"seed", report.limits.seed}}}};
  for (const Side& s : report.sides) {
    j["sides"].push_back({{"name", s.name}, {"kernel", s.kernel}, {"image", s.image}, {"modules", s.modules},
                          {"release", s.release}, {"append", s.append}, {"sysctls", s.sysctls}, {"setup", s.setup}});
  }
  for (const BootResult& b : report.boots) j["boots"].push_back(BootJson(b));
  j["metrics"] = nlohmann::json::array();
  for (const MetricRow& r : report.rows) {
    const Comparison& c = r.comparison;
    j["metrics"].push_back({{"cell", r.cell},
                            {"metric", r.metric},
                            {"side", r.side},
                            {"higher_is_better", MetricDirection(r.metric) == Direction::kHigherIsBetter},
                            {"a", SpreadJson(c.a, r.a)},
                            {"b", SpreadJson(c.b, r.b)},
                            {"change", c.defined ? nlohmann::json(c.change) : nlohmann::json()},
                            {"ci", {c.ci_low, c.ci_high}},
                            {"detectable", c.detectable},
                            {"verdict", VerdictName(c.verdict)}});
  }
  j["suite"] = nlohmann::json::array();
  for (const TestRow& t : report.tests) {
    j["suite"].push_back({{"test", t.test}, {"side", t.side}, {"failed", t.failed}, {"runs", t.runs}});
  }
  return j;
}

}  // namespace sctpdp
