// Router: sends to an association from any thread, wherever it lives, and
// moves associations between the threads that own them (shards: the control
// thread's one-to-many server, the per-core workers). No lock and no shared
// write on the per-message path:
//
//   owner's thread   Send looks the route up (Directory: lock-free reads)
//                    and queues on the owner's engine directly.
//   any other thread the message is built in (or copied once into) a shared
//                    parcel, whose index goes through the owner's lock-free
//                    inbox; the owner sends it from where it was written.
//                    The first parcel of a batch wakes the owner.
//
// What the per-message path writes is the owner's own state, and, for a send
// from another thread, the route's cross-thread counters.
//
// How a move keeps every send exactly once and in order (a route moves from
// shard A to shard B; "senders" are threads other than A that send to it):
//  1. A stops serving the route for new sends (`leaving`): its own sends
//     wait in the route's backlog, in order.
//  2. A's engine hands the socket back with what it had queued (Detach):
//     no send for the association is in A's kernel queue any more.
//  3. A collects, oldest first: the engine's queue, then the backlog. That
//     is everything A accepted so far.
//  4. A publishes B as the owner (kMoving). A sender counts itself in the
//     route's `senders` before it reads the owner and out after its parcel
//     is in the owner's inbox: one that read A is counted until its parcel is
//     in A's inbox.
//  5. A waits (at its next loop iterations, never blocking) until `senders`
//     is 0, then drains its own inbox up to the position reserved at that
//     moment: every parcel a sender sent to A lies below it (its push ended
//     before it left `senders`), and a cell below it that another pusher has
//     reserved but not filled yet, which stops a drain short, is waited for
//     too. Every parcel a sender sent to A is now appended, in each
//     sender's order, behind step 3's list.
//  6. A posts the socket and the list to B. Parcels that reached B first (B
//     was published in step 4) wait in B's backlog, as do B's own sends.
//  7. B adopts the socket, puts the list in front of its backlog and only
//     then serves the route (kLive): the list first, then what waited.
// A sender's messages are therefore in one of: A's list (it read A) or B's
// backlog (it read B), and everything it sent to A precedes everything it
// sent to B; the list goes first. The receive side is the shards' business
// (a socket is read by one owner at a time; Detach delivers what was read).
//
// Copies. A message waits where it was written: a parcel, the owner's own
// send buffer, or the receive buffer it arrived in (an echo). Only a move
// copies, and only what cannot leave A's thread: in step 3 each message of
// A's queue or backlog that lies in A's send pool or receive buffers is
// copied once into memory of its own, which B sends from as it is
// (move_copies, kept apart from send_copies: the copy is inherent, A's
// buffers are A's ring's and pool's). Parcels go as they are.
#ifndef SCTPDP_HANDOFF_ROUTER_H_
#define SCTPDP_HANDOFF_ROUTER_H_

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/types/span.h"
#include "dataplane/parcel_pool.h"
#include "handoff/directory.h"
#include "handoff/shard.h"

namespace sctpdp {

// What the router tells the application (on the owner's thread).
class RouterHandler {
 public:
  virtual ~RouterHandler() = default;
  // Sends to `id` that were refused for backpressure may be retried.
  virtual void OnWritable(sctp_assoc_t id) = 0;
  // A send the router had accepted (kOk) could not go: the association
  // ended, or its engine refused it.
  virtual void OnSendDropped(sctp_assoc_t id, const absl::Status& why) = 0;
};

struct RouterOptions {
  size_t max_associations = 100000;
  // Per association: cross-thread messages handed over and not yet queued
  // by the owner (kQueueFull past it).
  unsigned cross_thread_limit = 1024;
  ParcelPool* parcels = nullptr;  // REQUIRED: the shared send memory
};

struct RouterStats {
  uint64_t cross_thread_sends = 0;   // handed over as a parcel
  uint64_t cross_thread_copies = 0;  // of those, copied into the parcel (not built in it)
  // Sends waiting in a backlog, in the owner's own memory (its send pool, a
  // receive buffer), copied once to go with their association at a move.
  uint64_t move_copies = 0;
  uint64_t dropped = 0;              // accepted, then dropped (association gone)
  uint64_t waiter_locks = 0;         // mutex acquisitions to register or serve a refused sender
  uint64_t moves = 0;                // hand-overs completed
};

class Router {
 public:
  Router(const RouterOptions& options, RouterHandler* handler);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Before traffic: shard `i` is the i-th added.
  void AddShard(Shard* shard);
  // Each shard calls this once on its own thread before it serves anything.
  static void BindThread(Shard* shard);
  static Shard* CurrentShard();

