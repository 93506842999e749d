// DataPlane: what an appliance embeds. One object holds the one-to-many SCTP
// listener (served by the control thread), the per-core workers, the
// association table, the hotness policy and the router, and gives the
// application one API wherever an association lives:
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
// sends issued during it are neither lost nor reordered (control/data_plane.cc
// for the receive side, handoff/router.h for sends).
//
// Outbound associations come from Connect: each connection has its own
// one-to-many socket on the control thread (bound to the local addresses it
// asks for), and its association lives exactly like an accepted one: cold on
// that socket, peeled to a worker when hot, the same Send and callbacks
// (AssociationInfo::connection names the Connect). When the peer or the
// network ends it, or an attempt fails, it is set up again after a capped,
// jittered backoff (ConnectOptions::reconnect). Shutdown and Abort end any
// association, wherever it lives.
//
// Threads: callbacks run on the control thread (cold associations) or on the
// owning worker's thread (hot ones); each association's callbacks come from
// one thread at a time, in order. Send and the queries are safe from any
// thread; a send from the thread that owns the association takes no lock and
// writes nothing another thread writes.
//
// Zero-copy: a received message is read in place (MessageView::payload
// points into the buffer the kernel wrote). Retain keeps it past the
// handler, to read later or to send on from where it arrived (on the
// one-to-many socket as on a worker, also behind a backlog); a reply built
// in an AcquireSendBuffer buffer is sent from there. Send(payload) copies the
// payload once. The kernel's own copy at sendmsg stays (SCTP has no SEND_ZC).
// Two copies remain, counted apart: a kept message whose association moves
// before it is sent is copied once to follow it (move_copies), and past a
// thread's retain_budget Retain refuses (retain_refused), so an echo copies.
#ifndef SCTPDP_CONTROL_DATA_PLANE_H_
#define SCTPDP_CONTROL_DATA_PLANE_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "control/association_table.h"
#include "control/connection.h"
#include "control/control_shard.h"
#include "control/hotness_policy.h"
#include "control/kernel_stats.h"
#include "control/listener.h"
#include "control/one_to_many_server.h"
#include "control/peeloff.h"
#include "dataplane/message.h"
#include "dataplane/retention.h"
#include "dataplane/send_buffer.h"
#include "dataplane/stats.h"
#include "dataplane/worker.h"
#include "handoff/router.h"
#include "handoff/shard.h"
#include "handoff/worker_shard.h"

