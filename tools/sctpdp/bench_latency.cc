#include "tools/sctpdp/bench_latency.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <utility>

#include "absl/strings/str_format.h"
#include "tools/sctpdp/capacity_search.h"
#include "tools/sctpdp/regress_stats.h"

namespace sctpdp {
namespace {

// A trial fails when the load sent less than this share of what its
// schedule had due by the stop.
constexpr double kMaxBehind = 0.01;

struct Mix {
  uint64_t size = 0;
  int hot = 0, total = 0;
};

// Cold associations send kColdRate each; the rest of `offered` is shared by
// the hot ones.
double HotRate(double offered, const Mix& m) {
  return std::max(0.001, (offered - (m.total - m.hot) * kColdRate) / m.hot);
}
// The least the search offers: the cold associations and 1/s per hot one.
double MinOffered(const Mix& m) { return (m.total - m.hot) * kColdRate + m.hot; }

Json Header(const char* type, const std::string& engine, const Mix& m) {
  return {{"type", type},  {"engine", engine}, {"mode", "latency"},
          {"size", m.size}, {"hot", m.hot},     {"associations", m.total}};
}

// A trial's failure in a few words ("" when it passed): no result, send
// errors, missing echoes, or a load that fell behind its schedule (then it
// measured itself, not the server).
std::string TrialVerdict(const Cell& c) {
  if (!c.ok) return "no result (serve or load failed)";
  const double sent = NumberAt(c.load, "messages"), echoed = NumberAt(c.load, "echoed");
  const double due = NumberAt(c.load, "due"), behind = NumberAt(c.load, "behind_at_stop");
  if (NumberAt(c.load, "errors") > 0) return "send errors";
  if (echoed < sent) return absl::StrFormat("%.0f of %.0f echoes came back within the drain", echoed, sent);
  if (behind > kMaxBehind * due) {
    return absl::StrFormat("the load fell behind its schedule (%.0f of %.0f due not sent)", behind, due);
  }
  return "";
}

// One engine's capacity on `m`: the search, each trial and the result as
// JSON lines.
CapacitySearchResult SearchEngine(const std::string& engine, const Shape& base, const LatencyOptions& o, const Mix& m,
                                  const BenchOutput& out, bool* ok) {
  Shape trial = base;
  trial.mode = "latency";
  trial.duration = o.trial_duration;
  trial.drain = o.trial_drain;
  const CapacitySearchOptions so{.start = std::max(o.search_start, MinOffered(m)),
                                 .min_rate = MinOffered(m),
                                 .max_rate = 1e7,
                                 .precision = o.precision,
                                 .repeats = static_cast<int>(o.trial_repeats),
                                 .max_trials = 40};
  int n = 0;
  auto run = [&](double offered) {
    trial.rate = HotRate(offered, m);
    const Cell c = RunCell(engine, trial, m.size, m.hot, m.total, n++);
    if (!c.ok) {
      std::fprintf(stderr, "sctpdp bench: %s latency trial at %.0f msg/s: %s\n", engine.c_str(), offered,
                   c.error.c_str());
      *ok = false;
    }
    const std::string why = TrialVerdict(c);
    Json j = Header("trial", engine, m);
    j["offered_per_s"] = Rounded(offered, 1);
    j["passed"] = why.empty();
    j["why"] = why;
    for (const char* key : {"messages", "echoed", "due", "behind_at_stop"}) j[key] = ValueAt(c.load, key, 0);
    j["messages_per_s"] = Rounded(c.msgs_per_s, 1);
    j["load_cpu_share"] = Rounded(c.load_cpu, 3);
    out.Emit(j);
    return why.empty();
  };
  const CapacitySearchResult r = SearchCapacity(so, run);
  Json j = Header("capacity", engine, m);
  j["capacity_per_s"] = Rounded(r.capacity, 1);
  j["failed_per_s"] = Rounded(r.failed, 1);
  j["converged"] = r.converged;
  j["trials"] = r.trials.size();
  j["trial_s"] = absl::ToDoubleSeconds(o.trial_duration);
  j["trial_repeats"] = o.trial_repeats;
  j["trial_drain_s"] = absl::ToDoubleSeconds(o.trial_drain);
  j["precision"] = o.precision;
  out.Emit(j);
  if (!out.stdout_json) {
    std::printf("  capacity: %-8s %9.0f msg/s (%zu trials; %s)\n", engine.c_str(), r.capacity, r.trials.size(),
                r.failed > 0 ? absl::StrFormat("failed at %.0f", r.failed).c_str() : "none failed");
    std::fflush(stdout);
  }
  return r;
}

// The capacity the loads are relative to: the best baseline's (epoll or
// threads) when one ran, else the best engine's.
std::pair<std::string, double> Reference(const std::map<std::string, double>& capacity) {
  std::pair<std::string, double> best{"", 0}, best_baseline{"", 0};
  for (const auto& [engine, c] : capacity) {
    if (c > best.second) best = {engine, c};
    if ((engine == "epoll" || engine == "threads") && c > best_baseline.second) best_baseline = {engine, c};
  }
  return best_baseline.second > 0 ? best_baseline : best;
}

// The median over `runs` of each number of their percentile object `key`.
Json MedianPercentiles(const std::vector<Cell>& runs, const char* key) {
  Json out = Json::object();
  if (runs.empty() || !runs[0].load.contains(key)) return out;
  for (const auto& item : runs[0].load[key].items()) {
    std::vector<double> v;
    for (const Cell& c : runs) v.push_back(NumberAt(ValueAt(c.load, key, Json::object()), item.key()));
    out[item.key()] = Median(v);
  }
  return out;
}

struct Point {
  int64_t percent = 0;
  std::string reference;
  double reference_capacity = 0, capacity = 0, offered = 0;
};

Json LatencyJson(const Cell& c, const Mix& m, const Point& p) {
  Json j = Header("latency", c.engine, m);
  j["repeat"] = c.repeat;
  j["load_percent"] = p.percent;
  j["reference"] = p.reference;
  j["reference_capacity_per_s"] = Rounded(p.reference_capacity, 1);
  j["capacity_per_s"] = Rounded(p.capacity, 1);
  j["offered_per_s"] = ValueAt(c.load, "offered_per_s", 0);
  j["messages_per_s"] = Rounded(c.msgs_per_s, 1);
  j["cpu_s_per_million"] = Rounded(c.cpu_s_per_m, 3);
  j["syscalls_per_message"] = Rounded(c.syscalls_per_msg, 4);
  j["load_cpu_share"] = Rounded(c.load_cpu, 3);
  j["complete"] = c.complete;
  j["behind_at_stop"] = ValueAt(c.load, "behind_at_stop", 0);
  for (const char* key : {"rtt_from_schedule_us", "rtt_us", "pacing_lag_us"}) j[key] = ValueAt(c.load, key, Json::object());
  return j;
}

// One engine at one load, o.repeats times: the runs that reported.
std::vector<Cell> RunPoint(const std::string& engine, const Shape& base, const LatencyOptions& o, const Mix& m,
                           const Point& p, const BenchOutput& out, bool* ok) {
  Shape shape = base;
  shape.mode = "latency";
  shape.duration = o.point_duration;
  shape.rate = HotRate(p.offered, m);
  std::vector<Cell> runs;
  for (int r = 0; r < o.repeats; ++r) {
    Cell c = RunCell(engine, shape, m.size, m.hot, m.total, r);
    if (!c.ok) {
      std::fprintf(stderr, "sctpdp bench: %s latency at %lld%%: %s\n", engine.c_str(), (long long)p.percent,
                   c.error.c_str());
      *ok = false;
      continue;
    }
    out.Emit(LatencyJson(c, m, p));
    runs.push_back(std::move(c));
  }
  return runs;
}

void PrintLatencyHeader(const Mix& m, const std::string& reference, double capacity) {
  std::printf("latency %llu B %d/%d: offered load relative to %s's capacity, %.0f msg/s; round trips from when due\n",
              (unsigned long long)m.size, m.hot, m.total, reference.c_str(), capacity);
  std::printf("%-8s %4s %9s %9s %9s %9s %9s %9s %9s | %9s %9s | %9s %8s\n", "engine", "load", "offered/s", "msgs/s",
              "p50_us", "p90_us", "p99_us", "p99.9_us", "max_us", "sent_p50", "sent_p99", "lag_p99", "load_cpu");
}

void PrintLatencyRow(const std::string& engine, const Point& p, const std::vector<Cell>& runs) {
  const Json co = MedianPercentiles(runs, "rtt_from_schedule_us"), sent = MedianPercentiles(runs, "rtt_us");
  const Json lag = MedianPercentiles(runs, "pacing_lag_us");
  std::vector<double> rate, load_cpu;
  for (const Cell& c : runs) {
    rate.push_back(c.msgs_per_s);
    load_cpu.push_back(c.load_cpu);
  }
  const bool complete = std::all_of(runs.begin(), runs.end(), [](const Cell& c) { return c.complete; });
  std::printf("%-8s %3lld%% %9.0f %9.0f %9.0f %9.0f %9.0f %9.0f %9.0f | %9.0f %9.0f | %9.0f %7.0f%%%s\n",
              engine.c_str(), (long long)p.percent, p.offered, Median(rate), NumberAt(co, "p50"), NumberAt(co, "p90"),
              NumberAt(co, "p99"), NumberAt(co, "p999"), NumberAt(co, "max"), NumberAt(sent, "p50"),
              NumberAt(sent, "p99"), NumberAt(lag, "p99"), Median(load_cpu) * 100,
              complete ? "" : "  (echoes missing)");
  std::fflush(stdout);
}

// The data plane's median round trips (from when due) against each baseline's.
void LatencyRatios(const std::map<std::string, std::vector<Cell>>& runs, const Mix& m, const Point& p,
                   const BenchOutput& out) {
  auto uring = runs.find("uring");
  if (uring == runs.end() || uring->second.empty()) return;
  const Json u = MedianPercentiles(uring->second, "rtt_from_schedule_us");
  for (const char* base : {"epoll", "threads"}) {
    auto it = runs.find(base);
    if (it == runs.end() || it->second.empty()) continue;
    const Json b = MedianPercentiles(it->second, "rtt_from_schedule_us");
    auto ratio = [&](const char* key) {
      const double d = NumberAt(b, key);
      return d > 0 ? Rounded(NumberAt(u, key) / d, 3) : 0.0;
    };
    Json j = Header("latency_ratio", "uring", m);
    j.erase("engine");
    j["load_percent"] = p.percent;
    j["versus"] = base;
    for (const char* key : {"p50", "p90", "p99", "p999"}) j[key] = ratio(key);
    out.Emit(j);
    if (!out.stdout_json) {
      std::printf("  latency at %lld%%: uring / %-7s p50 x%.2f, p99 x%.2f, p99.9 x%.2f\n", (long long)p.percent, base,
                  ratio("p50"), ratio("p99"), ratio("p999"));
    }
  }
}

}  // namespace

bool RunLatencyGroup(const std::vector<std::string>& engines, const Shape& base, const LatencyOptions& o,
                     uint64_t size, int hot, int total, const BenchOutput& out) {
  const Mix m{size, hot, total};
  bool ok = true;
  if (!out.stdout_json) std::printf("latency %llu B %d/%d: capacity search\n", (unsigned long long)size, hot, total);
  std::map<std::string, double> capacity;
  for (const std::string& engine : engines) capacity[engine] = SearchEngine(engine, base, o, m, out, &ok).capacity;
  const auto [reference, reference_capacity] = Reference(capacity);
  if (reference_capacity <= 0) {
    std::fprintf(stderr, "sctpdp bench: latency %llu B %d/%d: no engine passed a trial, not even at %.0f msg/s\n",
                 (unsigned long long)size, hot, total, MinOffered(m));
    return false;
  }
  if (!out.stdout_json) PrintLatencyHeader(m, reference, reference_capacity);
  for (int64_t percent : o.load_percents) {
    Point p{percent, reference, reference_capacity};
    p.offered = std::max(MinOffered(m), reference_capacity * percent / 100);
    if (p.offered > reference_capacity * percent / 100) {
      std::fprintf(stderr,
                   "sctpdp bench: latency %lld%% of %.0f msg/s is below the least this mix offers (cold associations "
                   "at %.0f msg/s each, 1 msg/s per hot one): offering %.0f\n",
                   (long long)percent, reference_capacity, kColdRate, p.offered);
    }
    std::map<std::string, std::vector<Cell>> runs;
    for (const std::string& engine : engines) {
      p.capacity = capacity[engine];
      runs[engine] = RunPoint(engine, base, o, m, p, out, &ok);
      if (!out.stdout_json && !runs[engine].empty()) PrintLatencyRow(engine, p, runs[engine]);
    }
    LatencyRatios(runs, m, p, out);
  }
  return ok;
}

}  // namespace sctpdp
