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

// Runs this binary with `args`, its stdout piped to us.
Child Spawn(const std::vector<std::string>& args) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return {};
  Child c;
  c.pid = fork();
  if (c.pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
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

struct Cell {
  std::string engine;
  uint64_t size = 0;
  int hot = 0, associations = 0, repeat = 0;
  double msgs_per_s = 0, gbit_per_s = 0, cpu_s_per_m = 0, syscalls_per_msg = 0;
  double sent = 0, received = 0;
  double p50_us = 0, p99_us = 0;  // round trips, with --latency
  bool ok = false;
  std::string error;
};

Cell RunCell(const std::string& engine, uint64_t size, int hot, int associations, absl::Duration duration,
             int repeat, bool latency) {
  Cell c{engine, size, hot, associations, repeat};
  // Every engine gets the same socket buffers, sized for the load: with the
  // defaults, associations sharing a one-to-many socket stall on its window.
  Child serve = Spawn({"sctpdp", "serve", "--engine=" + engine, "--listen=127.0.0.1:0",
                       latency ? "--mode=echo" : "--mode=sink", "--peel-rate=200", "--sustain=200ms",
                       "--rcvbuf=4MiB", "--sndbuf=4MiB"});
  const std::string line = ReadLine(serve.out);
  const size_t at = line.find("port ");
  if (at == std::string::npos) {
    c.error = "serve did not start";
    kill(serve.pid, SIGKILL);
    Wait(serve);
    return c;
  }
  const std::string port = line.substr(at + 5, line.find(',', at) - at - 5);
  Child load = Spawn({"sctpdp", "load", "--connect=127.0.0.1:" + port, absl::StrCat("--associations=", associations),
                      // Round trips are measured at a paced rate (twice the peel threshold,
                      // so hot associations do move): under saturation
                      // they would measure queueing, not the data path.
                      absl::StrCat("--hot=", hot), latency ? "--rate=400" : "--rate=0", "--cold-rate=5",
                      absl::StrCat("--size=", size),
                      "--streams=4", absl::StrCat("--duration=", absl::FormatDuration(duration)),
                      latency ? "--echo" : "--no-echo"});
  const std::string load_json = ReadLine(load.out);
  const int load_rc = Wait(load);
  kill(serve.pid, SIGTERM);
  std::string summary;
  for (std::string l = ReadLine(serve.out); !l.empty(); l = ReadLine(serve.out)) {
    if (l.find("\"summary\"") != std::string::npos) summary = l;
  }
  const int serve_rc = Wait(serve);
  if (load_rc != 0 || serve_rc != 0 || summary.empty()) {
    c.error = absl::StrFormat("load exit %d, serve exit %d", load_rc, serve_rc);
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
  c.ok = true;
  return c;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int RunBench(int argc, char** argv) {
  bool quick = false, json = false, latency = false;
  int64_t repeats = 3;
  absl::Duration duration = absl::Seconds(10);
  std::string engines = "uring,epoll,threads", sizes = "1024,16384", mixes = "8/64,64/64";
  FlagParser p(
      "usage: sctpdp bench [flags]\n"
      "Runs serve and load together over engines x message sizes x association mixes (hot/total), repeated,\n"
      "and prints messages/s, Gbit/s, CPU seconds per million messages and syscalls per message, with the\n"
      "ratio of the data plane (uring) to each baseline.");
  p.Bool("quick", &quick, "a one-minute run: 1 KiB, 8 hot of 64, one repeat of 5 s");
  p.Bool("json", &json, "one JSON line per cell and one for the ratios, no table");
  p.Bool("latency", &latency,
         "serve echoes and load, paced at 400 msg/s per hot association (2x the peel rate), measures round trips (p50/p99 columns)");
  p.Int("repeats", &repeats, 1, 100, "runs per cell (the table shows medians)");
  p.Duration("duration", &duration, "load duration per run");
  p.String("engines", &engines, "comma-separated: uring,epoll,threads");
  p.String("sizes", &sizes, "comma-separated message sizes in bytes");
  p.String("mixes", &mixes, "comma-separated HOT/TOTAL association mixes");
  if (std::optional<int> exit = p.ParseCommand(argc, argv, 2, "sctpdp bench")) return *exit;
  if (quick) {
    repeats = 1;
    duration = absl::Seconds(5);
    sizes = "1024";
    mixes = "8/64";
  }
  std::vector<std::string> engine_list = absl::StrSplit(engines, ',');
  for (const std::string& e : engine_list) {
    if (e != "uring" && e != "epoll" && e != "threads") {
      std::fprintf(stderr, "sctpdp bench: --engines: unknown engine '%s' (uring, epoll, threads)\n", e.c_str());
      return kExitUsage;
    }
  }
  std::vector<uint64_t> size_list;
  for (absl::string_view s : absl::StrSplit(sizes, ',')) {
    auto n = ParseSize(std::string(s));
    if (!n.ok() || *n == 0 || *n > (1 << 20)) {
      std::fprintf(stderr, "sctpdp bench: --sizes: bad size '%s' (1..1MiB)\n", std::string(s).c_str());
      return kExitUsage;
    }
    size_list.push_back(*n);
  }
  std::vector<std::pair<int, int>> mix_list;
  for (absl::string_view m : absl::StrSplit(mixes, ',')) {
    std::vector<std::string> hv = absl::StrSplit(m, '/');
    int hot = 0, total = 0;
    if (hv.size() != 2 || !absl::SimpleAtoi(hv[0], &hot) || !absl::SimpleAtoi(hv[1], &total) || hot < 0 ||
        total < 1 || hot > total || total > 10000) {
      std::fprintf(stderr, "sctpdp bench: --mixes: bad mix '%s' (want HOT/TOTAL)\n", std::string(m).c_str());
      return kExitUsage;
    }
    mix_list.emplace_back(hot, total);
  }

  if (!json) {
    std::printf("%-8s %7s %7s %11s %9s %13s %12s%s\n", "engine", "bytes", "hot/all", "msgs/s", "Gbit/s",
                "cpu_s/Mmsg", "syscalls/msg", latency ? "   rtt_p50_us   rtt_p99_us" : "");
  }
  bool all_ok = true;
  for (uint64_t size : size_list) {
    for (auto [hot, total] : mix_list) {
      std::map<std::string, Cell> medians;
      for (const std::string& engine : engine_list) {
        std::vector<double> rate, gbit, cpu, sys, p50, p99;
        Cell last;
        for (int r = 0; r < repeats; ++r) {
          last = RunCell(engine, size, hot, total, duration, r, latency);
          if (!last.ok) {
            std::fprintf(stderr, "sctpdp bench: %s %llu %d/%d: %s\n", engine.c_str(), (unsigned long long)size, hot,
                         total, last.error.c_str());
            all_ok = false;
            continue;
          }
          if (json) {
            std::printf("{\"type\":\"cell\",\"engine\":\"%s\",\"size\":%llu,\"hot\":%d,\"associations\":%d,"
                        "\"repeat\":%d,\"messages_per_s\":%.1f,\"gbit_per_s\":%.6f,\"cpu_s_per_million\":%.3f,"
                        "\"syscalls_per_message\":%.4f,\"sent\":%.0f,\"received\":%.0f,\"rtt_p50_us\":%.0f,"
                        "\"rtt_p99_us\":%.0f}\n",
                        engine.c_str(), (unsigned long long)size, hot, total, r, last.msgs_per_s, last.gbit_per_s,
                        last.cpu_s_per_m, last.syscalls_per_msg, last.sent, last.received, last.p50_us, last.p99_us);
            std::fflush(stdout);
          }
          rate.push_back(last.msgs_per_s);
          gbit.push_back(last.gbit_per_s);
          cpu.push_back(last.cpu_s_per_m);
          sys.push_back(last.syscalls_per_msg);
          p50.push_back(last.p50_us);
          p99.push_back(last.p99_us);
        }
        if (rate.empty()) continue;  // every run failed (reported above): no row, no ratio
        Cell m = last;
        m.msgs_per_s = Median(rate);
        m.gbit_per_s = Median(gbit);
        m.cpu_s_per_m = Median(cpu);
        m.syscalls_per_msg = Median(sys);
        m.p50_us = Median(p50);
        m.p99_us = Median(p99);
        medians[engine] = m;
        if (!json) {
          std::printf("%-8s %7llu %3d/%-3d %11.0f %9.4f %13.2f %12.3f%s\n", engine.c_str(), (unsigned long long)size,
                      hot, total, m.msgs_per_s, m.gbit_per_s, m.cpu_s_per_m, m.syscalls_per_msg,
                      latency ? absl::StrFormat(" %12.0f %12.0f", m.p50_us, m.p99_us).c_str() : "");
          std::fflush(stdout);
        }
      }
      if (!medians.count("uring")) continue;
      const Cell& u = medians["uring"];
      for (const char* base : {"epoll", "threads"}) {
        if (!medians.count(base) || medians[base].msgs_per_s == 0) continue;
        const Cell& b = medians[base];
        const double r_rate = u.msgs_per_s / b.msgs_per_s;
        const double r_sys = b.syscalls_per_msg > 0 ? u.syscalls_per_msg / b.syscalls_per_msg : 0;
        const double r_cpu = b.cpu_s_per_m > 0 ? u.cpu_s_per_m / b.cpu_s_per_m : 0;
        if (json) {
          std::printf("{\"type\":\"ratio\",\"size\":%llu,\"hot\":%d,\"associations\":%d,\"versus\":\"%s\","
                      "\"messages_per_s\":%.3f,\"syscalls_per_message\":%.3f,\"cpu_per_message\":%.3f}\n",
                      (unsigned long long)size, hot, total, base, r_rate, r_sys, r_cpu);
        } else {
          std::printf("  uring / %-7s msgs/s x%.2f, syscalls/msg x%.3f, cpu/msg x%.2f\n", base, r_rate, r_sys, r_cpu);
        }
      }
    }
  }
  return all_ok ? kExitOk : kExitFailure;
}

}  // namespace sctpdp
