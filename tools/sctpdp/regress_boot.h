// One boot of `sctpdp regress`: a guest of one side's kernel (tools/sctpvm)
// that checks `uname -r`, applies the side's sysctls and setup command,
// records the io_uring features and ring flags, runs the correctness suite
// and the bench, and reports it all as JSON lines; then the kernel console is
// scanned for oops, WARN, BUG, KASAN and lockdep lines.
#ifndef SCTPDP_TOOLS_SCTPDP_REGRESS_BOOT_H_
#define SCTPDP_TOOLS_SCTPDP_REGRESS_BOOT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tools/sctpdp/regress_side.h"

namespace sctpdp {

// What every boot shares (the guest's shape is the same for every side).
struct BootPlan {
  std::string sctpvm;               // tools/sctpvm
  std::string sctpdp;               // this binary, run in the guest
  std::vector<std::string> suite;   // guest test binaries
  std::vector<std::string> bench;   // `sctpdp bench` flags after --json
  int cpus = 2;
  int mem_mib = 1024;
  int timeout_s = 1800;
  std::string out_dir;              // boots write under OUT_DIR/boot-N
};

// One `"type":"cell"` line of `sctpdp bench --json`.
struct BenchCell {
  std::string engine, mode;
  uint64_t size = 0;
  int hot = 0, associations = 0, repeat = 0;
  std::map<std::string, double> metrics;  // the metrics regress compares, when present
  std::string Key() const;                // "uring echo 1024 8/64"
};

struct BootResult {
  std::string side;
  int index = 0;               // in the run's boot order, from 0
  int sctpvm_exit = -1;
  int resets = 0;              // boots that reset silently before the job and were retried (tools/sctpvm)
  double seconds = 0;
  bool untestable = false;     // the side cannot be tested: `why`
  bool crashed = false;        // the guest died or hung while the suite or bench ran: `why`
  std::string why;
  std::string release, io_uring_features, ring_flags;
  std::vector<std::pair<std::string, int>> tests;  // guest test binary, exit status
  int bench_exit = -1;
  std::vector<BenchCell> cells;        // every run, warm-ups included (repeat 0)
  std::vector<std::string> console;    // suspicious kernel console lines
  std::string dir;                     // where its logs are
};

// The metrics regress compares, in table order.
const std::vector<std::string>& RegressMetrics();

// The bash script a boot runs in the guest.
std::string GuestScript(const Side& side, const BootPlan& plan, const std::string& dir);

// Reads the guest's JSON lines into `result`; lines that are not JSON, and
// types or fields it does not know, are skipped (the bench gains fields).
void ParseGuestOutput(const std::string& text, BootResult* result);

// The console lines that show a kernel problem (oops, WARNING, BUG, KASAN,
// lockdep, hung task, soft lockup, RCU stall, panic), at most `limit`.
std::vector<std::string> ScanConsole(const std::string& text, size_t limit = 20);

// Runs argv (argv[0] a path) with stdin from /dev/null and stdout, stderr
// into the files `out`, `err`; returns its exit status (128 + signal), or -1
// with *error set when it could not be started.
int RunToFiles(const std::vector<std::string>& argv, const std::string& out, const std::string& err,
               std::string* error);

// Boots `side` once and runs the plan. Never fails: what went wrong is in the
// result (untestable, crashed, why).
BootResult RunBoot(const Side& side, const BootPlan& plan, int index);

}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_REGRESS_BOOT_H_
