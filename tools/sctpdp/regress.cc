// `sctpdp regress`: the same correctness suite and bench on two or more
// kernels ("sides"), compared with statistics a kernel developer can trust
// enough to bisect on.
//
// Noise control: boots run in blocks, each block one boot of every side in
// a random order (A B | B A | ...), so drift on the host (the machine is
// shared) falls on both sides alike; each boot runs every bench cell
// --runs times after a warm-up run that is dropped. When a metric's spread
// is above --max-rsd after --boots blocks, more blocks run, up to
// --max-boots, and then it is reported unstable.
//
// Per boot: `uname -r` must be the kernel asked for; the io_uring features
// and ring flags are recorded; the guest test binaries run (fail:runs per
// test); the console is scanned for oops/WARN/BUG/KASAN/lockdep lines; then
// `sctpdp bench --json`.
#include "tools/sctpdp/regress.h"

#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tools/sctpdp/flags.h"
#include "tools/sctpdp/regress_boot.h"
#include "tools/sctpdp/regress_report.h"
#include "tools/sctpdp/regress_side.h"
#include "tools/sctpdp/sctpvm_path.h"

namespace sctpdp {
namespace {

constexpr const char* kExitCodes =
    "Exit codes: 0 no regression; 1 a regression beyond --fail-on, or a side broke (a test failed, a kernel\n"
    "problem on the console, the guest died) where the first side did not; 2 bad flag or value; 125 a side\n"
    "could not be tested (no such kernel, no SCTP, did not boot, wrong kernel booted, setup failed, no\n"
    "bench sample: git bisect's skip); 128 a watched metric stayed unstable (git bisect run stops).\n";

struct Options {
  int64_t boots = 3, max_boots = 5, runs = 3, seed = 0, cpus = 2, mem_mib = 1024;
  absl::Duration boot_timeout = absl::Minutes(30), duration = absl::Seconds(3);
  std::string modes = "echo,sink", sizes = "1024", mixes = "8/64", engines = "uring,epoll";
  std::string suite = "default", fail_on = "any:1", out;
  double max_rsd_pct = 20, min_change_pct = 1;
  bool plot = true;
};

struct FailOn {
  std::string metric;  // or "any"
  double percent = 0;
};

FlagParser GlobalParser(Options* o) {
  FlagParser p(
      "usage: sctpdp regress [flags] [--side=NAME --kernel=K [side flags]]...\n"
      "Boots each side's kernel in the SCTP guest several times, in random interleaved order, runs the guest\n"
      "correctness suite and `sctpdp bench` in each boot, and compares every side with the first: medians,\n"
      "%change with its 95% interval (two-stage bootstrap over boots and runs), RSD, and a verdict per\n"
      "metric. No --side: the two kernels tools/setup.sh installed (6.1, then 6.12). Writes OUT/regress.json\n"
      "and one picture per metric (tools/plots/regress_plot.py).");
  p.Int("boots", &o->boots, 1, 50, "boots per side, interleaved (a verdict needs 3; fewer: unstable)");
  p.Int("max-boots", &o->max_boots, 1, 100, "cap on boots per side while a metric is unstable");
  p.Int("runs", &o->runs, 0, 50, "bench runs per boot and cell, after one warm-up run (0: suite only)");
  p.Int("seed", &o->seed, 0, INT64_MAX, "boot order and bootstrap seed (0: from the clock; printed)");
  p.Int("cpus", &o->cpus, 1, 64, "guest vCPUs (every side)");
  p.Int("mem", &o->mem_mib, 256, 65536, "guest memory in MiB (every side)");
  p.Duration("boot-timeout", &o->boot_timeout, "a boot that runs longer is a hang");
  p.Duration("duration", &o->duration, "bench: load duration per run");
  p.String("modes", &o->modes, "bench: comma-separated echo,sink,paced");
  p.String("sizes", &o->sizes, "bench: comma-separated message sizes");
  p.String("mixes", &o->mixes, "bench: comma-separated HOT/TOTAL association mixes");
  p.String("engines", &o->engines, "bench: comma-separated uring,epoll,threads");
  p.String("suite", &o->suite,
           "guest test binaries: 'default' (the workspace's bazel-bin/tests/*_bin), 'none', or comma-separated paths");
  p.String("fail-on", &o->fail_on,
           "METRIC:PERCENT,...: exit 1 on a regression of at least PERCENT in METRIC (messages_per_s, "
           "cpu_s_per_million, syscalls_per_message, rtt_p50_us, rtt_p99_us, or any)");
  p.Double("max-rsd", &o->max_rsd_pct, 0.1, 1000, "percent: a side spreading more is unstable");
  p.Double("min-change", &o->min_change_pct, 0, 100, "percent: smaller changes are never flagged");
  p.String("out", &o->out, "output directory (default: regress-out/DATE-TIME under the working directory)");
  p.Bool("plot", &o->plot, "draw OUT/regress-METRIC.{png,svg} (python3-matplotlib)");
  return p;
}

absl::StatusOr<std::vector<FailOn>> ParseFailOn(const std::string& text) {
  std::vector<FailOn> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::vector<std::string> mp = absl::StrSplit(part, ':');
    FailOn f;
    const auto& metrics = RegressMetrics();
    if (mp.size() != 2 || !absl::SimpleAtod(mp[1], &f.percent) || f.percent < 0 ||
        (mp[0] != "any" && std::find(metrics.begin(), metrics.end(), mp[0]) == metrics.end())) {
      return absl::InvalidArgumentError(absl::StrCat("--fail-on: bad '", part, "' (want METRIC:PERCENT, METRIC one of ",
                                                     absl::StrJoin(metrics, ", "), ", any)"));
    }
    f.metric = mp[0];
    out.push_back(f);
  }
  return out;
}

absl::Status CheckChoices(const char* flag, const std::string& value, const std::vector<std::string>& known) {
  for (absl::string_view v : absl::StrSplit(value, ',')) {
    if (std::find(known.begin(), known.end(), v) == known.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, ": unknown '", v, "' (want ", absl::StrJoin(known, ","), ")"));
    }
  }
  return absl::OkStatus();
}