  Directory& directory() { return directory_; }
  ParcelPool& parcels() { return *options_.parcels; }

  // --- The control thread: association lifecycle.
  // A new association on `shard`: kLive when that shard serves it already
  // (the one-to-many socket), kMoving when its socket is on the way there
  // (Shard::Adopt; sends wait until FinishMove).
  Route* Add(sctp_assoc_t id, int shard, RouteState state, uint16_t outbound_streams);
  void Remove(Route& route);

  // --- Any thread: sends. Each refuses a stream at or past the
  // association's outbound streams (kBadStream).
  // Copies `payload` once (on the owner's thread into its own send memory,
  // elsewhere into a parcel).
  SendResult Send(sctp_assoc_t id, const SendMeta& meta, absl::Span<const char> payload);
  // Memory to build a message to `id` in: the owner's own buffer on its
  // thread, a parcel elsewhere. Invalid when spent (OnWritable follows).
  SendBuffer Acquire(sctp_assoc_t id, size_t size);
  // Sends a buffer from Acquire without copying it. Consumed unless the
  // result is backpressure. REQUIRES: on the thread that acquired it.
  SendResult Send(sctp_assoc_t id, const SendMeta& meta, SendBuffer&& buffer);
  void Release(SendBuffer buffer);
  // Sends `part` of a retained message (all when empty): from its receive
  // buffer when this thread owns both (behind a backlog too: it waits there
  // in its buffer, copied once only if the association then moves away),
  // else copied once. Consumed unless backpressure.
  SendResult SendRetained(sctp_assoc_t id, const SendMeta& meta, Retained&& retained, absl::Span<const char> part);
  void ReleaseRetained(Retained retained);

  // --- Any thread: the application ends an association.
  // A graceful SHUTDOWN once everything accepted for `id` so far has gone:
  // it travels as a send does (the owner's queue, the backlog, a parcel,
  // a move's hand-over list), so it keeps its place behind every send
  // accepted before it, and reaches the owner's engine last
  // (Shard::ShutdownLocal). Later sends are refused (kClosing). kOk;
  // kNoAssociation; kClosing (already ending); backpressure: not accepted,
  // retry on OnWritable.
  SendResult Shutdown(sctp_assoc_t id);
  // An ABORT now, on whichever shard owns `id` (posted there; followed
  // through a move: the shard that adopts it aborts it). What was accepted
  // and not sent is dropped and reported (OnSendDropped, or the engine's
  // errors). False: no such association.
  bool Abort(sctp_assoc_t id);
  // Runs `task.run` on the thread that owns `id`, with its shard and route
  // (posted there, or at once when called on that thread), or
  // `task.failed`: NotFound if it ended first, Unavailable if it is between
  // owners then (a move: try again after OnMoved). For what needs the
  // association's own socket (setsockopt). False: no such association
  // (neither runs).
  struct OwnerTask {
    absl::AnyInvocable<void(Shard& shard, Route& route)> run;
    absl::AnyInvocable<void(const absl::Status& why)> failed;
  };
  bool RunOnOwner(sctp_assoc_t id, OwnerTask task);

  // --- The owner's thread: hooks its shard calls.
  void OnMail(Shard& here, absl::Span<const uint64_t> items);
  // The engine has room for `route` again.
  void OnEngineWritable(Shard& here, Route& route);
  // `route` ended on `here`: what waited is dropped (reported) and sends
  // are refused from now on.
  void OnDown(Shard& here, Route& route);

