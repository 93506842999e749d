// Shard: what the Router needs of a thread that owns associations (the
// control thread's one-to-many server, each per-core Worker). Adapters
// implement it over their engine: handoff/worker_shard.h for a Worker,
// control/ for the one-to-many socket.
#ifndef SCTPDP_HANDOFF_SHARD_H_
#define SCTPDP_HANDOFF_SHARD_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "dataplane/fd.h"
#include "dataplane/inbox.h"
#include "dataplane/message.h"
#include "dataplane/retention.h"
#include "dataplane/send_buffer.h"
#include "dataplane/stats.h"
#include "handoff/directory.h"

namespace sctpdp {

// A socket handed back by its owner for a move (Shard::Detach), still open,
// with the messages that were queued for it, oldest first.
struct DetachedSocket {
  Fd fd;
  std::vector<OutgoingMessage> queued;
};

struct SendMeta {
  uint16_t stream = 0;
  uint32_t ppid = 0;   // host byte order
  uint16_t flags = 0;  // SCTP_UNORDERED, ...
  uint32_t ttl_ms = 0;
};

class Shard {
 public:
  virtual ~Shard() = default;
  // Its place in the Router's shard list; stamped in every route it owns.
  virtual int index() const = 0;

  // --- Any thread.
  // Hands `item` to the owner's thread (Router::OnMail follows there).
  virtual Inbox::Push Mail(uint64_t item) = 0;
  virtual absl::Status Post(absl::AnyInvocable<void()> fn) = 0;
  // Gives an association that moved here its socket; the owner adopts it
  // and calls Router::FinishMove on its thread (or Router::LoseMove).
  virtual absl::Status Adopt(Fd fd, Route* route) = 0;

  // --- The owner's thread.
  virtual SendBuffer AcquireLocal(size_t size) = 0;
  virtual void ReleaseLocal(SendBuffer buffer) = 0;
  // Keeps the message being handled past its handler (bounded).
  virtual absl::StatusOr<RetainedMessage> RetainLocal(const MessageView& m) = 0;
  // Queues a message for a route this shard serves (its engine's own send).
  // A buffer or retained message is consumed unless the result is
  // backpressure.
  virtual SendResult SendLocal(Route& route, const SendMeta& meta, SendBuffer&& buffer) = 0;
  virtual SendResult SendLocalCopy(Route& route, const SendMeta& meta, absl::Span<const char> payload) = 0;
  virtual SendResult SendLocalRetained(Route& route, const SendMeta& meta, RetainedMessage&& message,
                                       absl::Span<const char> part) = 0;
  virtual void ReleaseRetained(RetainedMessage message) = 0;
  // The application ends a route's association here (Router::Shutdown, in
  // its place behind the sends; Router::Abort): a graceful SHUTDOWN once
  // everything queued for it is sent (backpressure: not now), or an ABORT
  // now (what is queued is dropped and reported).
  virtual SendResult ShutdownLocal(Route& route) = 0;
  virtual void AbortLocal(Route& route) = 0;
  // Hands a live route's association back for a move to another shard:
  // `done` (on this thread) gets the socket and what was queued, oldest
  // first, or an error if it ended meanwhile.
  virtual void Detach(Route& route, absl::AnyInvocable<void(absl::StatusOr<DetachedSocket>)> done) = 0;
  // The Router wants its PollMoves called again at the next loop iteration.
  virtual void RequestTick() = 0;
  // Takes the mail already in this shard's inbox now (Router::OnMail runs
  // for it), without waiting for its wake-up.
  virtual void DrainMail() = 0;
  // This shard's mail positions (EventLoop::MailReserved, MailTaken).
  virtual uint64_t MailReserved() = 0;
  virtual uint64_t MailTaken() = 0;
  // The socket a live route's association is on (-1: none), and every live
  // route with its socket: for getsockopt and setsockopt (the kernel's
  // statistics, SetPrimary); the shard keeps and closes it.
  virtual int SocketOf(Route& route) = 0;
  virtual void ForEachSocket(absl::FunctionRef<void(Route& route, int fd)> fn) = 0;
};

// The half of a Shard every adapter writes the same way: calls forwarded to
// its engine (a Worker, the OneToManyServer), which has the same names for
// them. `engine()` is the adapter's; the rest is its own.
template <typename Engine>
class EngineShard : public Shard {
 public:
  explicit EngineShard(int index) : index_(index) {}
  int index() const override { return index_; }
  Inbox::Push Mail(uint64_t item) override { return engine().Mail(item); }
  SendBuffer AcquireLocal(size_t size) override { return engine().AcquireSendBuffer(size); }
  void ReleaseLocal(SendBuffer buffer) override { engine().ReleaseSendBuffer(std::move(buffer)); }
  absl::StatusOr<RetainedMessage> RetainLocal(const MessageView& m) override { return engine().Retain(m); }
  void ReleaseRetained(RetainedMessage message) override { engine().Release(std::move(message)); }
  void RequestTick() override { engine().RequestTick(); }
  void DrainMail() override { engine().DrainMail(); }
  uint64_t MailReserved() override { return engine().MailReserved(); }
  uint64_t MailTaken() override { return engine().MailTaken(); }

 protected:
  virtual Engine& engine() = 0;
  const int index_;
};

// What a shard reports about the associations it serves, on its thread (the
// DataPlane implements it). `route` is null for what concerns none.
class ShardEvents {
 public:
  virtual ~ShardEvents() = default;
  virtual void OnStart(Shard& shard) {}
  virtual void OnMessage(Shard& shard, Route& route, const MessageView& m) = 0;
  virtual void OnEvent(Shard& shard, Route* route, const AssociationEvent& event) {}
  virtual void OnError(Shard& shard, Route* route, const absl::Status& error) {}
  // A move landed here (Router::FinishMove ran).
  virtual void OnAdopted(Shard& shard, Route& route) {}
  // A move could not land here: the association is lost (Router::LoseMove ran).
  virtual void OnAdoptFailed(Shard& shard, Route& route, const absl::Status& error) {}
  // Last call for the association here (Router::OnDown ran).
  virtual void OnDown(Shard& shard, Route& route, DownReason reason, const AssocStats& stats) {}
  virtual void OnTick(Shard& shard, absl::Time now) {}
};

}  // namespace sctpdp

#endif  // SCTPDP_HANDOFF_SHARD_H_
