// The serving engines `sctpdp serve --engine` runs, behind one interface, and
// what they all do with a message (sink, echo, verify).
//   uring    the data plane (control/data_plane.h)
//   epoll    the classic server: one thread, epoll + non-blocking recvmsg on
//            the one-to-many socket, no peeloff
//   threads  peel every association off at COMM_UP, a thread each with a
//            blocking recvmsg loop
#ifndef SCTPDP_TOOLS_SCTPDP_ENGINE_H_
#define SCTPDP_TOOLS_SCTPDP_ENGINE_H_

#include <netinet/in.h>
#include <netinet/sctp.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "control/kernel_stats.h"
#include "control/listener.h"
#include "dataplane/histogram.h"
#include "tools/sctpdp/sequence_checker.h"

namespace sctpdp {

struct ServeConfig {
  ListenerOptions listener;
  std::string mode = "sink";   // sink | echo | verify
  std::vector<int> worker_cpus;
  size_t max_message = 1 << 20;
  size_t max_associations = 100000;
  size_t max_associations_per_peer = 0;  // from one primary peer address at once; 0: no limit
  double peel_rate = 500;
  absl::Duration sustain = absl::Milliseconds(500);
  bool peel_all = false;
  // uring: the workers' adaptive coalescing (WorkerOptions::coalesce_delay).
  absl::Duration coalesce = absl::Milliseconds(2);
  unsigned coalesce_batch = 2;
  bool coalesce_by_naps = false;  // WorkerOptions::coalesce_by_naps
  bool bundle_sends = true;  // uring: WorkerOptions::bundle_sends
  // uring: at Stop, how long to go on sending what is queued and reading what
  // the kernel already acknowledged to peers before closing (stop_deadline).
  absl::Duration drain = absl::Seconds(2);
  // Accept associations on `listener`. uring may only originate (false).
  bool listen = true;
  // uring: originate one association (DataPlane::Connect) to `connect` on
  // `connect_port`, from `local` (empty: the kernel's choice), and serve it
  // like an accepted one.
  std::vector<std::string> connect;
  uint16_t connect_port = 0;
  std::vector<std::string> local;
  absl::Duration connect_timeout = absl::Seconds(10);
  bool reconnect = true;
  // uring: the kernel's per-association statistics and stall detector
  // (DataPlaneOptions::kernel_stats), and how many of the busiest
  // associations are reported one by one.
  KernelStatsOptions kernel_stats;
  size_t kernel_top = 10;
};

// uring: the kernel's statistics as the data plane read them, and its moves.
struct KernelReport {
  KernelTotals totals;
  std::vector<AssociationKernelStats> busiest;  // ServeConfig::kernel_top at most, busiest first
  Histogram move_latency_us;
  uint64_t peel_busy = 0, peel_gone = 0, peel_no_fds = 0, peel_errors = 0, peel_deferred = 0;
};

struct EngineStats {
  uint64_t associations = 0;   // live now
  uint64_t peeled = 0;
  uint64_t messages_in = 0, bytes_in = 0, messages_out = 0;
  uint64_t syscalls = 0;       // every syscall on the serving path
  uint64_t control_syscalls = 0;     // uring: of those, the control thread's (the one-to-many socket)
  uint64_t control_messages_in = 0;  // uring: messages the control thread received (cold, or not yet moved)
  uint64_t copied_bytes = 0;   // user-space copies of received payload
  uint64_t copies = 0;         // messages copied in user space (reassembled, or copied on the way out)
  uint64_t move_copies = 0;    // of those, waiting for an association that moved (uring)
  uint64_t retain_refused = 0; // echoes of messages not kept in their receive buffer: copied (uring)
  uint64_t shared_locks = 0;   // shared mutex acquisitions by the serving path (data plane only)
  uint64_t naps = 0;           // uring: the workers' coalescing sleeps (syscalls of their own)
  uint64_t gathers = 0;        // uring: coalescing inside io_uring_enter instead (min-timeout waits)
  uint64_t errors = 0;
  uint64_t oversize_messages = 0;  // over max_message: association aborted, none of it delivered
  uint64_t rejected = 0;           // associations over max_associations: aborted
  uint64_t discarded = 0;          // received, never delivered: a partial message cut off by its
                                   // association's end, or a message of a rejected association
  uint64_t replies_dropped = 0;    // echoes accepted, then dropped (association gone, or stopping)
  uint64_t connects = 0;           // --connect: associations set up
  uint64_t connect_failures = 0;   // --connect: attempts that failed
  std::optional<KernelReport> kernel;  // uring only
};

// What every engine does with a message. Thread-safe.
class MessageSink {
 public:
  // `seq_in_payload` (verify, load --ppid=N): every message's PPID is N and
  // its sequence number is in the payload (SequenceChecker::ObserveMessage).
  explicit MessageSink(const std::string& mode, std::optional<uint32_t> seq_in_payload = std::nullopt)
      : echo_(mode == "echo"), verify_(mode == "verify"), seq_in_payload_(seq_in_payload) {}
  // `reply` sends the payload back (echo mode); false: refused for good.
  void Handle(sctp_assoc_t id, uint16_t stream, uint32_t ppid, absl::Span<const char> payload,
              absl::FunctionRef<bool()> reply);
  // Association `id`'s peer restarted (SCTP_RESTART): counted; in verify
  // mode its streams' numbering starts again.
  void Restarted(sctp_assoc_t id);
  // Association `id` ended: verify mode forgets it (churn stays flat).
  void Ended(sctp_assoc_t id);
  uint64_t restarts() const { return restarts_.load(std::memory_order_relaxed); }
  bool echo() const { return echo_; }
  SequenceCounts counts();
  uint64_t echo_refused() const { return echo_refused_.load(std::memory_order_relaxed); }

 private:
  const bool echo_, verify_;
  const std::optional<uint32_t> seq_in_payload_;
  std::mutex mu_;
  SequenceChecker checker_;  // guarded by mu_
  std::atomic<uint64_t> echo_refused_{0};
  std::atomic<uint64_t> restarts_{0};
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual absl::Status Start() = 0;  // listening when it returns
  virtual void Stop() = 0;           // drains and joins; idempotent
  virtual uint16_t port() const = 0;
  virtual size_t threads() const = 0;
  virtual EngineStats Snapshot() const = 0;
  // An engine that originates (ServeConfig::connect): its connection is
  // closed for good (reconnect off, or it gave up), and why if it never
  // came up. Others: never closed.
  virtual bool ConnectionClosed() const { return false; }
  virtual std::string ConnectError() const { return ""; }
};

// "uring", "epoll" or "threads".
absl::StatusOr<std::unique_ptr<Engine>> MakeEngine(const std::string& name, const ServeConfig& config,
                                                   MessageSink* sink);

}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_ENGINE_H_
