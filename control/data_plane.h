// DataPlane: what an appliance embeds. One object holds the one-to-many SCTP
// listener (served by the control thread), the per-core workers, the
// association table and the hotness policy, and gives the application one API
// wherever an association lives:
//
//   class Echo : public sctpdp::DataPlaneHandler {
//     void OnMessage(sctpdp::DataPlane& dp, const sctpdp::MessageView& m) override {
//       dp.Send(m.assoc_id, m.stream, m.ppid, m.payload);
//     }
//   };
//   Echo echo;
//   auto dp = sctpdp::DataPlane::Create({.listener = {.port = 2905}}, &echo);
//   (*dp)->Start();
//
// Associations start on the control thread's one-to-many socket. The policy
// watches their rates; a hot one is peeled off (sctp_peeloff_flags) and
// handed to the least-loaded worker, invisibly: every message reaches
// OnMessage exactly once and in order within its stream across the move, and
// sends issued during it are neither lost nor reordered. See data_plane.cc
// for how.
//
// Threads: callbacks run on the control thread (cold associations) or on the
// owning worker's thread (hot ones); each association's callbacks come from
// one thread at a time, in order. Send and the queries are safe from any
// thread.
#ifndef SCTPDP_CONTROL_DATA_PLANE_H_
#define SCTPDP_CONTROL_DATA_PLANE_H_

#include <atomic>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "control/association_table.h"
#include "control/hotness_policy.h"
#include "control/listener.h"
#include "control/peeloff.h"
#include "dataplane/worker.h"
#include "dataplane/worker_pool.h"

namespace sctpdp {

class DataPlane;

struct DataPlaneOptions {
  // The one-to-many socket carries every cold association, so it gets more
  // than one socket's default buffer (forced past net.core.rmem_max where
  // permitted). With net.sctp.rcvbuf_policy=0 a full buffer closes every
  // association's window, and a closed window reopens only after a PMTU is
  // read or on a zero-window probe (seconds): the headroom keeps it open.
  ListenerOptions listener = {.rcvbuf = 4 << 20, .sndbuf = 4 << 20};
  std::vector<int> worker_cpus;  // one worker per entry; empty: every allowed CPU
  WorkerOptions worker;          // each worker's (index and cpu are set per worker)
  WorkerOptions control;         // the control thread's ring and buffers
  HotnessOptions hotness;
  size_t max_associations = 100000;      // more: the newcomer is aborted, counted
  unsigned max_peeled_per_worker = 0;    // <= worker.max_associations; 0: that
  absl::Duration evaluate_interval = absl::Milliseconds(50);
  const PeeloffOps* peeloff_ops = nullptr;  // tests: a seam; null = the kernel
};

class DataPlaneHandler {
 public:
  virtual ~DataPlaneHandler() = default;
  virtual void OnAssociationUp(DataPlane& dp, const AssociationInfo& info) {}
  // `m.assoc_id` names the association wherever it lives. REQUIRES: the
  // payload is not kept past the return.
  virtual void OnMessage(DataPlane& dp, const MessageView& m) = 0;
  virtual void OnEvent(DataPlane& dp, sctp_assoc_t id, const AssociationEvent& event) {}
  virtual void OnMoved(DataPlane& dp, sctp_assoc_t id, int worker) {}
  // id 0: the one-to-many socket (or an association not yet known).
  virtual void OnWritable(DataPlane& dp, sctp_assoc_t id) {}
  virtual void OnError(DataPlane& dp, sctp_assoc_t id, const absl::Status& error) {}
  // Last call for the association.
  virtual void OnAssociationDown(DataPlane& dp, sctp_assoc_t id, DownReason reason, const AssocStats& stats) {}
};

struct DataPlaneStats {
  WorkerStats control;    // the one-to-many socket's thread
  WorkerStats workers;    // summed over the workers
  size_t associations = 0;
  size_t on_control = 0;
  size_t on_workers = 0;  // including moving
  uint64_t peeled = 0;          // handed to a worker
  uint64_t peel_busy = 0;       // EBUSY, retried with backoff
  uint64_t peel_gone = 0;       // EINVAL: gone before the peel
  uint64_t peel_no_fds = 0;     // EMFILE/ENFILE: lost
  uint64_t peel_errors = 0;     // anything else
  uint64_t peel_deferred = 0;   // every worker at max_peeled_per_worker
  uint64_t peel_waits = 0;      // a send in flight on the one-to-many socket: cancelled, retried
  uint64_t rejected = 0;        // over max_associations: aborted
};

class DataPlane {
 public:
  static absl::StatusOr<std::unique_ptr<DataPlane>> Create(const DataPlaneOptions& options,
                                                           DataPlaneHandler* handler);
  ~DataPlane();  // Stop()s.
  DataPlane(const DataPlane&) = delete;
  DataPlane& operator=(const DataPlane&) = delete;

