#include "dataplane/worker_pool.h"

#include <sched.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sctpdp {

absl::StatusOr<std::unique_ptr<WorkerPool>> WorkerPool::Create(const WorkerOptions& options,
                                                               absl::Span<const int> cpus,
                                                               WorkerHandler* handler) {
  if (cpus.empty() || cpus.size() > 255) {
    return absl::InvalidArgumentError(absl::StrCat("worker pool: ", cpus.size(), " CPUs (want 1..255)"));
  }
  std::unique_ptr<WorkerPool> pool(new WorkerPool());
  for (size_t i = 0; i < cpus.size(); ++i) {
    WorkerOptions o = options;
    o.index = static_cast<uint8_t>(i);
    o.cpu = cpus[i];
    auto w = Worker::Create(o, handler);
    if (!w.ok()) {
      return absl::Status(w.status().code(), absl::StrCat("worker ", i, " (cpu ", cpus[i], "): ", w.status().message()));
    }
    pool->workers_.push_back(std::move(*w));
  }
  return pool;
}

std::vector<int> WorkerPool::AllowedCpus() {
  std::vector<int> out;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return {-1};
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) out.push_back(cpu);
  }
  return out;
}

void WorkerPool::Stop() {
  for (auto& w : workers_) w->Stop();
}

WorkerStats WorkerPool::Snapshot() const {
  WorkerStats sum;
  for (const auto& w : workers_) sum += w->Snapshot();
  return sum;
}

}  // namespace sctpdp
