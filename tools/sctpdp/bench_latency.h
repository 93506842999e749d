// `sctpdp bench --modes=latency`: round trips against offered load, with the
// load relative to measured capacity so that a slow and a fast machine's
// tables mean the same. Per (size, mix): each engine's capacity, found by a
// search over open-loop trials (capacity_search.h; a trial passes when every
// echo came back within the drain and the load kept its schedule), then
// round trips at set percentages of the best baseline's capacity (epoll or
// threads), the same offered load for every engine. Latency is from when
// each message was due (coordinated omission corrected); the figure from
// when it was sent is kept beside it, and so is how late the load sent.
#ifndef SCTPDP_TOOLS_SCTPDP_BENCH_LATENCY_H_
#define SCTPDP_TOOLS_SCTPDP_BENCH_LATENCY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tools/sctpdp/bench_cell.h"

namespace sctpdp {

struct LatencyOptions {
  absl::Duration trial_duration = absl::Seconds(2);
  int64_t trial_repeats = 1;  // a rate passes only if every repeat does
  absl::Duration trial_drain = absl::Milliseconds(250);
  double search_start = 1000;  // messages/s offered in all
  double precision = 0.05;     // the search stops within this relative width
  std::vector<int64_t> load_percents = {10, 50, 90};  // of the reference capacity
  absl::Duration point_duration = absl::Seconds(10);   // each round-trip run
  int64_t repeats = 3;                                 // round-trip runs per engine and load (medians)
};

// The latency mode on one (size, mix) over `engines`: JSON lines to `out`,
// and the table on stdout unless `out.stdout_json`. False when a run of
// serve and load failed (reported on stderr) or no engine passed a trial.
bool RunLatencyGroup(const std::vector<std::string>& engines, const Shape& base, const LatencyOptions& o,
                     uint64_t size, int hot, int total, const BenchOutput& out);

}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_BENCH_LATENCY_H_