// The bench's own checks, made here so a bad value fails at once, not in the guest.
absl::Status CheckBenchFlags(const Options& o) {
  if (absl::Status s = CheckChoices("modes", o.modes, {"echo", "sink", "paced"}); !s.ok()) return s;
  if (absl::Status s = CheckChoices("engines", o.engines, {"uring", "epoll", "threads"}); !s.ok()) return s;
  for (absl::string_view size : absl::StrSplit(o.sizes, ',')) {
    absl::StatusOr<uint64_t> n = ParseSize(std::string(size));
    if (!n.ok() || *n == 0 || *n > (1 << 20)) return absl::InvalidArgumentError(absl::StrCat("--sizes: bad '", size, "'"));
  }
  for (absl::string_view mix : absl::StrSplit(o.mixes, ',')) {
    std::vector<std::string> hv = absl::StrSplit(mix, '/');
    int hot = 0, total = 0;
    if (hv.size() != 2 || !absl::SimpleAtoi(hv[0], &hot) || !absl::SimpleAtoi(hv[1], &total) || hot < 0 ||
        total < 1 || hot > total || total > 10000) {
      return absl::InvalidArgumentError(absl::StrCat("--mixes: bad '", mix, "' (want HOT/TOTAL)"));
    }
  }
  if (o.max_boots < o.boots) return absl::InvalidArgumentError("--max-boots must be at least --boots");
  return absl::OkStatus();
}

std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) != nullptr ? buf : "";
}

std::string Workspace() {
  const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  return ws != nullptr ? ws : RealPath(".");
}

// The guest test binaries: absolute paths, each executable.
absl::StatusOr<std::vector<std::string>> SuitePaths(const std::string& suite) {
  std::vector<std::string> out;
  if (suite == "none") return out;
  std::vector<std::string> given;
  if (suite == "default") {
    // Every sctp_guest_test binary of //tests (tools/sctp.bzl names them NAME_bin).
    glob_t g;
    if (glob((Workspace() + "/bazel-bin/tests/*_bin").c_str(), 0, nullptr, &g) == 0) {
      given.assign(g.gl_pathv, g.gl_pathv + g.gl_pathc);
    }
    globfree(&g);
    if (given.empty()) {
      return absl::InvalidArgumentError(
          "--suite: no guest test binaries in bazel-bin/tests (bazel build -c opt //tests:all; or --suite=none)");
    }
  } else {
    given = absl::StrSplit(suite, ',', absl::SkipEmpty());
  }
  for (const std::string& t : given) {
    const std::string path = RealPath(t);
    if (path.empty() || access(path.c_str(), X_OK) != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--suite: no test binary ", t,
          suite == "default" ? " (build them: bazel build -c opt //tests:all; or --suite=none)" : ""));
    }
    out.push_back(path);
  }
  return out;
}