namespace sctpdp {

class DataPlane;

struct DataPlaneOptions {
  // The one-to-many socket carries every cold association, so it gets more
  // than one socket's default buffer (forced past net.core.rmem_max where
  // permitted). With net.sctp.rcvbuf_policy=0 a full buffer closes every
  // association's window, and a closed window reopens only after a PMTU is
  // read or on a zero-window probe (seconds): the headroom keeps it open.
  ListenerOptions listener = {.rcvbuf = 4 << 20, .sndbuf = 4 << 20};
  // Whether to listen at all. false: an appliance that only originates
  // (Connect); port() is 0. The listener's streams, buffers and NODELAY are
  // still the defaults of every Connect.
  bool listen = true;
  // Outbound connections open at once (each has its own one-to-many socket
  // on the control thread); more: Connect says ResourceExhausted.
  unsigned max_connections = 1024;
  std::vector<int> worker_cpus;  // one worker per entry; empty: every allowed CPU
  WorkerOptions worker;          // each worker's (index and cpu are set per worker)
  OneToManyOptions control;      // the control thread's ring and buffers
  HotnessOptions hotness;
  size_t max_associations = 100000;      // more: the newcomer is aborted, counted
  // At most this many at once from one primary peer address (0: no limit):
  // more from it are aborted, counted (rejected, rejected_per_peer).
  size_t max_associations_per_peer = 0;
  unsigned max_peeled_per_worker = 0;    // <= worker.max_associations; 0: that
  absl::Duration evaluate_interval = absl::Milliseconds(50);
  // Shared send memory for messages sent from a thread that does not own
  // the association (parcels): count x size bytes of address space, pages
  // resident as used. A message may span up to 16 buffers.
  unsigned parcel_count = 4096;
  unsigned parcel_size = 65536;
  // Per association: messages from other threads accepted and not yet
  // queued by the owner; more: kQueueFull, OnWritable when down to half.
  unsigned cross_thread_limit = 1024;
  // The kernel's statistics of every association (SCTP_STATUS,
  // SCTP_GET_ASSOC_STATS, SCTP_GET_PEER_ADDR_INFO), read by its owner at
  // this interval (workers tick at least that often), and the stall
  // detector (control/kernel_stats.h): a stall is an OnError
  // (DeadlineExceeded) for the association, once at its onset.
  KernelStatsOptions kernel_stats;
  const PeeloffOps* peeloff_ops = nullptr;  // tests: a seam; null = the kernel
};

class DataPlaneHandler {
 public:
  virtual ~DataPlaneHandler() = default;
  virtual void OnAssociationUp(DataPlane& dp, const AssociationInfo& info) {}
  // `m.assoc_id` names the association wherever it lives. REQUIRES: the
  // payload is not kept past the return unless Retain()ed.
  virtual void OnMessage(DataPlane& dp, const MessageView& m) = 0;
  virtual void OnEvent(DataPlane& dp, sctp_assoc_t id, const AssociationEvent& event) {}
  // A path of a multi-homed association changed (SCTP_PEER_ADDR_CHANGE:
  // `change` is its SCTP_ADDR_*, PathChangeName): `path` as it is now
  // (removed: as it was). Association(id).paths has them all. After the
  // event's OnEvent, on the association's thread.
  virtual void OnPathChange(DataPlane& dp, sctp_assoc_t id, const PathInfo& path, uint16_t change) {}
  virtual void OnMoved(DataPlane& dp, sctp_assoc_t id, int worker) {}
  // Sends to `id` refused with kQueueFull or kNoBuffers may be retried.
  virtual void OnWritable(DataPlane& dp, sctp_assoc_t id) {}
  // id 0: the one-to-many socket (or an association not yet known).
  virtual void OnError(DataPlane& dp, sctp_assoc_t id, const absl::Status& error) {}
  // An attempt of connection `conn` (Connect) failed: the peer refused it or
  // never answered (SCTP_CANT_STR_ASSOC: Unavailable), no COMM_UP within
  // connect_timeout (DeadlineExceeded), or sctp_connectx refused it (its
  // errno). `retry_in`: when the next attempt starts; InfiniteDuration: none
  // (reconnect off, or max_attempts reached): the connection closes
  // (OnConnectionClosed). On the control thread. By default it is an
  // OnError with id 0.
  virtual void OnConnectFailed(DataPlane& dp, ConnectionId conn, const absl::Status& error,
                               absl::Duration retry_in) {
    OnError(dp, 0, error);
  }
  // Last call for connection `conn`: no attempt follows (Disconnect; the
  // application's Shutdown or Abort of its association; reconnect off or
  // max_attempts reached). Not at Stop. On the control thread.
  virtual void OnConnectionClosed(DataPlane& dp, ConnectionId conn) {}
  // The kernel's statistics of the associations one thread serves, just
  // read (KernelStatsOptions::interval), on that thread: for an
  // application's own metrics. A stall is also an OnError (DeadlineExceeded).
  virtual void OnKernelStats(DataPlane& dp, absl::Span<const AssociationKernelStats> reads) {}
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
  uint64_t peel_waits = 0;      // not yet: half a message, or a send in flight (cancelled), retried
  uint64_t rejected = 0;        // over max_associations (or the per-peer limit): aborted
  uint64_t rejected_per_peer = 0;  // of those, over max_associations_per_peer
  uint64_t stray_messages = 0;  // for an association the data plane does not know (rejected): dropped
  // The per-message path's accounting.
  uint64_t cross_thread_sends = 0;   // sends handed to another thread's owner (parcels)
  uint64_t cross_thread_copies = 0;  // of those, copied into their parcel (Send(payload) off the owner)
  uint64_t send_copies = 0;          // every payload copy on the way out (owner copies + cross-thread)
  // Copies the data plane cannot avoid, kept apart from send_copies:
  // messages waiting for an association when it moved, in memory that
  // cannot leave the old owner's thread (its receive buffers, its send
  // pool), copied once to go with it (handoff/router.h).
  uint64_t move_copies = 0;
  // Retain refused, every thread together: the thread already kept
  // retain_budget receive buffers. An application that must keep such a
  // message copies it (ReplyQueue: Send(payload), counted in send_copies).
  uint64_t retain_refused = 0;
  uint64_t dropped_sends = 0;        // accepted, then dropped (association gone): OnError said so
  uint64_t moves = 0;                // hand-overs to a worker completed
  uint64_t table_locks = 0;          // AssociationTable mutex acquisitions
  uint64_t shared_locks = 0;         // every shared mutex taken: the table, inboxes' command lanes, refused senders
  // Outbound connections (Connect).
  size_t connections = 0;            // open now (not closed)
  uint64_t connect_attempts = 0;     // sctp_connectx calls
  uint64_t connect_failures = 0;     // attempts that failed (refused, timed out, connectx error)
  uint64_t connects = 0;             // attempts whose association came up
  uint64_t path_changes = 0;         // SCTP_PEER_ADDR_CHANGE events applied
  uint64_t restarts = 0;             // SCTP_RESTART: the peer restarted an association
  // The kernel's per-association statistics, summed (KernelStatsOptions).
  KernelTotals kernel;
  // Microseconds from a move's decision to its adoption by the worker.
  Histogram move_latency_us;
};

// One outbound connection as Connection() reports it.
struct ConnectionInfo {
  ConnectionId id = 0;
  std::string description;  // "local -> remote:port" (ConnectPlan::Describe)
  ConnectionState state = ConnectionState::kConnecting;
  sctp_assoc_t assoc = 0;   // the association (up), or the attempt's (connecting)
  unsigned attempts = 0;    // started
  unsigned failures = 0;    // failed
  unsigned ups = 0;         // associations that came up
  absl::Time next_attempt = absl::InfiniteFuture();  // waiting: when the next starts
  absl::Status last_error;  // the last failed attempt's
  uint64_t seed = 0;        // its backoff's (ReconnectOptions::seed, or the one chosen)
};

class DataPlane : private ShardEvents, private RouterHandler, private ControlEvents {
 public:
  static absl::StatusOr<std::unique_ptr<DataPlane>> Create(const DataPlaneOptions& options,
                                                           DataPlaneHandler* handler);
  ~DataPlane() override;  // Stop()s.
  DataPlane(const DataPlane&) = delete;
  DataPlane& operator=(const DataPlane&) = delete;

