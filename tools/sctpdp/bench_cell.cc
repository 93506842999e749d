#include "tools/sctpdp/bench_cell.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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

// One line of any length (load's summary carries every association);
// nothing at the end.
std::optional<std::string> ReadLine(FILE* f) {
  if (f == nullptr) return std::nullopt;
  char* buf = nullptr;
  size_t cap = 0;
  const ssize_t n = getline(&buf, &cap, f);
  std::optional<std::string> s;
  if (n > 0) s.emplace(buf, static_cast<size_t>(n));
  std::free(buf);
  if (s && s->back() == '\n') s->pop_back();
  return s;
}

int Wait(const Child& c) {
  int status = 0;
  waitpid(c.pid, &status, 0);
  if (c.out) fclose(c.out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The load's flags for a cell.
std::vector<std::string> LoadArgs(const Shape& shape, const std::string& port, uint64_t size, int hot,
                                  int associations) {
  const bool echo = shape.mode != "sink";
  std::string rate = "--rate=0";
  if (shape.mode == "paced") rate = "--rate=400";
  if (shape.mode == "latency") rate = absl::StrCat("--rate=", shape.rate);
  return {"sctpdp",
          "load",
          "--connect=127.0.0.1:" + port,
          absl::StrCat("--associations=", associations),
          absl::StrCat("--hot=", hot),
          rate,
          absl::StrCat("--cold-rate=", kColdRate),
          absl::StrCat("--size=", size),
          "--streams=4",
          absl::StrCat("--duration=", absl::FormatDuration(shape.duration)),
          absl::StrCat("--bundle=", shape.bundle),
          echo ? "--echo" : "--no-echo",
          absl::StrCat("--window=", shape.mode == "echo" ? shape.window : 0),
          absl::StrCat("--drain=", absl::FormatDuration(shape.drain))};
}

// The figures of a cell from load's summary and serve's.
void Measure(const Json& load, const Json& summary, Cell* c) {
  const double secs = NumberAt(load, "seconds");
  c->sent = NumberAt(load, "messages");
  c->received = NumberAt(summary, "messages_in");
  c->msgs_per_s = secs > 0 ? c->received / secs : 0;
  c->gbit_per_s = c->msgs_per_s * c->size * 8 / 1e9;
  c->cpu_s_per_m = c->received > 0 ? NumberAt(summary, "cpu_s") / c->received * 1e6 : 0;
  c->syscalls_per_msg = NumberAt(summary, "syscalls_per_message");
  const auto rtt = load.find("rtt_us");
  if (rtt != load.end()) {
    c->p50_us = NumberAt(*rtt, "p50");
    c->p99_us = NumberAt(*rtt, "p99");
  }
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  c->load_cpu = secs > 0 && cpus > 0 ? NumberAt(load, "cpu_s") / (secs * cpus) : 0;
}

}  // namespace

Cell RunCell(const std::string& engine, const Shape& shape, uint64_t size, int hot, int associations, int repeat) {
  Cell c{engine, shape.mode, size, hot, associations, repeat};
  std::unique_ptr<FILE, int (*)(FILE*)> log(tmpfile(), fclose);
  auto fail = [&](std::string error) {
    c.error = std::move(error);
    if (log == nullptr) return;
    rewind(log.get());
    while (std::optional<std::string> line = ReadLine(log.get())) c.error += "\n  | " + *line;
  };
  // Every engine gets the same socket buffers, sized for the load: with the
  // defaults, associations sharing a one-to-many socket stall on its window.
  Child serve = Spawn({"sctpdp", "serve", "--engine=" + engine, "--listen=127.0.0.1:0",
                       shape.mode == "sink" ? "--mode=sink" : "--mode=echo", "--peel-rate=200", "--sustain=200ms",
                       "--rcvbuf=4MiB", "--sndbuf=4MiB",
                       engine == "uring" && shape.bundle_sends ? "--bundle-sends" : "--no-bundle-sends"},
                      log.get());
  // Its first line is prose ("sctpdp serve: listening on port N, ..."), not JSON.
  const std::string line = ReadLine(serve.out).value_or("");
  const size_t at = line.find("port ");
  if (at == std::string::npos) {
    fail("serve did not start");
    kill(serve.pid, SIGKILL);
    Wait(serve);
    return c;
  }
  const std::string port = line.substr(at + 5, line.find(',', at) - at - 5);
  Child load = Spawn(LoadArgs(shape, port, size, hot, associations), log.get());
  const std::optional<Json> load_json = ParseJsonObject(ReadLine(load.out).value_or(""));
  const int load_rc = Wait(load);
  kill(serve.pid, SIGTERM);
  std::optional<Json> summary;
  while (std::optional<std::string> l = ReadLine(serve.out)) {
    std::optional<Json> j = ParseJsonObject(*l);
    if (j && StringAt(*j, "type") == "summary") summary = std::move(j);
  }
  const int serve_rc = Wait(serve);
  const bool measured = load_rc == 0 || (load_rc == kExitFailure && shape.mode == "latency");
  if (!measured || !load_json || serve_rc != 0 || !summary) {
    fail(absl::StrFormat("load exit %d, serve exit %d; their log:", load_rc, serve_rc));
    return c;
  }
  Measure(*load_json, *summary, &c);
  c.load = *load_json;
  c.complete = load_rc == 0;
  c.ok = true;
  return c;
}

}  // namespace sctpdp
