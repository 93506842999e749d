// `sctpdp bench`: serve and load together over a small matrix (engines x
// message sizes x association mixes, repeated), in one run, as child
// processes of this binary (each engine's CPU and syscalls are its own).
// Prints a table and the ratio of the data plane to each baseline; --json
// for machines.
#include "tools/sctpdp/bench.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tools/sctpdp/flags.h"

namespace sctpdp {
namespace {

struct Child {
  pid_t pid = -1;
  FILE* out = nullptr;  // its stdout
};

// Runs this binary with `args`, its stdout piped to us and its stderr (the
// data plane's log) into `err`, shown only when the cell fails.
Child Spawn(const std::vector<std::string>& args, FILE* err) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return {};
  Child c;
  c.pid = fork();
  if (c.pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    if (err != nullptr) dup2(fileno(err), STDERR_FILENO);
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  close(fds[1]);
  c.out = fdopen(fds[0], "r");
  return c;
}

std::string ReadLine(FILE* f) {
  char buf[8192];
  if (f == nullptr || fgets(buf, sizeof(buf), f) == nullptr) return "";
  std::string s = buf;
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

int Wait(const Child& c) {
  int status = 0;
  waitpid(c.pid, &status, 0);
  if (c.out) fclose(c.out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A number field of a flat JSON line ("key":123.4).
double Field(const std::string& json, const std::string& key) {
  const std::string k = "\"" + key + "\":";
  size_t at = json.find(k);
  if (at == std::string::npos) return 0;
  at += k.size();
  size_t end = json.find_first_of(",}", at);
  double v = 0;
  absl::SimpleAtod(json.substr(at, end - at), &v);
  return v;
}

// What the load does in a cell:
//   sink:  one-way, as fast as the server takes it.
//   echo:  request/response, closed loop: each association keeps up to
//          --window messages awaiting their echo (saturating; round trips
//          include that queueing).
//   paced: echo at 400 msg/s per hot association (twice the peel rate, so
//          hot associations do move): round trips below saturation.
// At full speed, load sends bursts of --bundle messages with MSG_MORE, as a
// busy peer's stack bundles DATA chunks; every engine gets the same load.
struct Shape {
  std::string mode;
  absl::Duration duration;
  int64_t bundle = 16;
  int64_t window = 64;
  bool bundle_sends = true;  // serve --bundle-sends for the uring engine
};

struct Cell {
  std::string engine, mode;
  uint64_t size = 0;
  int hot = 0, associations = 0, repeat = 0;
  double msgs_per_s = 0, gbit_per_s = 0, cpu_s_per_m = 0, syscalls_per_msg = 0;
  double sent = 0, received = 0;
  double p50_us = 0, p99_us = 0;  // round trips (echo and paced)
  double load_cpu = 0;            // the load's share of the machine's CPUs (near 1: the load is the limit)
  bool ok = false;
  std::string error;
};

Cell RunCell(const std::string& engine, const Shape& shape, uint64_t size, int hot, int associations, int repeat) {
  Cell c{engine, shape.mode, size, hot, associations, repeat};
  const bool echo = shape.mode != "sink";
  std::unique_ptr<FILE, int (*)(FILE*)> log(tmpfile(), fclose);
  auto fail = [&](std::string error) {
    c.error = std::move(error);
    if (log == nullptr) return;
    rewind(log.get());
    char buf[4096];
    while (fgets(buf, sizeof(buf), log.get()) != nullptr) {
      std::string line = buf;
      if (!line.empty() && line.back() == '\n') line.pop_back();
      c.error += "\n  | " + line;
    }
  };
  // Every engine gets the same socket buffers, sized for the load: with the
  // defaults, associations sharing a one-to-many socket stall on its window.
  Child serve =
      Spawn({"sctpdp", "serve", "--engine=" + engine, "--listen=127.0.0.1:0", echo ? "--mode=echo" : "--mode=sink",
             "--peel-rate=200", "--sustain=200ms", "--rcvbuf=4MiB", "--sndbuf=4MiB",
             engine == "uring" && shape.bundle_sends ? "--bundle-sends" : "--no-bundle-sends"},
            log.get());
  const std::string line = ReadLine(serve.out);
  const size_t at = line.find("port ");
  if (at == std::string::npos) {
    fail("serve did not start");
    kill(serve.pid, SIGKILL);
    Wait(serve);
    return c;
  }
  const std::string port = line.substr(at + 5, line.find(',', at) - at - 5);
  const bool paced = shape.mode == "paced";
  Child load =
      Spawn({"sctpdp", "load", "--connect=127.0.0.1:" + port, absl::StrCat("--associations=", associations),
             absl::StrCat("--hot=", hot), paced ? "--rate=400" : "--rate=0", "--cold-rate=5",
             absl::StrCat("--size=", size), "--streams=4",
             absl::StrCat("--duration=", absl::FormatDuration(shape.duration)), absl::StrCat("--bundle=", shape.bundle),
             echo ? "--echo" : "--no-echo", absl::StrCat("--window=", shape.mode == "echo" ? shape.window : 0)},
            log.get());
  const std::string load_json = ReadLine(load.out);
  const int load_rc = Wait(load);
  kill(serve.pid, SIGTERM);
  std::string summary;
  for (std::string l = ReadLine(serve.out); !l.empty(); l = ReadLine(serve.out)) {
    if (l.find("\"summary\"") != std::string::npos) summary = l;
  }
  const int serve_rc = Wait(serve);
  if (load_rc != 0 || serve_rc != 0 || summary.empty()) {
    fail(absl::StrFormat("load exit %d, serve exit %d; their log:", load_rc, serve_rc));
    return c;
  }
  const double secs = Field(load_json, "seconds");
  c.sent = Field(load_json, "messages");
  c.received = Field(summary, "messages_in");
  c.msgs_per_s = secs > 0 ? c.received / secs : 0;
  c.gbit_per_s = c.msgs_per_s * size * 8 / 1e9;
  c.cpu_s_per_m = c.received > 0 ? Field(summary, "cpu_s") / c.received * 1e6 : 0;
  c.syscalls_per_msg = Field(summary, "syscalls_per_message");
  c.p50_us = Field(load_json, "p50");
  c.p99_us = Field(load_json, "p99");
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  c.load_cpu = secs > 0 && cpus > 0 ? Field(load_json, "cpu_s") / (secs * cpus) : 0;
  c.ok = true;
  return c;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

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

void PrintCellJson(const Cell& c) {
  std::printf(
      "{\"type\":\"cell\",\"engine\":\"%s\",\"mode\":\"%s\",\"size\":%llu,\"hot\":%d,\"associations\":%d,"
      "\"repeat\":%d,\"messages_per_s\":%.1f,\"gbit_per_s\":%.6f,\"cpu_s_per_million\":%.3f,"
      "\"syscalls_per_message\":%.4f,\"sent\":%.0f,\"received\":%.0f,\"rtt_p50_us\":%.0f,"
      "\"rtt_p99_us\":%.0f,\"load_cpu_share\":%.3f}\n",
      c.engine.c_str(), c.mode.c_str(), (unsigned long long)c.size, c.hot, c.associations, c.repeat, c.msgs_per_s,
      c.gbit_per_s, c.cpu_s_per_m, c.syscalls_per_msg, c.sent, c.received, c.p50_us, c.p99_us, c.load_cpu);
  std::fflush(stdout);
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
                               int64_t repeats, bool json, bool* ok) {
  std::vector<Cell> runs;
  for (int r = 0; r < repeats; ++r) {
    Cell c = RunCell(engine, shape, size, hot, total, r);
    if (!c.ok) {
      std::fprintf(stderr, "sctpdp bench: %s %s %llu %d/%d: %s\n", engine.c_str(), shape.mode.c_str(),
                   (unsigned long long)size, hot, total, c.error.c_str());
      *ok = false;
      continue;
    }
    if (json) PrintCellJson(c);
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
void PrintRatios(const std::map<std::string, Cell>& medians, bool json) {
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
    if (json) {
      std::printf(
          "{\"type\":\"ratio\",\"mode\":\"%s\",\"size\":%llu,\"hot\":%d,\"associations\":%d,\"versus\":\"%s\","
          "\"messages_per_s\":%.3f,\"syscalls_per_message\":%.3f,\"cpu_per_message\":%.3f}\n",
          u.mode.c_str(), (unsigned long long)u.size, u.hot, u.associations, base, r_rate, r_sys, r_cpu);
    } else {
      std::printf("  %s: uring / %-7s msgs/s x%.2f, syscalls/msg x%.3f, cpu/msg x%.2f\n", u.mode.c_str(), base,
                  r_rate, r_sys, r_cpu);
    }
  }
}

// One row group: every engine on one (mode, size, mix), repeated; prints the
// medians and the data plane's ratios. False when a run failed.
bool RunGroup(const std::vector<std::string>& engines, const Shape& shape, uint64_t size, int hot, int total,
              int64_t repeats, bool json) {
  bool ok = true;
  std::map<std::string, Cell> medians;
  for (const std::string& engine : engines) {
    std::optional<Cell> m = RunRepeats(engine, shape, size, hot, total, repeats, json, &ok);
    if (!m) continue;  // every run failed (reported): no row, no ratio
    if (!json) PrintRow(*m);
    medians[engine] = *std::move(m);
  }
  PrintRatios(medians, json);
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

}  // namespace

int RunBench(int argc, char** argv) {
  bool quick = false, json = false, latency = false;
  int64_t repeats = 3;
  Shape shape{"", absl::Seconds(10)};
  std::string engines = "uring,epoll,threads", modes = "echo,sink", sizes = "1024,16384", mixes = "8/64,64/64";
  FlagParser p(
      "usage: sctpdp bench [flags]\n"
      "Runs serve and load together over modes x message sizes x association mixes (hot/total) x engines,\n"
      "repeated, and prints messages/s, Gbit/s, CPU seconds per million messages, syscalls per message and\n"
      "round-trip percentiles, with the ratio of the data plane (uring) to each baseline.");
  p.Bool("quick", &quick, "a one-minute run: 1 KiB, 8 hot of 64, one repeat of 5 s per mode and engine");
  p.Bool("json", &json, "one JSON line per cell and one for the ratios, no table");
  p.String("modes", &modes,
           "comma-separated: echo (request/response, closed loop of --window per association), sink (one-way), "
           "paced (echo at 400 msg/s per hot association: round trips below saturation)");
  p.Bool("latency", &latency, "the same as --modes=paced");
  p.Int("bundle", &shape.bundle, 1, 256, "load: messages per burst with MSG_MORE (1: a packet per message)");
  p.Bool("bundle-sends", &shape.bundle_sends,
         "uring: serve --bundle-sends (MSG_MORE within send chains; --no-bundle-sends: a packet per message)");
  p.Int("window", &shape.window, 1, 1 << 20, "load, echo mode: messages awaiting their echo per association");
  p.Int("repeats", &repeats, 1, 100, "runs per cell (the table shows medians)");
  p.Duration("duration", &shape.duration, "load duration per run");
  p.String("engines", &engines, "comma-separated: uring,epoll,threads");
  p.String("sizes", &sizes, "comma-separated message sizes in bytes");
  p.String("mixes", &mixes, "comma-separated HOT/TOTAL association mixes");
  if (std::optional<int> exit = p.ParseCommand(argc, argv, 2, "sctpdp bench")) return *exit;
  if (quick) {
    repeats = 1;
    shape.duration = absl::Seconds(5);
    sizes = "1024";
    mixes = "8/64";
  }
  if (latency) modes = "paced";
  const auto engine_list = ChoiceList("engines", engines, "engine", {"uring", "epoll", "threads"});
  const auto mode_list = ChoiceList("modes", modes, "mode", {"echo", "sink", "paced"});
  std::vector<uint64_t> size_list;
  std::vector<std::pair<int, int>> mix_list;
  if (!engine_list || !mode_list || !ParseMatrix(sizes, mixes, &size_list, &mix_list)) return kExitUsage;
  if (!json) {
    std::printf("%-8s %-5s %7s %7s %11s %9s %11s %12s %11s %11s %9s\n", "engine", "mode", "bytes", "hot/all", "msgs/s",
                "Gbit/s", "cpu_s/Mmsg", "syscalls/msg", "rtt_p50_us", "rtt_p99_us", "load_cpu");
  }
  bool all_ok = true;
  for (const std::string& mode : *mode_list) {
    shape.mode = mode;
    for (uint64_t size : size_list) {
      for (auto [hot, total] : mix_list) all_ok &= RunGroup(*engine_list, shape, size, hot, total, repeats, json);
    }
  }
  return all_ok ? kExitOk : kExitFailure;
}

}  // namespace sctpdp