  // Opens the listener and starts the control thread and the workers.
  absl::Status Start();
  // Stops accepting, drains queued sends and reads every message the kernel
  // already acknowledged to a peer (up to stop_deadline), ends every
  // association (OnAssociationDown) and joins every thread.
  void Stop();

  uint16_t port() const { return port_; }
  size_t workers() const { return workers_.size(); }

  // --- Sends, from any thread. Each refuses a stream at or past the
  // association's outbound streams (kBadStream), and the SCTP_EOF and
  // SCTP_ABORT flags (kBadFlags: Shutdown and Abort are those); after
  // Shutdown or Abort, kClosing. kQueueFull and kNoBuffers are
  // backpressure: keep the message, retry on OnWritable.
  // Copies `payload` once.
  SendResult Send(sctp_assoc_t id, uint16_t stream, uint32_t ppid, absl::Span<const char> payload,
                  uint16_t flags = 0, uint32_t ttl_ms = 0);
  // A buffer to build a message to `id` in place (on the owning thread its
  // own send memory, elsewhere a shared parcel); invalid when spent.
  SendBuffer AcquireSendBuffer(sctp_assoc_t id, size_t size);
  // Sends it without a copy. Consumed unless the result is backpressure.
  // REQUIRES: on the thread that acquired it.
  SendResult Send(sctp_assoc_t id, uint16_t stream, uint32_t ppid, SendBuffer&& buffer, uint16_t flags = 0,
                  uint32_t ttl_ms = 0);
  void Release(SendBuffer buffer);
  // Inside OnMessage: keeps `m` past the handler (at most retain_budget per
  // thread: ResourceExhausted past it).
  absl::StatusOr<Retained> Retain(const MessageView& m);
  // Sends `part` of a kept message (all of it when empty): from its receive
  // buffer when this thread owns the destination, else copied once.
  // Consumed unless backpressure.
  SendResult Send(sctp_assoc_t id, uint16_t stream, uint32_t ppid, Retained&& message,
                  absl::Span<const char> part = {}, uint16_t flags = 0, uint32_t ttl_ms = 0);
  void Release(Retained message);