std::vector<std::string> BenchArgs(const Options& o) {
  if (o.runs == 0) return {};
  return {"--modes=" + o.modes, "--sizes=" + o.sizes, "--mixes=" + o.mixes, "--engines=" + o.engines,
          "--duration=" + absl::FormatDuration(o.duration), absl::StrCat("--repeats=", o.runs + 1)};
}

std::string DefaultOutDir() {
  return absl::StrCat(Workspace(), "/regress-out/",
                      absl::FormatTime("%Y%m%d-%H%M%S", absl::Now(), absl::LocalTimeZone()));
}

// Makes `dir` and its parents; returns its absolute path, or "" on failure.
std::string MakeDirs(const std::string& dir) {
  std::string at;
  for (absl::string_view part : absl::StrSplit(dir, '/')) {
    at += std::string(part) + "/";
    if (!part.empty()) mkdir(at.c_str(), 0755);
  }
  return RealPath(dir);
}

// One line per boot on stderr, as it ends.
void Progress(const BootResult& r, size_t done, size_t planned) {
  int passed = 0;
  for (const auto& t : r.tests) passed += t.second == 0;
  std::fprintf(stderr, "regress: boot %zu of %zu+ (%s, %s): %.0f s, suite %d/%zu passed, %zu bench runs%s%s%s\n",
               done, planned, r.side.c_str(), r.release.empty() ? "?" : r.release.c_str(), r.seconds, passed,
               r.tests.size(), r.cells.size(), r.console.empty() ? "" : ", KERNEL PROBLEMS on the console",
               r.bench_exit > 0 ? ", bench failed" : "", r.why.empty() ? "" : (": " + r.why).c_str());
}

struct Run {
  Options options;
  std::vector<Side> sides;
  BootPlan plan;
  CompareLimits limits;
  std::vector<FailOn> fail_on;
};

// Boots in interleaved blocks until --boots blocks ran and nothing is
// unstable, or --max-boots. Returns the side that could not be tested, if any.
std::optional<BootResult> RunBoots(const Run& run, std::vector<BootResult>* boots) {
  std::mt19937_64 rng(run.limits.seed);
  const size_t n = run.sides.size();
  for (int64_t block = 0; block < run.options.max_boots; ++block) {
    if (block >= run.options.boots &&
        !AnyUnstable(Analyze(run.sides, *boots, run.limits, static_cast<int>(run.options.runs)))) {
      break;
    }
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t i : order) {
      BootResult r = RunBoot(run.sides[i], run.plan, static_cast<int>(boots->size()));
      Progress(r, boots->size() + 1, n * std::max<size_t>(run.options.boots, block + 1));
      boots->push_back(r);
      if (r.untestable) return r;
    }
  }
  return std::nullopt;
}

// What the first side never showed but `side` did: failing tests, kernel
// problems on the console, dead guests, failed bench runs.
std::vector<std::string> Breaks(const Report& report, const std::string& side) {
  const std::string& base = report.sides[0].name;
  auto count = [&](const std::string& who, auto pred) {
    int n = 0;
    for (const BootResult& b : report.boots) n += b.side == who && pred(b);
    return n;
  };
  std::vector<std::string> out;
  const auto crashed = [](const BootResult& b) { return b.crashed; };
  const auto console = [](const BootResult& b) { return !b.console.empty(); };
  const auto bench = [](const BootResult& b) { return b.bench_exit > 0; };
  if (count(side, crashed) > 0 && count(base, crashed) == 0) out.push_back("the guest died or hung");
  if (count(side, console) > 0 && count(base, console) == 0) out.push_back("kernel problems on the console");
  if (count(side, bench) > 0 && count(base, bench) == 0) out.push_back("bench runs failed");
  for (const TestRow& t : report.tests) {
    if (t.side != side || t.failed == 0) continue;
    int base_failed = 0;
    for (const TestRow& b : report.tests) base_failed += b.side == base && b.test == t.test ? b.failed : 0;
    if (base_failed == 0) out.push_back(absl::StrCat(t.test, " failed ", t.failed, ":", t.runs));
  }
  return out;
}

