// One cell of `sctpdp bench`: serve and load run together once, as child
// processes of this binary (each engine's CPU and syscalls are its own),
// and what they reported; where bench's JSON lines go.
#ifndef SCTPDP_TOOLS_SCTPDP_BENCH_CELL_H_
#define SCTPDP_TOOLS_SCTPDP_BENCH_CELL_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tools/sctpdp/json_line.h"

namespace sctpdp {

// What the load does in a cell:
//   sink:    one-way, as fast as the server takes it.
//   echo:    request/response, closed loop: each association keeps up to
//            --window messages awaiting their echo (saturating; round trips
//            include that queueing).
//   paced:   echo at 400 msg/s per hot association (twice the peel rate, so
//            hot associations do move).
//   latency: echo, open loop at `rate` per hot association (bench_latency.cc
//            picks it): a capacity trial, or round trips at a set load.
// At full speed, load sends bursts of --bundle messages with MSG_MORE, as a
// busy peer's stack bundles DATA chunks; every engine gets the same load.
struct Shape {
  std::string mode;
  absl::Duration duration;
  int64_t bundle = 16;
  int64_t window = 64;
  bool bundle_sends = true;  // serve --bundle-sends for the uring engine
  double rate = 0;           // latency: messages/s per hot association
  absl::Duration drain = absl::Seconds(5);  // load --drain: how long echoes still out get at the end
};

// Cold associations send this many messages/s in every mode.
inline constexpr double kColdRate = 5;

struct Cell {
  std::string engine, mode;
  uint64_t size = 0;
  int hot = 0, associations = 0, repeat = 0;
  double msgs_per_s = 0, gbit_per_s = 0, cpu_s_per_m = 0, syscalls_per_msg = 0;
  double sent = 0, received = 0;
  double p50_us = 0, p99_us = 0;  // round trips from the send (echo, paced, latency)
  double load_cpu = 0;            // the load's share of the machine's CPUs (near 1: the load is the limit)
  // Open loop (latency): load's summary as it wrote it: offered_per_s, due,
  // behind_at_stop, echoed, and the percentile objects rtt_us,
  // rtt_from_schedule_us, pacing_lag_us (see load.cc).
  Json load;
  bool complete = false;  // load exited 0: no send error, every echo came back
  bool ok = false;        // serve and load ran and reported
  std::string error;
};

// Runs serve and load once. A cell whose load exits 1 (an error, or echoes
// missing) has ok == false, unless `shape.mode` is latency: there it is
// measured (ok) and incomplete, a finding rather than a failure.
Cell RunCell(const std::string& engine, const Shape& shape, uint64_t size, int hot, int associations, int repeat);

// Where bench's JSON lines go: stdout (--json) and/or a file (--plot).
struct BenchOutput {
  bool stdout_json = false;
  FILE* file = nullptr;
  void Emit(const Json& j) const {
    if (stdout_json) PrintJsonLine(j, stdout);
    if (file != nullptr) PrintJsonLine(j, file);
  }
};

}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_BENCH_CELL_H_