  // --- Outbound associations (from any thread, once started).
  // Opens a one-to-many socket for the connection (SCTP_INITMSG streams,
  // buffers, NODELAY as the listener's unless `options` says otherwise),
  // binds it to `options.local` with sctp_bindx (or leaves the choice to the
  // kernel), and starts the first attempt: a non-blocking sctp_connectx to
  // every address of `options.remote` on the control thread. Returns at
  // once; OnAssociationUp (info.connection == the id returned) or
  // OnConnectFailed follows. Errors here: bad options (InvalidArgument),
  // the socket or its bind (the call and errno), FailedPrecondition when
  // not running, ResourceExhausted past max_connections.
  absl::StatusOr<ConnectionId> Connect(const ConnectOptions& options);
  // Ends connection `conn` for good: no more attempts; its association, if
  // up, is shut down gracefully (`abort`: aborted), then its socket closes.
  // NotFound for an unknown or closed connection.
  absl::Status Disconnect(ConnectionId conn, bool abort = false);
  // Closed connections stay listed (state kClosed).
  std::optional<ConnectionInfo> Connection(ConnectionId conn) const;
  std::vector<ConnectionInfo> Connections() const;

  // --- Ending an association, inbound or outbound, cold or peeled (from
  // any thread). An outbound one's connection is not set up again after
  // these (the application ended it; Connect again to reopen).
  // Graceful: a SHUTDOWN once everything accepted for `id` so far has been
  // sent (it keeps its place behind those sends, across a move); the
  // association then ends (OnAssociationDown, kShutdown). Sends after it are
  // refused (kClosing). NotFound: unknown; FailedPrecondition: already
  // ending; Unavailable: backpressure (retry on OnWritable).
  absl::Status Shutdown(sctp_assoc_t id);
  // An ABORT now (OnAssociationDown, kAborted). What the data plane had
  // accepted and not yet handed to the kernel is dropped and reported
  // (OnError; DataPlaneStats::dropped_sends and the send_dropped counters);
  // what the kernel holds, ABORT discards (SCTP). NotFound: unknown.
  absl::Status Abort(sctp_assoc_t id);

  // Receive flow control (Worker::PauseReceive): stop reading association
  // `id` so that the kernel closes its window and the peer's sender blocks;
  // resume when the application has caught up. The shared one-to-many
  // socket cannot stop for one association: a cold one is moved to a worker
  // first (however cold; OnMoved says when) and paused there, so messages
  // keep coming until then. One pinned to the listener by a `never` rule
  // gets OnError instead. NotFound for an unknown id. From any thread.
  absl::Status PauseReceive(sctp_assoc_t id);
  // Makes `address` (one of the association's peer addresses) its primary
  // path (SCTP_PRIMARY_ADDR), on the thread that owns it. Errors here:
  // NotFound (unknown id), InvalidArgument (not one of its addresses),
  // FailedPrecondition (not running); the kernel's own refusal, or a move
  // under way (Unavailable: again after OnMoved), comes as OnError. Done:
  // Association(id).paths shows it primary. From any thread.
  absl::Status SetPrimary(sctp_assoc_t id, const std::string& address);
  absl::Status ResumeReceive(sctp_assoc_t id);
  // Runs `fn` on the thread that owns association `id`, as one of its
  // callbacks: a send from it is the owner's (no lock, no parcel, the
  // owner's own send buffers) and Context(id) works. At once when called
  // there, else posted. If it cannot run, `failed` hears why (null: OnError
  // for `id`): NotFound when the association ended first, Unavailable when
  // it is between owners (OnMoved follows: run it again from there).
  // Errors here: FailedPrecondition (not running), NotFound (unknown id).
  // From any thread.
  absl::Status RunOn(sctp_assoc_t id, absl::AnyInvocable<void()> fn,
                     absl::AnyInvocable<void(const absl::Status&)> failed = nullptr);