// Whether --fail-on watches `metric`, and from what percent; a metric named
// outright wins over "any".
bool Watched(const std::vector<FailOn>& fail_on, const std::string& metric, double* percent) {
  bool watched = false;
  for (const FailOn& f : fail_on) {
    if (f.metric == metric) {
      *percent = f.percent;
      return true;
    }
    if (f.metric == "any" && !watched) {
      *percent = f.percent;
      watched = true;
    }
  }
  return watched;
}

// The exit code and one line per reason.
int Decide(const Report& report, const std::vector<FailOn>& fail_on, std::vector<std::string>* reasons) {
  bool unstable = false;
  for (const MetricRow& r : report.rows) {
    double percent = 0;
    if (!Watched(fail_on, r.metric, &percent)) continue;
    const Comparison& c = r.comparison;
    if (c.verdict == Verdict::kUnstable) unstable = true;
    const double bad = MetricDirection(r.metric) == Direction::kHigherIsBetter ? -c.change : c.change;
    if (c.verdict == Verdict::kRegression && bad * 100 >= percent) {
      reasons->push_back(absl::StrFormat("regression: %s %s %s %+.1f%% [%+.1f%%, %+.1f%%] (--fail-on %s:%g)", r.side,
                                         r.cell, r.metric, c.change * 100, c.ci_low * 100, c.ci_high * 100,
                                         r.metric, percent));
    }
  }
  for (size_t i = 1; i < report.sides.size(); ++i) {
    for (const std::string& b : Breaks(report, report.sides[i].name)) {
      reasons->push_back(absl::StrCat("broke: ", report.sides[i].name, ": ", b));
    }
  }
  if (!reasons->empty()) return kRegressFound;
  if (unstable) {
    reasons->push_back("unstable: a watched metric spread above --max-rsd after --max-boots boots");
    return kRegressUnstable;
  }
  return kRegressOk;
}

// OUT/regress.json, and the pictures from it.
void WriteOutputs(const Run& run, const Report& report, int exit, const std::vector<std::string>& reasons) {
  nlohmann::json j = ReportJson(report);
  j["exit"] = exit;
  j["reasons"] = reasons;
  j["boots_per_side_min"] = run.options.boots;
  const std::string path = run.plan.out_dir + "/regress.json";
  std::ofstream(path) << j.dump(1) << "\n";
  std::fprintf(stderr, "regress: wrote %s\n", path.c_str());
  if (!run.options.plot || report.rows.empty()) return;
  const std::string script = PlotScript(run.plan.sctpvm, "regress_plot.py");
  std::string error;
  const int rc = RunToFiles({"/usr/bin/python3", script, path, "--out", run.plan.out_dir},
                            run.plan.out_dir + "/plot.out", run.plan.out_dir + "/plot.err", &error);
  if (rc != 0) {
    std::fprintf(stderr, "regress: no pictures: %s exited %d (see %s/plot.err)\n", script.c_str(), rc,
                 run.plan.out_dir.c_str());
  } else {
    std::fprintf(stderr, "regress: pictures in %s (regress-METRIC.png, .svg)\n", run.plan.out_dir.c_str());
  }
}

// Kernels, tools/sctpvm, this binary and the output directory; an exit
// code when one is missing (a kernel that is not there: the side cannot be
// tested, 125).
std::optional<int> PreparePlan(const char* argv0, Run* run) {
  const char* cache_env = std::getenv("SCTPDP_CACHE");
  const std::string cache = cache_env != nullptr ? cache_env : "/var/cache/sctpdp";
  for (Side& side : run->sides) {
    if (absl::Status s = ResolveKernel(cache, &side); !s.ok()) {
      std::fprintf(stderr, "sctpdp regress: cannot test: %s\n", std::string(s.message()).c_str());
      return kRegressSkip;
    }
  }
  const Options& o = run->options;
  BootPlan& plan = run->plan;
  plan.sctpvm = RealPath(FindSctpvm(argv0));
  plan.sctpdp = RealPath("/proc/self/exe");
  if (plan.sctpvm.empty() || plan.sctpdp.empty()) {
    std::fprintf(stderr, "sctpdp regress: no tools/sctpvm found (run from the workspace, or set SCTPVM=path)\n");
    return kRegressUsage;
  }
  plan.bench = BenchArgs(o);
  plan.cpus = static_cast<int>(o.cpus);
  plan.mem_mib = static_cast<int>(o.mem_mib);
  plan.timeout_s = static_cast<int>(absl::ToInt64Seconds(o.boot_timeout));
  plan.out_dir = MakeDirs(o.out.empty() ? DefaultOutDir() : o.out);
  if (plan.out_dir.empty() || access(plan.out_dir.c_str(), W_OK) != 0) {
    std::fprintf(stderr, "sctpdp regress: --out %s: cannot create a writable directory\n", o.out.c_str());
    return kRegressUsage;
  }
  run->limits.min_change = o.min_change_pct / 100;
  run->limits.max_rsd = o.max_rsd_pct / 100;
  run->limits.seed = o.seed != 0 ? static_cast<uint64_t>(o.seed)
                                 : static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()) % 1000000000 + 1);
  return std::nullopt;
}