  // --- Moves (the comment at the top).
  // On `from`'s thread: detaches the route from `from` and hands it to
  // shard `to`. `detached` runs on `from`'s thread once the detach is done:
  // OK just before the hand-over (step 4), or why it failed (the route then
  // stays where it was, or ended; FailedPrecondition at once when a move of
  // it is under way already).
  void Move(Shard& from, Route& route, int to, absl::AnyInvocable<void(const absl::Status&)> detached);
  // On `from`'s thread at each loop iteration it was asked for
  // (Shard::RequestTick): hand-overs whose senders have drained go on.
  void PollMoves(Shard& from);
  bool MovesPending(const Shard& from) const;
  // On `to`'s thread: it adopted the route's socket (`handle` is its
  // engine's name for it), or could not (the association is lost).
  void FinishMove(Shard& to, Route& route, uint64_t handle);
  void LoseMove(Shard& to, Route& route);

  RouterStats Stats() const;

 private:
  struct Outgoing {
    Route* route;
    int to;
    Fd fd;
    std::deque<PendingSend> list;
    // Step 5: once no sender is left, the mail position every parcel for
    // it lies below; the hand-over waits until the drain has taken that far.
    uint64_t drain_to = 0;
    bool drain_known = false;
  };
  struct PerShard {
    Shard* shard = nullptr;
    std::vector<Outgoing> outgoing;   // the shard's thread only
    std::mutex waiters_mu;
    std::vector<uint32_t> waiters;    // routes refused for a full inbox or spent parcels; guarded by waiters_mu
    std::atomic<bool> has_waiters{false};
  };

  void HandOver(Shard& from, Route& route, int to, DetachedSocket socket);
  // The owner's engine takes a pending send (or the Shutdown marker).
  SendResult ToEngine(Shard& here, Route& route, PendingSend& p);
  void AbortOn(Shard& here, Route& route, sctp_assoc_t id);
  void PostAbort(Route& route, sctp_assoc_t id);
  Route* Lookup(sctp_assoc_t id, uint16_t stream, SendResult* refused) const;
  SendResult Pushback(Route& route, SendResult result);
  bool BacklogFull(Route& route);
  SendResult SendHere(Shard& here, Route& route, RouteOwner owner, const SendMeta& meta, SendBuffer&& buffer);
  SendResult SendAcross(Route& route, sctp_assoc_t id, const SendMeta& meta, SendBuffer&& parcel);
  SendResult HandParcel(Route& route, sctp_assoc_t id, RouteOwner owner, const SendMeta& meta, SendBuffer& parcel);
  SendBuffer ParcelOf(absl::Span<const char> payload, Route& route);
  void Hold(Shard& here, Route& route, PendingSend pending);
  void FlushBacklog(Shard& here, Route& route);
  void Taken(Route& route);
  void Drop(Route& route, PendingSend& pending, sctp_assoc_t id, const char* why);
  Outgoing* FindOutgoing(Shard& from, const Route& route);
  void NoteWaiter(int shard, Route& route);
  void ServeWaiters(Shard& here);
  void OnParcelsAvailable();
  void Carry(Shard& from, PendingSend& pending);

  const RouterOptions options_;
  RouterHandler* const handler_;
  Directory directory_;
  void RunOn(Route& route, sctp_assoc_t id, OwnerTask task, unsigned hops);
  static constexpr size_t kMaxShards = 256;  // 254 workers and the control thread fit
  std::vector<std::unique_ptr<PerShard>> shards_;
  std::atomic<size_t> added_{0};  // shards_ entries complete
  std::atomic<uint64_t> cross_thread_sends_{0}, cross_thread_copies_{0}, move_copies_{0}, dropped_{0},
      waiter_locks_{0}, moves_{0};
};

}  // namespace sctpdp

#endif  // SCTPDP_HANDOFF_ROUTER_H_
