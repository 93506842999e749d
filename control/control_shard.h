// ControlShard: the control thread's OneToManyServer as one of the Router's
// shards (the last one). It serves the Router's sends to cold associations
// on the one-to-many sockets, keeps each one's counters in its route, and
// passes what the socket reports up: messages and errors as ShardEvents,
// association lifecycle (COMM_UP, the end, the socket closing) to the
// control plane.
#ifndef SCTPDP_CONTROL_CONTROL_SHARD_H_
#define SCTPDP_CONTROL_CONTROL_SHARD_H_

#include <memory>

#include "absl/status/statusor.h"
#include "control/one_to_many_server.h"
#include "control/peeloff.h"
#include "handoff/router.h"
#include "handoff/shard.h"

namespace sctpdp {

// The control plane's side of the one-to-many socket (DataPlane), on the
// control thread.
class ControlEvents {
 public:
  virtual ~ControlEvents() = default;
  // Every notification of a socket (COMM_UP, ends, ...), before the
  // application hears of it; `socket` is the one it was read on.
  virtual void OnSocketEvent(SocketId socket, const AssociationEvent& event) = 0;
  // The application ends association `id`, on the one-to-many socket:
  // its SHUTDOWN is queued, or its ABORT about to go.
  virtual void OnEnding(sctp_assoc_t id, bool abort) {}
  // A message of an association the directory does not know (rejected, or
  // gone): not delivered.
  virtual void OnStray(sctp_assoc_t id) {}
  // A message of `bytes` to association `id` went into the one-to-many
  // socket's queue (the hotness policy counts what a cold one sends).
  virtual void OnSent(sctp_assoc_t id, size_t bytes) {}
  virtual void OnTick(absl::Time now) = 0;
  // The socket is closed: its associations are gone.
  virtual void OnClosed() = 0;
};

class ControlShard final : public EngineShard<OneToManyServer>, private OneToManyHandler {
 public:
  // Shard `index` of `router`; it serves nothing until Start, so that it can
  // be added to the router before its first association comes.
  // `peeloff` (a test seam) branches associations off for Detach.
  ControlShard(int index, Router* router, ShardEvents* events, ControlEvents* control, const PeeloffOps& peeloff)
      : EngineShard(index), router_(router), events_(events), control_(control), peeloff_(peeloff) {}
  ~ControlShard() override;
  // Serves `socket` on a new control thread. `options.parcels` is set to the
  // router's.
  absl::Status Start(Fd socket, OneToManyOptions options);

  OneToManyServer& server() { return *server_; }

  // Shard.
  absl::Status Post(absl::AnyInvocable<void()> fn) override { return server_->Post(std::move(fn)); }
  absl::Status Adopt(Fd fd, Route* route) override;
  SendResult SendLocal(Route& route, const SendMeta& meta, SendBuffer&& buffer) override;
  SendResult SendLocalCopy(Route& route, const SendMeta& meta, absl::Span<const char> payload) override;
  SendResult SendLocalRetained(Route& route, const SendMeta& meta, RetainedMessage&& message,
                               absl::Span<const char> part) override;
  SendResult ShutdownLocal(Route& route) override;
  void AbortLocal(Route& route) override;
  void Detach(Route& route, absl::AnyInvocable<void(absl::StatusOr<DetachedSocket>)> done) override;
  int SocketOf(Route& route) override { return server_->FdOf(route.id.load(std::memory_order_relaxed)); }
  void ForEachSocket(absl::FunctionRef<void(Route& route, int fd)> fn) override;

 private:
  OneToManyServer& engine() override { return *server_; }
  // OneToManyHandler.
  void OnStart(OneToManyServer& s) override { Router::BindThread(this); }
  void OnMessage(OneToManyServer& s, const MessageView& m) override;
  void OnEvent(OneToManyServer& s, SocketId socket, const AssociationEvent& event) override;
  void OnError(OneToManyServer& s, sctp_assoc_t id, const absl::Status& error) override;
  void OnWritable(OneToManyServer& s, sctp_assoc_t id) override;
  void OnMail(OneToManyServer& s, absl::Span<const uint64_t> items) override { router_->OnMail(*this, items); }
  void OnTick(OneToManyServer& s, absl::Time now) override;
  void OnClosed(OneToManyServer& s) override { control_->OnClosed(); }

  Route* LiveRoute(sctp_assoc_t id);
  // `r` of a send of `bytes` to `route`, told to the control plane when kOk.
  SendResult Sent(Route& route, SendResult r, size_t bytes);

  Router* const router_;
  ShardEvents* const events_;
  ControlEvents* const control_;
  const PeeloffOps& peeloff_;
  std::unique_ptr<OneToManyServer> server_;
};

}  // namespace sctpdp

#endif  // SCTPDP_CONTROL_CONTROL_SHARD_H_
