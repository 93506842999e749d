// --engine uring: the data plane, accepting (the listener) and/or originating
// (--connect: DataPlane::Connect, reconnecting unless --no-reconnect). Echo replies go from the receive buffer
// (ReplyQueue: no copy while the retain budget lasts; past it, counted as
// retain_refused), in order under backpressure; an association with 1024
// replies waiting stops being read until they are out.
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "control/data_plane.h"
#include "control/reply_queue.h"
#include "tools/sctpdp/engines.h"

namespace sctpdp {
namespace {

class UringEngine : public Engine, public DataPlaneHandler {
 public:
  UringEngine(const ServeConfig& c, MessageSink* sink) : config_(c), sink_(sink) {}
  ~UringEngine() override { Stop(); }

  absl::Status Start() override {
    auto dp = DataPlane::Create(Options(), this);
    if (!dp.ok()) return dp.status();
    dp_ = *std::move(dp);
    replies_ = std::make_unique<ReplyQueue>(dp_.get(), kPauseAt);
    if (absl::Status s = dp_->Start(); !s.ok()) return s;
    if (config_.connect.empty()) return absl::OkStatus();
    ConnectOptions c;
    c.remote = config_.connect;
    c.port = config_.connect_port;
    c.local = config_.local;
    c.connect_timeout = config_.connect_timeout;
    c.reconnect.enabled = config_.reconnect;
    absl::StatusOr<ConnectionId> conn = dp_->Connect(c);
    return conn.ok() ? absl::OkStatus() : conn.status();
  }
  void Stop() override {
    if (dp_) dp_->Stop();
  }
  uint16_t port() const override { return dp_->port(); }
  size_t threads() const override { return dp_->workers() + 1; }
  EngineStats Snapshot() const override {
    const DataPlaneStats s = dp_->Snapshot();
    EngineStats e;
    e.associations = s.associations;
    e.peeled = s.peeled;
    e.messages_in = s.control.totals.messages_in + s.workers.totals.messages_in;
    e.bytes_in = s.control.totals.bytes_in + s.workers.totals.bytes_in;
    e.messages_out = s.control.totals.messages_out + s.workers.totals.messages_out;
    e.syscalls = s.control.Syscalls() + s.workers.Syscalls();
    e.control_syscalls = s.control.Syscalls();
    e.control_messages_in = s.control.totals.messages_in;
    e.copied_bytes = s.control.totals.copied_bytes + s.workers.totals.copied_bytes;
    // Every copy: on the way out, at moves, reassemblies, and replies that
    // waited in the ReplyQueue as copies.
    e.copies = s.send_copies + s.move_copies + s.control.totals.reassemblies + s.workers.totals.reassemblies +
               replies_->copies();
    e.move_copies = s.move_copies;
    e.retain_refused = s.retain_refused;
    e.shared_locks = s.shared_locks;
    e.naps = s.workers.naps;
    e.gathers = s.workers.gathers;
    e.errors = errors_.load(std::memory_order_relaxed);
    e.oversize_messages = s.control.oversize_messages + s.workers.oversize_messages;
    e.rejected = s.rejected;
    // As the baselines count it: a rejected association's messages, and
    // partial messages their association's end cut off.
    e.discarded = s.stray_messages + s.control.partials_dropped + s.workers.partials_dropped;
    // Echoes accepted, then not sent: dropped by the router, failed in the
    // kernel (EPIPE after the peer's SHUTDOWN), dropped from a send queue
    // at the association's end, or still waiting in the ReplyQueue then.
    e.replies_dropped = s.dropped_sends + s.control.totals.send_errors + s.workers.totals.send_errors +
                        s.control.totals.send_dropped + s.workers.totals.send_dropped +
                        held_dropped_.load(std::memory_order_relaxed);
    e.connects = s.connects;
    e.connect_failures = s.connect_failures;
    e.kernel = KernelReport{.totals = s.kernel,
                            .busiest = dp_->BusiestKernelStats(config_.kernel_top),
                            .move_latency_us = s.move_latency_us,
                            .peel_busy = s.peel_busy,
                            .peel_gone = s.peel_gone,
                            .peel_no_fds = s.peel_no_fds,
                            .peel_errors = s.peel_errors,
                            .peel_deferred = s.peel_deferred};
    return e;
  }
  bool ConnectionClosed() const override { return closed_.load(); }
  std::string ConnectError() const override {
    std::lock_guard<std::mutex> l(mu_);
    return connect_error_;
  }

