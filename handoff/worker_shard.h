// WorkerShard: a per-core Worker as one of the Router's shards. It owns the
// Worker, routes its callbacks (OnMail to the Router, messages and events to
// the ShardEvents above it) and serves the Router's sends on its engine.
#ifndef SCTPDP_HANDOFF_WORKER_SHARD_H_
#define SCTPDP_HANDOFF_WORKER_SHARD_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "dataplane/worker.h"
#include "handoff/router.h"
#include "handoff/shard.h"

namespace sctpdp {

class WorkerShard final : public EngineShard<Worker>, private WorkerHandler {
 public:
  // Starts a worker as shard `index` of `router`. `options.parcels` is set
  // to the router's.
  static absl::StatusOr<std::unique_ptr<WorkerShard>> Create(int index, WorkerOptions options, Router* router,
                                                             ShardEvents* events);
  ~WorkerShard() override;

  Worker& worker() { return *worker_; }
  // The route of a live association on this worker (worker thread only).
  Route* RouteOf(AssocHandle handle);

  // Shard.
  absl::Status Post(absl::AnyInvocable<void()> fn) override;
  absl::Status Adopt(Fd fd, Route* route) override;
  SendResult SendLocal(Route& route, const SendMeta& meta, SendBuffer&& buffer) override;
  SendResult SendLocalCopy(Route& route, const SendMeta& meta, absl::Span<const char> payload) override;
  SendResult SendLocalRetained(Route& route, const SendMeta& meta, RetainedMessage&& message,
                               absl::Span<const char> part) override;
  SendResult ShutdownLocal(Route& route) override;
  void AbortLocal(Route& route) override;
  void Detach(Route& route, absl::AnyInvocable<void(absl::StatusOr<DetachedSocket>)> done) override;
  int SocketOf(Route& route) override { return worker_->FdOf(AssocHandle{route.handle}); }
  void ForEachSocket(absl::FunctionRef<void(Route& route, int fd)> fn) override;

 private:
  Worker& engine() override { return *worker_; }
  WorkerShard(int index, Router* router, ShardEvents* events, unsigned slots)
      : EngineShard(index), router_(router), events_(events), by_slot_(slots, nullptr) {}

  // WorkerHandler.
  void OnStart(Worker& w) override;
  void OnAdopted(Worker& w, AssocHandle assoc, sctp_assoc_t assoc_id, uint64_t cookie) override;
  void OnMessage(Worker& w, const MessageView& m) override;
  void OnEvent(Worker& w, AssocHandle assoc, const AssociationEvent& event) override;
  void OnError(Worker& w, AssocHandle assoc, const absl::Status& error) override;
  void OnWritable(Worker& w, AssocHandle assoc) override;
  void OnAdoptFailed(Worker& w, sctp_assoc_t assoc_id, uint64_t cookie, const absl::Status& error) override;
  void OnAssociationDown(Worker& w, AssocHandle assoc, DownReason reason, const AssocStats& stats) override;
  void OnMail(Worker& w, absl::Span<const uint64_t> items) override { router_->OnMail(*this, items); }
  void OnTick(Worker& w, absl::Time now) override;

  Router* const router_;
  ShardEvents* const events_;
  std::vector<Route*> by_slot_;  // worker thread: the route of each live slot
  std::unique_ptr<Worker> worker_;
};

}  // namespace sctpdp

#endif  // SCTPDP_HANDOFF_WORKER_SHARD_H_
