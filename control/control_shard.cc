#include "control/control_shard.h"

#include "absl/strings/str_cat.h"

namespace sctpdp {

absl::Status ControlShard::Start(Fd socket, OneToManyOptions options) {
  options.index = static_cast<uint8_t>(index_);
  options.parcels = &router_->parcels();
  auto server = OneToManyServer::Create(std::move(socket), options, this);
  if (!server.ok()) return server.status();
  server_ = *std::move(server);
  return server_->Start();  // after server_ is set: its thread's callbacks use it
}

ControlShard::~ControlShard() {
  if (server_) server_->Stop();
}

absl::Status ControlShard::Adopt(Fd, Route* route) {
  // Associations leave the one-to-many socket; none comes back to it.
  return absl::UnimplementedError(absl::StrCat("association ", route->id.load(), ": the control thread adopts none"));
}

SendResult ControlShard::Sent(Route& route, SendResult r, size_t bytes) {
  if (r == SendResult::kOk) control_->OnSent(route.id.load(std::memory_order_relaxed), bytes);
  return r;
}

SendResult ControlShard::SendLocal(Route& route, const SendMeta& meta, SendBuffer&& buffer) {
  const size_t bytes = buffer.size();
  return Sent(route,
              server_->Send(route.id.load(std::memory_order_relaxed), meta.stream, meta.ppid, std::move(buffer),
                            meta.flags, meta.ttl_ms),
              bytes);
}

SendResult ControlShard::SendLocalCopy(Route& route, const SendMeta& meta, absl::Span<const char> payload) {
  return Sent(route,
              server_->SendCopy(route.id.load(std::memory_order_relaxed), meta.stream, meta.ppid, payload, meta.flags,
                                meta.ttl_ms),
              payload.size());
}

SendResult ControlShard::SendLocalRetained(Route& route, const SendMeta& meta, RetainedMessage&& message,
                                           absl::Span<const char> part) {
  const size_t bytes = part.empty() ? message.payload.size() : part.size();
  return Sent(route,
              server_->SendRetained(route.id.load(std::memory_order_relaxed), meta.stream, meta.ppid,
                                    std::move(message), part, meta.flags, meta.ttl_ms),
              bytes);
}

SendResult ControlShard::ShutdownLocal(Route& route) {
  const sctp_assoc_t id = route.id.load(std::memory_order_relaxed);
  const SendResult r = server_->Shutdown(id);
  if (r == SendResult::kOk) control_->OnEnding(id, false);
  return r;
}

void ControlShard::AbortLocal(Route& route) {
  const sctp_assoc_t id = route.id.load(std::memory_order_relaxed);
  control_->OnEnding(id, true);
  server_->Abort(id);
}

void ControlShard::Detach(Route& route, absl::AnyInvocable<void(absl::StatusOr<DetachedSocket>)> done) {
  absl::StatusOr<OneToManyServer::Detached> d = server_->Detach(
      route.id.load(std::memory_order_relaxed), [this](int fd, sctp_assoc_t id) { return PeelOff(fd, id, peeloff_); });
  if (!d.ok()) return done(d.status());
  done(DetachedSocket{std::move(d->fd), std::move(d->queued)});
}

Route* ControlShard::LiveRoute(sctp_assoc_t id) {
  Route* r = router_->directory().Find(id);
  return r != nullptr && r->Owner().shard == index_ ? r : nullptr;
}

void ControlShard::OnMessage(OneToManyServer&, const MessageView& m) {
  Route* r = LiveRoute(m.assoc_id);
  if (r == nullptr) return control_->OnStray(m.assoc_id);
  r->messages_in_control.Add(1);
  r->bytes_in_control.Add(m.payload.size());
  events_->OnMessage(*this, *r, m);
}

void ControlShard::OnEvent(OneToManyServer&, SocketId socket, const AssociationEvent& event) {
  control_->OnSocketEvent(socket, event);
}

void ControlShard::OnError(OneToManyServer&, sctp_assoc_t id, const absl::Status& error) {
  events_->OnError(*this, id != 0 ? LiveRoute(id) : nullptr, error);
}

void ControlShard::OnWritable(OneToManyServer&, sctp_assoc_t id) {
  if (Route* r = LiveRoute(id)) router_->OnEngineWritable(*this, *r);
}

void ControlShard::ForEachSocket(absl::FunctionRef<void(Route&, int)> fn) {
  server_->ForEachAssociation([&](sctp_assoc_t id, int fd) {
    if (Route* r = LiveRoute(id)) fn(*r, fd);
  });
}

void ControlShard::OnTick(OneToManyServer&, absl::Time now) {
  if (router_->MovesPending(*this)) router_->PollMoves(*this);
  control_->OnTick(now);
}

}  // namespace sctpdp