  // Opens the listener and starts the control thread and the workers.
  absl::Status Start();
  // Stops accepting, drains queued sends (per WorkerOptions::stop_deadline),
  // ends every association (OnAssociationDown) and joins every thread.
  void Stop();

  uint16_t port() const { return port_; }
  size_t workers() const;

  // Sends to association `id` wherever it lives. On the thread that owns it
  // (inside its callbacks) the message goes straight to that thread's queue;
  // from elsewhere it waits in the association's outbox (one copy) and the
  // owner is woken. kQueueFull: the outbox or queue is at its limit.
  SendResult Send(sctp_assoc_t id, uint16_t stream, uint32_t ppid, absl::Span<const char> payload,
                  uint16_t flags = 0, uint32_t ttl_ms = 0);

  // Receive flow control (Worker::PauseReceive): stop reading association
  // `id` so that the kernel closes its window and the peer's sender blocks;
  // resume when the application has caught up. The shared one-to-many
  // socket cannot stop for one association: a cold one is moved to a worker
  // first (however cold; OnMoved says when) and paused there, so messages
  // keep coming until then. One pinned to the listener by a `never` rule
  // gets OnError instead. NotFound for an unknown id. From any thread.
  absl::Status PauseReceive(sctp_assoc_t id);
  absl::Status ResumeReceive(sctp_assoc_t id);

  DataPlaneStats Snapshot() const;
  std::optional<AssociationInfo> Association(sctp_assoc_t id) const { return table_.Get(id); }
  std::vector<AssociationInfo> Associations() const { return table_.List(); }

 private:
  class ControlHandler;
  class WorkerHandlerImpl;
  friend class ControlHandler;
  friend class WorkerHandlerImpl;

  DataPlane(const DataPlaneOptions& options, DataPlaneHandler* handler, HotnessPolicy policy);

  // Control thread.
  void OnAssociationUp(const AssociationEvent& ev);
  void OnAssociationEnded(sctp_assoc_t id, DownReason reason);
  void Evaluate(absl::Time now);
  void PeelAndHandOff(sctp_assoc_t id, absl::Time now);
  void AbortOnListener(sctp_assoc_t id);
  Peer PrimaryPeer(sctp_assoc_t id, std::vector<std::string>* all);
  void EndAllOnControl(DownReason reason);
  // A peeled association whose handoff failed: its fd is closed, it is lost.
  void LoseMoving(sctp_assoc_t id, const absl::Status& why);

  // Any thread.
  absl::Status SetReceive(sctp_assoc_t id, bool paused);
  void Kick(Location where, int worker);
  void FlushOutboxes(Location where, int worker);
  SendFn SenderFor(Location where, int worker);
  // Send failures met under the table lock, reported once it is released
  // (an application may call Send from OnError).
  void ReportDeferredErrors();

  const DataPlaneOptions options_;
  DataPlaneHandler* const app_;
  const PeeloffOps& peeloff_ops_;
  AssociationTable table_;
  HotnessPolicy policy_;  // control thread only
  std::unique_ptr<ControlHandler> control_handler_;
  std::unique_ptr<WorkerHandlerImpl> worker_handler_;
  std::unique_ptr<Worker> control_;
  std::unique_ptr<WorkerPool> pool_;
  AssocHandle listener_;  // on control_; set on the control thread before any traffic
  uint16_t port_ = 0;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};

  struct Retry {
    absl::Time at;
    absl::Duration backoff;
  };
  std::unordered_map<sctp_assoc_t, Retry> retry_;  // control thread only
  std::atomic<bool> control_kick_{false};
  std::unique_ptr<std::atomic<bool>[]> worker_kick_;

  std::atomic<uint64_t> peeled_{0}, peel_busy_{0}, peel_gone_{0}, peel_no_fds_{0}, peel_errors_{0},
      peel_deferred_{0}, peel_waits_{0}, rejected_{0};
};

}  // namespace sctpdp

#endif  // SCTPDP_CONTROL_DATA_PLANE_H_