// Flags, sides and paths into a Run; an exit code when that fails.
std::optional<int> Prepare(int argc, char** argv, Run* run) {
  int first_side = 2;
  while (first_side < argc && std::string(argv[first_side]) != "--side" &&
         !absl::StartsWith(argv[first_side], "--side=")) {
    ++first_side;
  }
  FlagParser p = GlobalParser(&run->options);
  if (absl::Status s = p.Parse(first_side, argv, 2); !s.ok()) {
    std::fprintf(stderr, "sctpdp regress: %s\n", std::string(s.message()).c_str());
    return kRegressUsage;
  }
  bool side_help = false;
  absl::StatusOr<std::vector<Side>> sides =
      ParseSides(std::vector<std::string>(argv + first_side, argv + argc), &side_help);
  if (p.help_requested() || side_help) {
    const std::string help = p.Help();
    std::printf("%s\n%s\n%s", help.substr(0, help.find("\nExit codes:")).c_str(), SideFlagsHelp().c_str(), kExitCodes);
    return kRegressOk;
  }
  const Options& o = run->options;
  absl::StatusOr<std::vector<FailOn>> fail_on = ParseFailOn(o.fail_on);
  absl::StatusOr<std::vector<std::string>> suite = SuitePaths(o.suite);
  absl::Status bench = CheckBenchFlags(o);
  for (const absl::Status& s : {sides.status(), fail_on.status(), suite.status(), bench}) {
    if (!s.ok()) {
      std::fprintf(stderr, "sctpdp regress: %s\n", std::string(s.message()).c_str());
      return kRegressUsage;
    }
  }
  run->sides = *sides;
  run->fail_on = *fail_on;
  run->plan.suite = *suite;
  return PreparePlan(argv[0], run);
}

}  // namespace

int RunRegress(int argc, char** argv) {
  Run run;
  if (std::optional<int> exit = Prepare(argc, argv, &run)) return *exit;
  std::vector<std::string> names;
  for (const Side& s : run.sides) names.push_back(absl::StrCat(s.name, " (", s.release, ")"));
  std::fprintf(stderr, "regress: %s; %lld+ boots per side, %lld runs per boot; seed %llu (--seed repeats it); out %s\n",
               absl::StrJoin(names, " against ").c_str(), (long long)run.options.boots, (long long)run.options.runs,
               (unsigned long long)run.limits.seed, run.plan.out_dir.c_str());
  std::vector<BootResult> boots;
  std::optional<BootResult> untestable = RunBoots(run, &boots);
  const Report report = Analyze(run.sides, boots, run.limits, static_cast<int>(run.options.runs));
  if (untestable) {
    const std::string why = absl::StrCat("side ", untestable->side, " cannot be tested: ", untestable->why, " (logs in ",
                                         untestable->dir, ")");
    std::fprintf(stderr, "sctpdp regress: %s\n", why.c_str());
    WriteOutputs(run, report, kRegressSkip, {why});
    return kRegressSkip;
  }
  PrintReport(report, stdout);
  std::vector<std::string> reasons;
  int exit = Decide(report, run.fail_on, &reasons);
  if (!run.plan.bench.empty() && report.rows.empty() && exit == kRegressOk) {
    reasons.push_back("no bench samples to compare: see bench.err in the boot directories");
    exit = kRegressSkip;
  }
  std::printf("\n");
  for (const std::string& r : reasons) std::printf("%s\n", r.c_str());
  std::printf("regress: %s (exit %d)\n",
              exit == kRegressOk      ? "no regression"
              : exit == kRegressFound ? "REGRESSION"
              : exit == kRegressSkip  ? "NOT TESTED"
                                      : "UNSTABLE",
              exit);
  std::fflush(stdout);
  WriteOutputs(run, report, exit, reasons);
  return exit;
}

}  // namespace sctpdp
