#include "tools/sctpdp/engine.h"

#include "absl/status/status.h"
#include "tools/sctpdp/engines.h"

namespace sctpdp {

void MessageSink::Handle(sctp_assoc_t id, uint16_t stream, uint32_t ppid, absl::Span<const char> payload,
                         absl::FunctionRef<bool()> reply) {
  if (verify_) {
    std::lock_guard<std::mutex> l(mu_);
    checker_.ObserveMessage(id, stream, ppid, payload, seq_in_payload_);
  }
  if (echo_ && !reply()) echo_refused_.fetch_add(1, std::memory_order_relaxed);
}

void MessageSink::Restarted(sctp_assoc_t id) {
  restarts_.fetch_add(1, std::memory_order_relaxed);
  Ended(id);
}

void MessageSink::Ended(sctp_assoc_t id) {
  if (!verify_) return;
  std::lock_guard<std::mutex> l(mu_);
  checker_.Forget(id);
}

SequenceCounts MessageSink::counts() {
  std::lock_guard<std::mutex> l(mu_);
  return checker_.counts();
}

absl::StatusOr<std::unique_ptr<Engine>> MakeEngine(const std::string& name, const ServeConfig& config,
                                                   MessageSink* sink) {
  if (name == "uring") return MakeUringEngine(config, sink);
  if (name == "epoll") return MakeEpollEngine(config, sink);
  if (name == "threads") return MakeThreadsEngine(config, sink);
  return absl::InvalidArgumentError("unknown engine '" + name + "' (uring, epoll, threads)");
}

}  // namespace sctpdp