  // The application's own slot for association `id` (null: unknown id),
  // carried with it from thread to thread: per-association state without a
  // lock of the application's. Starts null; whatever it points to is the
  // application's to free (OnAssociationDown is the last chance).
  // REQUIRES: called from a callback for `id` (its owner's thread).
  void** Context(sctp_assoc_t id);

  DataPlaneStats Snapshot() const;
  // The kernel's statistics of association `id` as its owner last read them
  // (at most KernelStatsOptions::interval old; nothing before the first
  // read, or when reading is off), and the `n` associations with the most
  // packets in their last interval. Any thread.
  std::optional<AssociationKernelStats> KernelStats(sctp_assoc_t id) const;
  std::vector<AssociationKernelStats> BusiestKernelStats(size_t n) const;
  std::optional<AssociationInfo> Association(sctp_assoc_t id) const;
  std::vector<AssociationInfo> Associations() const;

 private:
  DataPlane(const DataPlaneOptions& options, DataPlaneHandler* handler, HotnessPolicy policy);
  int control_index() const { return static_cast<int>(workers_.size()); }
  bool running() const { return started_.load() && !stopped_.load(); }
  AssociationInfo WithCounters(AssociationInfo info) const;

  // ShardEvents (every shard's thread).
  void OnMessage(Shard& shard, Route& route, const MessageView& m) override;
  void OnEvent(Shard& shard, Route* route, const AssociationEvent& event) override;
  void OnError(Shard& shard, Route* route, const absl::Status& error) override;
  void OnAdopted(Shard& shard, Route& route) override;
  void OnAdoptFailed(Shard& shard, Route& route, const absl::Status& error) override;
  void OnDown(Shard& shard, Route& route, DownReason reason, const AssocStats& stats) override;
  void OnTick(Shard& shard, absl::Time now) override { ReadKernelStats(shard, now); }
  // A pass of the shard's KernelStatsSampler when due (its thread).
  void ReadKernelStats(Shard& shard, absl::Time now);
  // Path changes and restarts, on the association's thread, before the
  // application hears of the event: the table (and at a restart the
  // route's stream count) follows. `fd`: the association's socket.
  void TrackEvent(sctp_assoc_t id, int fd, Route* route, const AssociationEvent& event);
  void SetPrimaryOn(Shard& shard, Route& route, const SocketAddress& address);
  // Outbound connections (the control thread; data_plane_connect.cc).
  struct Outbound {
    ConnectionId id = 0;
    ConnectOptions options;
    ConnectPlan plan;
    SocketId socket = kNoSocket;
    ConnectionMachine machine;
    uint64_t seed = 0;
    absl::Status last_error;
    bool shutdown_pending = false;  // Disconnect's Shutdown met backpressure: again at the next tick
    Outbound(ConnectionId i, const ConnectOptions& o, ConnectPlan p, uint64_t s)
        : id(i), options(o), plan(std::move(p)), machine(o, s), seed(s) {}
  };
  void StartConnection(std::unique_ptr<Outbound> out, Fd fd);
  void Attempt(Outbound& out, absl::Time now);
  void AttemptFailed(Outbound& out, const absl::Status& why, absl::Time now);
  // Whether an event of connection `out`'s socket goes on to the usual
  // handling (it is its current association's), after the connection's own.
  bool OnOutboundEvent(Outbound& out, const AssociationEvent& event, absl::Time now);
  void ConnectionEnded(sctp_assoc_t id);
  void PollConnections(absl::Time now);
  void EndConnection(Outbound& out, bool abort);
  void CloseConnection(Outbound& out);
  void NoteEndingByApplication(sctp_assoc_t id);
  Outbound* OutboundOf(sctp_assoc_t id);
  void Publish(const Outbound& out);
  absl::Status RunOnControl(absl::AnyInvocable<void()> fn);

