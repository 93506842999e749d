#include "handoff/worker_shard.h"

namespace sctpdp {

absl::StatusOr<std::unique_ptr<WorkerShard>> WorkerShard::Create(int index, WorkerOptions options, Router* router,
                                                                  ShardEvents* events) {
  options.index = static_cast<uint8_t>(index);
  options.parcels = &router->parcels();
  std::unique_ptr<WorkerShard> shard(new WorkerShard(index, router, events, options.max_associations));
  auto worker = Worker::Create(options, shard.get());
  if (!worker.ok()) return worker.status();
  shard->worker_ = *std::move(worker);
  return shard;
}

WorkerShard::~WorkerShard() {
  if (worker_) worker_->Stop();
}

Route* WorkerShard::RouteOf(AssocHandle handle) {
  if (!handle.valid() || handle.worker() != index_ || handle.slot() >= by_slot_.size()) return nullptr;
  Route* r = by_slot_[handle.slot()];
  return r != nullptr && r->handle == handle.value ? r : nullptr;
}

absl::Status WorkerShard::Post(absl::AnyInvocable<void()> fn) {
  return worker_->Post([fn = std::move(fn)](Worker&) mutable { fn(); });
}

absl::Status WorkerShard::Adopt(Fd fd, Route* route) {
  // The route's index rides as the cookie: every message carries it back.
  return worker_->Adopt(std::move(fd), route->id.load(std::memory_order_relaxed), route->index);
}

SendResult WorkerShard::SendLocal(Route& route, const SendMeta& meta, SendBuffer&& buffer) {
  return worker_->Send(AssocHandle{route.handle}, meta.stream, meta.ppid, std::move(buffer), meta.flags, meta.ttl_ms);
}

SendResult WorkerShard::SendLocalCopy(Route& route, const SendMeta& meta, absl::Span<const char> payload) {
  return worker_->SendCopy(AssocHandle{route.handle}, meta.stream, meta.ppid, payload, meta.flags, meta.ttl_ms);
}

SendResult WorkerShard::SendLocalRetained(Route& route, const SendMeta& meta, RetainedMessage&& message,
                                          absl::Span<const char> part) {
  return worker_->SendRetained(AssocHandle{route.handle}, meta.stream, meta.ppid, std::move(message), part,
                               meta.flags, meta.ttl_ms);
}

SendResult WorkerShard::ShutdownLocal(Route& route) {
  // The worker sends SCTP_EOF once its queue for the association is empty.
  worker_->Shutdown(AssocHandle{route.handle});
  return SendResult::kOk;
}

void WorkerShard::AbortLocal(Route& route) { worker_->Abort(AssocHandle{route.handle}); }

void WorkerShard::Detach(Route& route, absl::AnyInvocable<void(absl::StatusOr<DetachedSocket>)> done) {
  worker_->Detach(AssocHandle{route.handle},
                  [done = std::move(done)](absl::StatusOr<DetachedAssociation> d) mutable {
                    if (!d.ok()) return done(d.status());
                    // A Shutdown not carried out yet goes on as the marker it
                    // came as (Router::Shutdown), behind the queue.
                    if (d->shutdown_requested) d->queued.push_back(OutgoingMessage{0, 0, SCTP_EOF, 0, {}});
                    done(DetachedSocket{std::move(d->fd), std::move(d->queued)});
                  });
}

void WorkerShard::OnStart(Worker&) {
  Router::BindThread(this);
  events_->OnStart(*this);
}

void WorkerShard::OnAdopted(Worker&, AssocHandle assoc, sctp_assoc_t, uint64_t cookie) {
  Route& r = *router_->directory().at(static_cast<uint32_t>(cookie));
  by_slot_[assoc.slot()] = &r;
  router_->FinishMove(*this, r, assoc.value);
  events_->OnAdopted(*this, r);
}

void WorkerShard::OnMessage(Worker&, const MessageView& m) {
  events_->OnMessage(*this, *router_->directory().at(static_cast<uint32_t>(m.cookie)), m);
}

void WorkerShard::OnEvent(Worker&, AssocHandle assoc, const AssociationEvent& event) {
  events_->OnEvent(*this, RouteOf(assoc), event);
}

void WorkerShard::OnError(Worker&, AssocHandle assoc, const absl::Status& error) {
  events_->OnError(*this, RouteOf(assoc), error);
}

void WorkerShard::OnWritable(Worker&, AssocHandle assoc) {
  if (Route* r = RouteOf(assoc)) router_->OnEngineWritable(*this, *r);
}

void WorkerShard::OnAdoptFailed(Worker&, sctp_assoc_t, uint64_t cookie, const absl::Status& error) {
  Route& r = *router_->directory().at(static_cast<uint32_t>(cookie));
  router_->LoseMove(*this, r);
  events_->OnAdoptFailed(*this, r, error);
}

void WorkerShard::OnAssociationDown(Worker&, AssocHandle assoc, DownReason reason, const AssocStats& stats) {
  Route* r = RouteOf(assoc);
  if (r == nullptr) return;
  by_slot_[assoc.slot()] = nullptr;
  router_->OnDown(*this, *r);
  events_->OnDown(*this, *r, reason, stats);
}

void WorkerShard::ForEachSocket(absl::FunctionRef<void(Route&, int)> fn) {
  for (Route* r : by_slot_) {
    if (r == nullptr) continue;
    if (const int fd = SocketOf(*r); fd >= 0) fn(*r, fd);
  }
}

void WorkerShard::OnTick(Worker&, absl::Time now) {
  if (router_->MovesPending(*this)) router_->PollMoves(*this);
  events_->OnTick(*this, now);
}

}  // namespace sctpdp
