// `sctpdp bench`: serve and load together over a small matrix (engines x
// modes x message sizes x association mixes, repeated), in one run, as child
// processes of this binary (bench_cell.h). Prints a table and the ratio of
// the data plane to each baseline; --json for machines; --plot DIR for
// pictures. The latency mode is bench_latency.h's.
#include "tools/sctpdp/bench.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tools/sctpdp/bench_cell.h"
#include "tools/sctpdp/bench_latency.h"
#include "tools/sctpdp/flags.h"
#include "tools/sctpdp/json_line.h"
#include "tools/sctpdp/regress_boot.h"
#include "tools/sctpdp/regress_stats.h"
#include "tools/sctpdp/sctpvm_path.h"

namespace sctpdp {
namespace {

// The comma-separated `value` of --`flag`, each one of `known`; nothing
// (after a one-line error) when one is not.
std::optional<std::vector<std::string>> ChoiceList(const char* flag, const std::string& value, const char* what,
                                                   const std::vector<std::string>& known) {
  std::vector<std::string> list = absl::StrSplit(value, ',');
  for (const std::string& v : list) {
    if (std::find(known.begin(), known.end(), v) == known.end()) {
      std::fprintf(stderr, "sctpdp bench: --%s: unknown %s '%s' (%s)\n", flag, what, v.c_str(),
                   absl::StrJoin(known, ", ").c_str());
      return std::nullopt;
    }
  }
  return list;
}

Json CellJson(const Cell& c) {
  return {{"type", "cell"},
          {"engine", c.engine},
          {"mode", c.mode},
          {"size", c.size},
          {"hot", c.hot},
          {"associations", c.associations},
          {"repeat", c.repeat},
          {"messages_per_s", Rounded(c.msgs_per_s, 1)},
          {"gbit_per_s", Rounded(c.gbit_per_s, 6)},
          {"cpu_s_per_million", Rounded(c.cpu_s_per_m, 3)},
          {"syscalls_per_message", Rounded(c.syscalls_per_msg, 4)},
          {"sent", static_cast<uint64_t>(c.sent)},
          {"received", static_cast<uint64_t>(c.received)},
          {"rtt_p50_us", Rounded(c.p50_us, 1)},
          {"rtt_p99_us", Rounded(c.p99_us, 1)},
          {"load_cpu_share", Rounded(c.load_cpu, 3)}};
}

void PrintHeader() {
  std::printf("%-8s %-5s %7s %7s %11s %9s %11s %12s %11s %11s %9s\n", "engine", "mode", "bytes", "hot/all", "msgs/s",
              "Gbit/s", "cpu_s/Mmsg", "syscalls/msg", "rtt_p50_us", "rtt_p99_us", "load_cpu");
}

void PrintRow(const Cell& m) {
  const std::string rtt = m.mode == "sink" ? absl::StrFormat("%11s %11s", "-", "-")
                                           : absl::StrFormat("%11.0f %11.0f", m.p50_us, m.p99_us);
  std::printf("%-8s %-5s %7llu %3d/%-3d %11.0f %9.4f %11.2f %12.3f %s %8.0f%%\n", m.engine.c_str(), m.mode.c_str(),
              (unsigned long long)m.size, m.hot, m.associations, m.msgs_per_s, m.gbit_per_s, m.cpu_s_per_m,
              m.syscalls_per_msg, rtt.c_str(), m.load_cpu * 100);
  std::fflush(stdout);
}

// One engine on one (mode, size, mix), `repeats` times: the median cell, or
// nothing when every run failed (reported). `ok` turns false on any failure.
std::optional<Cell> RunRepeats(const std::string& engine, const Shape& shape, uint64_t size, int hot, int total,
                               int64_t repeats, const BenchOutput& out, bool* ok) {
  std::vector<Cell> runs;
  for (int r = 0; r < repeats; ++r) {
    Cell c = RunCell(engine, shape, size, hot, total, r);
    if (!c.ok) {
      std::fprintf(stderr, "sctpdp bench: %s %s %llu %d/%d: %s\n", engine.c_str(), shape.mode.c_str(),
                   (unsigned long long)size, hot, total, c.error.c_str());
      *ok = false;
      continue;
    }
    out.Emit(CellJson(c));
    runs.push_back(std::move(c));
  }
  if (runs.empty()) return std::nullopt;
  auto median = [&](double Cell::*field) {
    std::vector<double> v;
    for (const Cell& c : runs) v.push_back(c.*field);
    return Median(v);
  };
  Cell m = runs.back();
  for (double Cell::*field : {&Cell::msgs_per_s, &Cell::gbit_per_s, &Cell::cpu_s_per_m, &Cell::syscalls_per_msg,
                              &Cell::p50_us, &Cell::p99_us, &Cell::load_cpu}) {
    m.*field = median(field);
  }
  return m;
}

// The data plane's medians against each baseline's.
void Ratios(const std::map<std::string, Cell>& medians, const BenchOutput& out) {
  auto uring = medians.find("uring");
  if (uring == medians.end()) return;
  const Cell& u = uring->second;
  for (const char* base : {"epoll", "threads"}) {
    auto it = medians.find(base);
    if (it == medians.end() || it->second.msgs_per_s == 0) continue;
    const Cell& b = it->second;
    const double r_rate = u.msgs_per_s / b.msgs_per_s;
    const double r_sys = b.syscalls_per_msg > 0 ? u.syscalls_per_msg / b.syscalls_per_msg : 0;
    const double r_cpu = b.cpu_s_per_m > 0 ? u.cpu_s_per_m / b.cpu_s_per_m : 0;
    out.Emit({{"type", "ratio"},
              {"mode", u.mode},
              {"size", u.size},
              {"hot", u.hot},
              {"associations", u.associations},
              {"versus", base},
              {"messages_per_s", Rounded(r_rate, 3)},
              {"syscalls_per_message", Rounded(r_sys, 3)},
              {"cpu_per_message", Rounded(r_cpu, 3)}});
    if (!out.stdout_json) {
      std::printf("  %s: uring / %-7s msgs/s x%.2f, syscalls/msg x%.3f, cpu/msg x%.2f\n", u.mode.c_str(), base,
                  r_rate, r_sys, r_cpu);
    }
  }
}

// One row group: every engine on one (mode, size, mix), repeated; prints the
// medians and the data plane's ratios. False when a run failed.
bool RunGroup(const std::vector<std::string>& engines, const Shape& shape, uint64_t size, int hot, int total,
              int64_t repeats, const BenchOutput& out) {
  bool ok = true;
  std::map<std::string, Cell> medians;
  for (const std::string& engine : engines) {
    std::optional<Cell> m = RunRepeats(engine, shape, size, hot, total, repeats, out, &ok);
    if (!m) continue;  // every run failed (reported): no row, no ratio
    if (!out.stdout_json) PrintRow(*m);
    medians[engine] = *std::move(m);
  }
  Ratios(medians, out);
  return ok;
}

// --sizes and --mixes; nothing (after a one-line error) when one is bad.
bool ParseMatrix(const std::string& sizes, const std::string& mixes, std::vector<uint64_t>* size_list,
                 std::vector<std::pair<int, int>>* mix_list) {
  for (absl::string_view s : absl::StrSplit(sizes, ',')) {
    auto n = ParseSize(std::string(s));
    if (!n.ok() || *n == 0 || *n > (1 << 20)) {
      std::fprintf(stderr, "sctpdp bench: --sizes: bad size '%s' (1..1MiB)\n", std::string(s).c_str());
      return false;
    }
    size_list->push_back(*n);
  }
  for (absl::string_view m : absl::StrSplit(mixes, ',')) {
    std::vector<std::string> hv = absl::StrSplit(m, '/');
    int hot = 0, total = 0;
    if (hv.size() != 2 || !absl::SimpleAtoi(hv[0], &hot) || !absl::SimpleAtoi(hv[1], &total) || hot < 0 || total < 1 ||
        hot > total || total > 10000) {
      std::fprintf(stderr, "sctpdp bench: --mixes: bad mix '%s' (want HOT/TOTAL)\n", std::string(m).c_str());
      return false;
    }
    mix_list->emplace_back(hot, total);
  }
  return true;
}

// --loads: percentages of the reference capacity; false (after a one-line
// error) when one is bad.
bool ParseLoads(const std::string& loads, std::vector<int64_t>* out) {
  out->clear();
  for (absl::string_view l : absl::StrSplit(loads, ',')) {
    int64_t percent = 0;
    if (!absl::SimpleAtoi(l, &percent) || percent < 1 || percent > 1000) {
      std::fprintf(stderr, "sctpdp bench: --loads: bad percentage '%s' (1..1000)\n", std::string(l).c_str());
      return false;
    }
    out->push_back(percent);
  }
  return true;
}

struct BenchFlags {
  bool quick = false, json = false, latency = false;
  int64_t repeats = 3;
  Shape shape{"", absl::Seconds(10)};
  std::string engines = "uring,epoll,threads", modes = "echo,sink", sizes = "1024,16384", mixes = "8/64,64/64";
  LatencyOptions latency_options;
  std::string loads = "10,50,90";
  std::string plot;  // a directory: bench.jsonl and the pictures
};

void DefineFlags(FlagParser& p, BenchFlags& f) {
  p.Bool("quick", &f.quick,
         "a short run: 1 KiB, 8 hot of 64, one repeat of 5 s per mode and engine (latency: trials of 1 s to 10%, "
         "round trips over 3 s)");
  p.Bool("json", &f.json, "JSON lines (one per run, trial and ratio), no table");
  p.String("modes", &f.modes,
           "comma-separated: echo (request/response, closed loop of --window per association), sink (one-way), "
           "paced (echo at 400 msg/s per hot association), latency (each engine's capacity, then round trips at "
           "--loads of the best baseline's, open loop)");
  p.Bool("latency", &f.latency, "the same as --modes=latency");
  p.Int("bundle", &f.shape.bundle, 1, 256, "load: messages per burst with MSG_MORE (1: a packet per message)");
  p.Bool("bundle-sends", &f.shape.bundle_sends,
         "uring: serve --bundle-sends (MSG_MORE within send chains; --no-bundle-sends: a packet per message)");
  p.Int("window", &f.shape.window, 1, 1 << 20, "load, echo mode: messages awaiting their echo per association");
  p.Int("repeats", &f.repeats, 1, 100, "runs per cell, and per engine and load in latency mode (medians shown)");
  p.Duration("duration", &f.shape.duration, "load duration per run (latency mode: per round-trip run)");
  p.String("engines", &f.engines, "comma-separated: uring,epoll,threads");
  p.String("sizes", &f.sizes, "comma-separated message sizes in bytes");
  p.String("mixes", &f.mixes, "comma-separated HOT/TOTAL association mixes");
  LatencyOptions& l = f.latency_options;
  p.Duration("trial-duration", &l.trial_duration, "latency: sending time of each capacity trial");
  p.Int("trial-repeats", &l.trial_repeats, 1, 20, "latency: trials per offered rate; the rate passes if all do");
  p.Duration("trial-drain", &l.trial_drain,
             "latency: how long a trial's last echoes get after sending stops (an overload the buffers absorb "
             "passes by up to this over --trial-duration)");
  p.Double("search-start", &l.search_start, 1, 1e7, "latency: the first offered rate of the search (messages/s)");
  p.Double("search-precision", &l.precision, 0.001, 1, "latency: the search stops within this relative width");
  p.String("loads", &f.loads, "latency: comma-separated percentages of the best baseline's capacity");
  p.String("plot", &f.plot,
           "a directory: write every JSON line to DIR/bench.jsonl and draw DIR/bench-*.png and .svg from it "
           "(tools/plots/bench_plot.py, python3-matplotlib)");
}

// The run's parameters, first in the JSON: what a picture's title says.
Json BenchJson(const BenchFlags& f, const std::vector<std::string>& engines, const std::vector<std::string>& modes) {
  utsname u{};
  uname(&u);
  return {{"type", "bench"},
          {"engines", engines},
          {"modes", modes},
          {"sizes", f.sizes},
          {"mixes", f.mixes},
          {"repeats", f.repeats},
          {"duration_s", absl::ToDoubleSeconds(f.shape.duration)},
          {"kernel", u.release},
          {"cpus", sysconf(_SC_NPROCESSORS_ONLN)}};
}

// Draws DIR/bench.jsonl with tools/plots/bench_plot.py; false (said on
// stderr) when it cannot.
bool Draw(const char* argv0, const std::string& dir) {
  const std::string script = FindPlotScript(argv0, "bench_plot.py");
  std::string error;
  const int rc = script.empty() ? -1
                                : RunToFiles({"/usr/bin/python3", script, dir + "/bench.jsonl", "--out", dir},
                                             dir + "/plot.out", dir + "/plot.err", &error);
  if (rc != 0) {
    std::fprintf(stderr, "sctpdp bench: no pictures: %s exited %d (see %s/plot.err)\n",
                 script.empty() ? "tools/plots/bench_plot.py (not found)" : script.c_str(), rc, dir.c_str());
    return false;
  }
  std::fprintf(stderr, "sctpdp bench: pictures in %s (bench-*.png, .svg)\n", dir.c_str());
  return true;
}

// Every mode over every size and mix. False when a run failed.
bool RunMatrix(const BenchFlags& f, const std::vector<std::string>& engines, const std::vector<std::string>& modes,
               const std::vector<uint64_t>& sizes, const std::vector<std::pair<int, int>>& mixes,
               const BenchOutput& out) {
  bool all_ok = true, header = false;
  Shape shape = f.shape;
  for (const std::string& mode : modes) {
    shape.mode = mode;
    if (mode != "latency" && !header && !out.stdout_json) {
      PrintHeader();
      header = true;
    }
    for (uint64_t size : sizes) {
      for (auto [hot, total] : mixes) {
        all_ok &= mode == "latency" ? RunLatencyGroup(engines, shape, f.latency_options, size, hot, total, out)
                                    : RunGroup(engines, shape, size, hot, total, f.repeats, out);
      }
    }
  }
  return all_ok;
}

// The flags after --quick and --latency; false (after a one-line error) when
// they do not make a run.
bool Settle(BenchFlags& f) {
  if (f.quick) {
    f.repeats = 1;
    f.shape.duration = absl::Seconds(5);
    f.sizes = "1024";
    f.mixes = "8/64";
    f.latency_options.trial_duration = absl::Seconds(1);
    f.latency_options.precision = 0.1;
    f.latency_options.point_duration = absl::Seconds(3);
  } else {
    f.latency_options.point_duration = f.shape.duration;
  }
  if (f.latency) f.modes = "latency";
  f.latency_options.repeats = f.repeats;
  if (f.latency_options.trial_drain >= f.latency_options.trial_duration) {
    std::fprintf(stderr, "sctpdp bench: --trial-drain must be shorter than --trial-duration\n");
    return false;
  }
  return ParseLoads(f.loads, &f.latency_options.load_percents);
}

}  // namespace

int RunBench(int argc, char** argv) {
  BenchFlags f;
  FlagParser p(
      "usage: sctpdp bench [flags]\n"
      "Runs serve and load together over modes x message sizes x association mixes (hot/total) x engines,\n"
      "repeated, and prints messages/s, Gbit/s, CPU seconds per million messages, syscalls per message and\n"
      "round-trip percentiles, with the ratio of the data plane (uring) to each baseline; in latency mode,\n"
      "each engine's capacity and round trips against offered load.");
  DefineFlags(p, f);
  if (std::optional<int> exit = p.ParseCommand(argc, argv, 2, "sctpdp bench")) return *exit;
  if (!Settle(f)) return kExitUsage;
  const auto engines = ChoiceList("engines", f.engines, "engine", {"uring", "epoll", "threads"});
  const auto modes = ChoiceList("modes", f.modes, "mode", {"echo", "sink", "paced", "latency"});
  std::vector<uint64_t> sizes;
  std::vector<std::pair<int, int>> mixes;
  if (!engines || !modes || !ParseMatrix(f.sizes, f.mixes, &sizes, &mixes)) return kExitUsage;
  const bool latency = std::find(modes->begin(), modes->end(), "latency") != modes->end();
  if (latency && std::any_of(mixes.begin(), mixes.end(), [](auto m) { return m.first == 0; })) {
    std::fprintf(stderr, "sctpdp bench: --modes=latency needs hot associations in every mix (HOT >= 1)\n");
    return kExitUsage;
  }
  std::unique_ptr<FILE, int (*)(FILE*)> file(nullptr, fclose);
  if (!f.plot.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(f.plot, ec);
    file.reset(std::fopen((f.plot + "/bench.jsonl").c_str(), "w"));
    if (file == nullptr) {
      std::fprintf(stderr, "sctpdp bench: --plot: cannot write %s/bench.jsonl\n", f.plot.c_str());
      return kExitUsage;
    }
  }
  const BenchOutput out{f.json, file.get()};
  out.Emit(BenchJson(f, *engines, *modes));
  const bool ok = RunMatrix(f, *engines, *modes, sizes, mixes, out);
  file.reset();
  const bool drawn = f.plot.empty() || Draw(argv[0], f.plot);
  return ok && drawn ? kExitOk : kExitFailure;
}

}  // namespace sctpdp