  // RouterHandler.
  void OnWritable(sctp_assoc_t id) override { app_->OnWritable(*this, id); }
  void OnSendDropped(sctp_assoc_t id, const absl::Status& why) override { app_->OnError(*this, id, why); }
  // ControlEvents (the control thread).
  void OnSocketEvent(SocketId socket, const AssociationEvent& event) override;
  void OnEnding(sctp_assoc_t id, bool abort) override;
  void OnStray(sctp_assoc_t id) override { stray_.fetch_add(1, std::memory_order_relaxed); }
  void OnSent(sctp_assoc_t id, size_t bytes) override {
    policy_.Observe(id, bytes, absl::Now(), HotnessPolicy::Direction::kOut);
  }
  void OnTick(absl::Time now) override;
  void OnClosed() override;

  // The control thread: associations coming and going, and the moves.
  void OnAssociationUp(const AssociationEvent& ev, ConnectionId connection);
  void OnAssociationEnded(sctp_assoc_t id, DownReason reason);
  void Reject(sctp_assoc_t id, const std::string& why);
  Peer PrimaryPeer(sctp_assoc_t id, std::vector<std::string>* all);
  std::vector<std::string> LocalAddresses(sctp_assoc_t id);
  void PeelAndHandOff(sctp_assoc_t id, absl::Time now);
  void PeelFailed(sctp_assoc_t id, const absl::Status& why, absl::Time now);
  // A worker-side end: the route goes on the control thread (and an
  // outbound association's connection hears of it there).
  void Forget(Route& route);
  absl::Status SetReceive(sctp_assoc_t id, bool paused);

  const DataPlaneOptions options_;
  DataPlaneHandler* const app_;
  const PeeloffOps& peeloff_ops_;
  AssociationTable table_;
  HotnessPolicy policy_;  // control thread only
  std::unique_ptr<ParcelPool> parcels_;
  std::unique_ptr<Router> router_;
  std::vector<std::unique_ptr<WorkerShard>> workers_;
  std::unique_ptr<ControlShard> control_;
  // One per shard (workers, then the control thread), each its thread's.
  std::vector<std::unique_ptr<KernelStatsSampler>> kernel_samplers_;
  std::unique_ptr<KernelStatsBoard> kernel_board_;
  uint16_t port_ = 0;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopped_{false};

  struct Retry {
    absl::Time at;
    absl::Duration backoff;
  };
  std::unordered_map<sctp_assoc_t, Retry> retry_;  // control thread only
  // Associations the application is ending (Shutdown, Abort: true), control thread only.
  std::unordered_map<sctp_assoc_t, bool> ending_;

  // Outbound connections: the control thread's, and what queries read.
  std::map<ConnectionId, std::unique_ptr<Outbound>> outbound_;
  std::unordered_map<SocketId, ConnectionId> outbound_by_socket_;
  std::unordered_map<sctp_assoc_t, ConnectionId> outbound_by_assoc_;  // the current attempt's or association's id
  std::atomic<ConnectionId> next_connection_{1};
  mutable std::mutex connections_mu_;
  std::map<ConnectionId, ConnectionInfo> connection_info_;  // guarded by connections_mu_
  std::atomic<uint64_t> connect_attempts_{0}, connect_failures_{0}, connects_{0};

  std::atomic<uint64_t> peeled_{0}, peel_busy_{0}, peel_gone_{0}, peel_no_fds_{0}, peel_errors_{0},
      peel_deferred_{0}, peel_waits_{0}, rejected_{0}, rejected_per_peer_{0}, stray_{0}, path_changes_{0}, restarts_{0};
};

}  // namespace sctpdp

#endif  // SCTPDP_CONTROL_DATA_PLANE_H_
