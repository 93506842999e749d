// --engine uring: the data plane.
#include <deque>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "control/data_plane.h"
#include "tools/sctpdp/engines.h"

namespace sctpdp {
namespace {

class UringEngine : public Engine, public DataPlaneHandler {
 public:
  UringEngine(const ServeConfig& c, MessageSink* sink) : config_(c), sink_(sink) {}
  ~UringEngine() override { Stop(); }

  absl::Status Start() override {
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
    o.worker.coalesce_delay = config_.coalesce;
    o.worker.coalesce_min_batch = config_.coalesce_batch;
    o.worker.bundle_sends = config_.bundle_sends;  // the control ring's one-to-many socket never bundles
    auto dp = DataPlane::Create(o, this);
    if (!dp.ok()) return dp.status();
    dp_ = *std::move(dp);
    return dp_->Start();
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
    e.copied_bytes = s.control.totals.copied_bytes + s.workers.totals.copied_bytes;
    e.errors = errors_.load(std::memory_order_relaxed);
    return e;
  }

  void OnMessage(DataPlane& dp, const MessageView& m) override {
    sink_->Handle(m.assoc_id, m.stream, m.ppid, m.payload, [&] { return Echo(dp, m); });
  }
  // Echo with backpressure: on kQueueFull or kNoBuffers the reply (and every later one of
  // that association, to keep their order) waits for OnWritable.
  bool Echo(DataPlane& dp, const MessageView& m) {
    std::lock_guard<std::mutex> l(echo_mu_);
    auto& backlog = backlog_[m.assoc_id];
    if (backlog.empty()) {  // the usual case: straight from the receive buffer, no copy here
      const SendResult r = dp.Send(m.assoc_id, m.stream, m.ppid, m.payload);
      if (!IsBackpressure(r)) return r == SendResult::kOk;
    }
    backlog.push_back({m.stream, m.ppid, 0, 0, std::string(m.payload.begin(), m.payload.end())});
    // Receive flow control: a long backlog stops reading this association
    // (its peer's window closes) until the backlog is sent; a cold one is
    // moved to a worker first.
    if (backlog.size() == kPauseBacklog && dp.PauseReceive(m.assoc_id).ok()) paused_.insert(m.assoc_id);
    return true;
  }
  bool SendBacklog(DataPlane& dp, sctp_assoc_t id, std::deque<OutgoingMessage>& backlog) {
    bool ok = true;
    while (!backlog.empty()) {
      const OutgoingMessage& o = backlog.front();
      const SendResult r = dp.Send(id, o.stream, o.ppid, o.payload);
      if (IsBackpressure(r)) return ok;  // until OnWritable
      ok &= r == SendResult::kOk;
      backlog.pop_front();
    }
    if (paused_.erase(id) > 0) dp.ResumeReceive(id).IgnoreError();  // ended meanwhile: nothing to resume
    return ok;
  }
  void OnWritable(DataPlane& dp, sctp_assoc_t) override {
    std::lock_guard<std::mutex> l(echo_mu_);
    for (auto& [id, backlog] : backlog_) SendBacklog(dp, id, backlog);
  }
  void OnAssociationDown(DataPlane&, sctp_assoc_t id, DownReason, const AssocStats&) override {
    std::lock_guard<std::mutex> l(echo_mu_);
    backlog_.erase(id);
    paused_.erase(id);
  }
  void OnError(DataPlane&, sctp_assoc_t, const absl::Status&) override {
    errors_.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  const ServeConfig config_;
  MessageSink* const sink_;
  std::unique_ptr<DataPlane> dp_;
  std::atomic<uint64_t> errors_{0};
  std::mutex echo_mu_;
  static constexpr size_t kPauseBacklog = 1024;  // echoes waiting: stop reading their association
  absl::flat_hash_map<sctp_assoc_t, std::deque<OutgoingMessage>> backlog_;  // guarded by echo_mu_
  absl::flat_hash_set<sctp_assoc_t> paused_;                                // guarded by echo_mu_
};

}  // namespace

std::unique_ptr<Engine> MakeUringEngine(const ServeConfig& config, MessageSink* sink) {
  return std::make_unique<UringEngine>(config, sink);
}

}  // namespace sctpdp
