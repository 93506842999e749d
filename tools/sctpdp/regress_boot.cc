#include "tools/sctpdp/regress_boot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <type_traits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"

namespace sctpdp {
namespace {

// sctpvm's own exit codes (tools/sctpvm).
constexpr int kVmNoKernel = 120, kVmBoot = 121, kVmDied = 122, kVmTimeout = 124, kVmUsage = 125;

std::string Basename(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A guest test's name: its binary without the `_bin` sctp_guest_test adds.
std::string TestName(const std::string& path) {
  std::string name = Basename(path);
  if (absl::EndsWith(name, "_bin")) name.resize(name.size() - 4);
  return name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Why sctpvm could not run the job: its last own line, and the guest init's
// failure line from the console when there is one.
std::string VmFailure(const std::string& stderr_text, const std::string& console) {
  std::string why, init;
  for (absl::string_view line : absl::StrSplit(stderr_text, '\n')) {
    if (absl::StartsWith(line, "sctpvm: ") && !absl::StartsWith(line, "sctpvm: ---")) why = std::string(line.substr(8));
  }
  for (absl::string_view line : absl::StrSplit(console, '\n')) {
    const size_t at = line.find("sctpvm-init: FAILED: ");
    if (at != absl::string_view::npos) init = std::string(line.substr(at + 21));
  }
  if (!init.empty()) return why.empty() ? init : absl::StrCat(init, " (", why, ")");
  return why.empty() ? "tools/sctpvm failed without saying why" : why;
}

// j[key] if it is there with the type of `fallback`, else `fallback`: a
// guest's line with a field of another type is read as without it
// (nlohmann's value() throws on a type mismatch).
std::string Field(const nlohmann::json& j, const char* key, const std::string& fallback) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

template <typename Int>
Int Field(const nlohmann::json& j, const char* key, Int fallback) {
  static_assert(std::is_integral_v<Int>);
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return fallback;
  if (it->is_number_unsigned()) {
    const uint64_t v = it->get<uint64_t>();
    return v <= static_cast<uint64_t>(std::numeric_limits<Int>::max()) ? static_cast<Int>(v) : fallback;
  }
  const int64_t v = it->get<int64_t>();
  const bool fits = v >= static_cast<int64_t>(std::numeric_limits<Int>::min()) &&
                    (v < 0 || static_cast<uint64_t>(v) <= static_cast<uint64_t>(std::numeric_limits<Int>::max()));
  return fits ? static_cast<Int>(v) : fallback;
}

void ParseCell(const nlohmann::json& j, BootResult* result) {
  BenchCell c;
  c.engine = Field(j, "engine", std::string());
  c.mode = Field(j, "mode", std::string());
  c.size = Field(j, "size", uint64_t{0});
  c.hot = Field(j, "hot", 0);
  c.associations = Field(j, "associations", 0);
  c.repeat = Field(j, "repeat", 0);
  for (const std::string& m : RegressMetrics()) {
    auto it = j.find(m);
    if (it != j.end() && it->is_number()) c.metrics[m] = it->get<double>();
  }
  result->cells.push_back(std::move(c));
}

// Classifies the end of a boot: untestable, crashed, or fine.
void Judge(const Side& side, const std::string& stderr_text, const std::string& console, BootResult* r) {
  const int rc = r->sctpvm_exit;
  if (rc == kVmNoKernel || rc == kVmBoot || rc == kVmUsage || rc < 0) {
    r->untestable = true;
    if (r->why.empty()) r->why = VmFailure(stderr_text, console);
  } else if (rc == kVmDied || rc == kVmTimeout) {
    r->crashed = true;
    r->why = rc == kVmDied ? "the guest died while the suite or bench ran (console kept)"
                           : "the guest hung: tools/sctpvm timed out (console kept)";
  } else if (!r->why.empty()) {
    r->untestable = true;  // the setup failed in the guest
  } else if (r->release.empty()) {
    r->untestable = true;
    r->why = absl::StrCat("the guest job did not report its kernel (tools/sctpvm exit ", rc, ")");
  } else if (r->release != side.release) {
    r->untestable = true;
    r->why = absl::StrCat("booted kernel ", r->release, ", asked for ", side.release);
  }
}

}  // namespace

int RunToFiles(const std::vector<std::string>& argv, const std::string& out, const std::string& err, std::string* error) {
  const pid_t pid = fork();
  if (pid < 0) {
    *error = absl::StrCat("fork: ", std::strerror(errno));
    return -1;
  }
  if (pid == 0) {
    const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (o < 0 || e < 0 || in < 0) _exit(127);
    dup2(in, STDIN_FILENO);
    dup2(o, STDOUT_FILENO);
    dup2(e, STDERR_FILENO);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

const std::vector<std::string>& RegressMetrics() {
  static const std::vector<std::string> kMetrics = {"messages_per_s", "cpu_s_per_million", "syscalls_per_message",
                                                    "rtt_p50_us", "rtt_p99_us"};
  return kMetrics;
}

std::string BenchCell::Key() const { return absl::StrCat(engine, " ", mode, " ", size, " ", hot, "/", associations); }

std::string GuestScript(const Side& side, const BootPlan& plan, const std::string& dir) {
  std::string s = absl::StrCat("# generated by sctpdp regress: one boot of side ", side.name, "\n",
                               "cd ", ShellQuote(dir), " || exit 1\n",
                               "printf '{\"type\":\"uname\",\"release\":\"%s\"}\\n' \"$(uname -r)\"\n",
                               "failed() { printf '{\"type\":\"setup_failed\",\"what\":\"%s\"}\\n' \"$1\"; exit 0; }\n");
  for (const std::string& kv : side.sysctls) {
    const std::string key = kv.substr(0, kv.find('='));
    std::string path = "/proc/sys/" + key;
    std::replace(path.begin(), path.end(), '.', '/');
    absl::StrAppend(&s, "echo ", ShellQuote(kv.substr(key.size() + 1)), " > ", ShellQuote(path),
                    " 2>>setup.log || failed 'sysctl ", key, "'\n");
  }
  if (!side.setup.empty()) {
    absl::StrAppend(&s, "bash -c ", ShellQuote(side.setup), " >>setup.log 2>&1 || failed 'setup command (",
                    dir, "/setup.log)'\n");
  }
  absl::StrAppend(&s, ShellQuote(plan.sctpdp), " features 2>features.err\n");
  for (const std::string& t : plan.suite) {
    const std::string name = TestName(t);
    absl::StrAppend(&s, ShellQuote(t), " >test-", name, ".log 2>&1\n",
                    "printf '{\"type\":\"test\",\"name\":\"", name, "\",\"exit\":%d}\\n' $?\n");
  }
  if (!plan.bench.empty()) {
    absl::StrAppend(&s, ShellQuote(plan.sctpdp), " bench --json");
    for (const std::string& a : plan.bench) absl::StrAppend(&s, " ", ShellQuote(a));
    absl::StrAppend(&s, " 2>bench.err\nprintf '{\"type\":\"bench_exit\",\"exit\":%d}\\n' $?\n");
  }
  return s;
}

void ParseGuestOutput(const std::string& text, BootResult* result) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line.front() != '{') continue;
    const nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    const std::string type = Field(j, "type", std::string());
    if (type == "cell") {
      ParseCell(j, result);
    } else if (type == "uname") {
      result->release = Field(j, "release", std::string());
    } else if (type == "features") {
      result->io_uring_features = Field(j, "io_uring", std::string());
      result->ring_flags = Field(j, "ring_flags", std::string());
    } else if (type == "test") {
      result->tests.emplace_back(Field(j, "name", std::string("?")), Field(j, "exit", -1));
    } else if (type == "bench_exit") {
      result->bench_exit = Field(j, "exit", -1);
    } else if (type == "setup_failed") {
      result->why = "in the guest: " + Field(j, "what", std::string("setup")) + " failed";
    }
  }
}

std::vector<std::string> ScanConsole(const std::string& text, size_t limit) {
  static const char* const kSigns[] = {
      "Oops",         "WARNING:",     "BUG:",          "KASAN",        "UBSAN",
      "lockdep",      "possible circular locking",      "possible recursive locking",
      "INFO: task",   "soft lockup",  "hard LOCKUP",   "rcu_sched self-detected stall",
      "rcu: INFO:",   "Kernel panic", "general protection fault",      "Call Trace:",
      "kernel BUG",   "list_add corruption",           "refcount_t:"};
  std::vector<std::string> found;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    for (const char* sign : kSigns) {
      if (absl::StrContains(line, sign)) {
        if (found.size() < limit) found.emplace_back(absl::StripTrailingAsciiWhitespace(line));
        break;
      }
    }
  }
  return found;
}

BootResult RunBoot(const Side& side, const BootPlan& plan, int index) {
  BootResult r;
  r.side = side.name;
  r.index = index;
  r.dir = absl::StrCat(plan.out_dir, "/boot-", index, "-", side.name);
  mkdir(r.dir.c_str(), 0755);
  const std::string script = r.dir + "/guest.sh", console = r.dir + "/console.log";
  std::ofstream(script) << GuestScript(side, plan, r.dir);
  // loglevel=5: WARN() and lockdep print at KERN_WARNING, which sctpvm's
  // default console level (4) hides.
  std::vector<std::string> argv = {plan.sctpvm,  "--force-vm", "--kernel", side.image,
                                   "--modules",  side.modules, "--cpus", std::to_string(plan.cpus),
                                   "--mem",      std::to_string(plan.mem_mib), "--timeout",
                                   std::to_string(plan.timeout_s), "--console", console,
                                   "--append",   absl::StrCat("loglevel=5", side.append.empty() ? "" : " ", side.append),
                                   "--rw",       r.dir, "--", "bash", script};
  const absl::Time start = absl::Now();
  std::string error;
  r.sctpvm_exit = RunToFiles(argv, r.dir + "/stdout.jsonl", r.dir + "/stderr.txt", &error);
  r.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  ParseGuestOutput(ReadFile(r.dir + "/stdout.jsonl"), &r);
  const std::string stderr_text = ReadFile(r.dir + "/stderr.txt");
  for (absl::string_view line : absl::StrSplit(stderr_text, '\n')) {
    r.resets += absl::StrContains(line, "the guest reset before the job started");
  }
  const std::string console_text = ReadFile(console);
  r.console = ScanConsole(console_text);
  if (r.sctpvm_exit < 0) r.why = error;
  Judge(side, stderr_text, console_text, &r);
  return r;
}

}  // namespace sctpdp
