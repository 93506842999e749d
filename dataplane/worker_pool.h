// WorkerPool: one Worker per configured CPU, each pinned to its CPU with its
// own ring, and the figures summed across them.
#ifndef SCTPDP_DATAPLANE_WORKER_POOL_H_
#define SCTPDP_DATAPLANE_WORKER_POOL_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "dataplane/worker.h"

namespace sctpdp {

class WorkerPool {
 public:
  // One worker per entry of `cpus` (-1: that worker is not pinned), indexed
  // 0..n-1 in that order; `options.index` and `options.cpu` are set per
  // worker. `handler` is shared: its callbacks run on every worker's thread.
  // REQUIRES: 1 <= cpus.size() <= 255.
  static absl::StatusOr<std::unique_ptr<WorkerPool>> Create(const WorkerOptions& options,
                                                            absl::Span<const int> cpus,
                                                            WorkerHandler* handler);
  // CPUs this process may run on (sched_getaffinity), in order.
  static std::vector<int> AllowedCpus();

  size_t size() const { return workers_.size(); }
  Worker& worker(size_t i) { return *workers_[i]; }
  // The worker that owns `assoc`.
  Worker& owner(AssocHandle assoc) { return *workers_[assoc.worker()]; }
  void Stop();
  WorkerStats Snapshot() const;  // summed

 private:
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_WORKER_POOL_H_