  void OnMessage(DataPlane&, const MessageView& m) override {
    sink_->Handle(m.assoc_id, m.stream, m.ppid, m.payload, [&] { return replies_->Echo(m) == SendResult::kOk; });
  }
  void OnEvent(DataPlane&, sctp_assoc_t id, const AssociationEvent& ev) override {
    if (ev.type == EventType::kAssocChange && ev.state == SCTP_RESTART) sink_->Restarted(id);
  }
  void OnWritable(DataPlane&, sctp_assoc_t id) override { replies_->OnWritable(id); }
  void OnAssociationDown(DataPlane&, sctp_assoc_t id, DownReason, const AssocStats&) override {
    held_dropped_.fetch_add(replies_->OnAssociationDown(id), std::memory_order_relaxed);
    sink_->Ended(id);
  }
  // A stall (DeadlineExceeded) is counted by the kernel statistics, not here.
  void OnError(DataPlane&, sctp_assoc_t, const absl::Status& error) override {
    if (error.code() != absl::StatusCode::kDeadlineExceeded) errors_.fetch_add(1, std::memory_order_relaxed);
  }
  // Counted as connect_failures; the last one is kept for the exit line.
  void OnConnectFailed(DataPlane&, ConnectionId, const absl::Status& error, absl::Duration) override {
    std::lock_guard<std::mutex> l(mu_);
    connect_error_ = std::string(error.message());
  }
  void OnConnectionClosed(DataPlane&, ConnectionId) override { closed_.store(true); }

 private:
  static constexpr size_t kPauseAt = 1024;  // replies waiting: stop reading their association

  DataPlaneOptions Options() const {
    DataPlaneOptions o;
    const ListenerOptions defaults = o.listener;
    o.listener = config_.listener;
    if (o.listener.rcvbuf == 0) o.listener.rcvbuf = defaults.rcvbuf;  // 0: the data plane's default
    if (o.listener.sndbuf == 0) o.listener.sndbuf = defaults.sndbuf;
    o.worker_cpus = config_.worker_cpus;
    o.worker.max_message_size = config_.max_message;
    o.control.max_message_size = config_.max_message;
    o.hotness.peel_messages_per_sec = config_.peel_rate;
    o.hotness.sustain = config_.sustain;
    o.hotness.peel_all = config_.peel_all;
    o.max_associations = config_.max_associations;
    o.max_associations_per_peer = config_.max_associations_per_peer;
    o.worker.coalesce_delay = config_.coalesce;
    o.worker.coalesce_min_batch = config_.coalesce_batch;
    o.worker.coalesce_by_naps = config_.coalesce_by_naps;
    o.worker.bundle_sends = config_.bundle_sends;  // the one-to-many socket never bundles
    o.listen = config_.listen;
    o.kernel_stats = config_.kernel_stats;
    o.worker.stop_deadline = config_.drain;
    o.control.stop_deadline = config_.drain;
    return o;
  }

  const ServeConfig config_;
  MessageSink* const sink_;
  std::unique_ptr<DataPlane> dp_;
  std::unique_ptr<ReplyQueue> replies_;
  std::atomic<uint64_t> errors_{0};
  std::atomic<bool> closed_{false};
  mutable std::mutex mu_;
  std::string connect_error_;  // guarded by mu_
  std::atomic<uint64_t> held_dropped_{0};  // replies waiting in replies_ when their association ended
};

}  // namespace

std::unique_ptr<Engine> MakeUringEngine(const ServeConfig& config, MessageSink* sink) {
  return std::make_unique<UringEngine>(config, sink);
}

}  // namespace sctpdp
