#include "handoff/router.h"

#include <algorithm>
#include <cstring>
#include <string>

#include <netinet/in.h>
#include <netinet/sctp.h>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/str_cat.h"

namespace sctpdp {
namespace {

thread_local Shard* current_shard = nullptr;

SendMeta MetaOf(const PendingSend& p) { return SendMeta{p.stream, p.ppid, p.flags, p.ttl_ms}; }

// The application's Shutdown, travelling among the sends (Router::Shutdown).
bool IsShutdown(uint16_t flags) { return flags & SCTP_EOF; }

PendingSend Pending(const SendMeta& m, SendBuffer buffer, bool cross_thread) {
  PendingSend p;
  p.stream = m.stream;
  p.ppid = m.ppid;
  p.flags = m.flags;
  p.ttl_ms = m.ttl_ms;
  p.buffer = std::move(buffer);
  p.cross_thread = cross_thread;
  return p;
}

// Calls put(offset, bytes) for each segment of `b`'s message, in order.
template <typename Put>
void EachSegment(const SendBuffer& b, Put put) {
  size_t at = 0;
  for (unsigned i = 0; i < b.segments() && at < b.size(); ++i) {
    const absl::Span<char> s = b.segment(i);
    const size_t n = std::min(s.size(), b.size() - at);
    put(at, absl::Span<const char>(s.data(), n));
    at += n;
  }
}

// Memory of its own for `size` bytes: a kept message any thread can send
// (SendLocalRetained) or drop.
RetainedMessage OwnedMessage(size_t size) {
  RetainedMessage m;
  m.reassembled.reset(new char[size]);
  m.payload = absl::Span<const char>(m.reassembled.get(), size);
  return m;
}

}  // namespace

Router::Router(const RouterOptions& options, RouterHandler* handler)
    : options_(options), handler_(handler), directory_(options.max_associations) {
  ABSL_RAW_CHECK(options_.parcels != nullptr, "Router: no parcel pool");
  options_.parcels->set_on_available([this] { OnParcelsAvailable(); });
  // Never reallocated: a running shard reads its entry while later ones
  // are added.
  shards_.reserve(kMaxShards);
}

Router::~Router() { options_.parcels->set_on_available(nullptr); }

void Router::AddShard(Shard* shard) {
  ABSL_RAW_CHECK(shard->index() == static_cast<int>(shards_.size()), "Router::AddShard: out of order");
  ABSL_RAW_CHECK(shards_.size() < kMaxShards, "Router::AddShard: too many shards");
  shards_.push_back(std::make_unique<PerShard>());
  shards_.back()->shard = shard;
  added_.store(shards_.size(), std::memory_order_release);
}

void Router::BindThread(Shard* shard) { current_shard = shard; }
Shard* Router::CurrentShard() { return current_shard; }

Route* Router::Add(sctp_assoc_t id, int shard, RouteState state, uint16_t outbound_streams) {
  return directory_.Insert(id, RouteOwner{static_cast<uint8_t>(shard), state}, outbound_streams);
}

void Router::Remove(Route& route) { directory_.Remove(&route); }

// --- Sends ---------------------------------------------------------------------

Route* Router::Lookup(sctp_assoc_t id, uint16_t stream, SendResult* refused) const {
  Route* r = directory_.Find(id);
  if (r == nullptr) {
    *refused = SendResult::kNoAssociation;
    return nullptr;
  }
  if (r->closing.load(std::memory_order_relaxed)) {
    *refused = SendResult::kClosing;  // the application's Shutdown or Abort
    return nullptr;
  }
  const uint16_t streams = r->outbound_streams.load(std::memory_order_relaxed);
  if (streams != 0 && stream >= streams) {
    *refused = SendResult::kBadStream;  // the kernel would refuse it (EINVAL)
    return nullptr;
  }
  return r;
}

SendResult Router::Send(sctp_assoc_t id, const SendMeta& meta, absl::Span<const char> payload) {
  SendResult refused;
  Route* r = Lookup(id, meta.stream, &refused);
  if (r == nullptr) return refused;
  Shard* here = current_shard;
  const RouteOwner o = r->Owner();
  if (here != nullptr && o.shard == here->index() && o.state == RouteState::kLive && !r->leaving &&
      r->backlog.empty()) {
    return Pushback(*r, here->SendLocalCopy(*r, meta, payload));  // the owner's case: its engine copies once
  }
  SendBuffer b = ParcelOf(payload, *r);
  if (!b.valid()) return SendResult::kNoBuffers;
  const SendResult result = Send(id, meta, std::move(b));
  if (IsBackpressure(result)) Release(std::move(b));  // the caller still has `payload`
  return result;
}

SendBuffer Router::ParcelOf(absl::Span<const char> payload, Route& route) {
  if (payload.size() > options_.parcels->max_message_size()) return SendBuffer();
  SendBuffer b = options_.parcels->Acquire(payload.size());
  if (!b.valid()) {
    NoteWaiter(route.Owner().shard, route);
    return b;
  }
  b.Write(0, payload);
  cross_thread_copies_.fetch_add(1, std::memory_order_relaxed);
  return b;
}

SendBuffer Router::Acquire(sctp_assoc_t id, size_t size) {
  Route* r = directory_.Find(id);
  if (r == nullptr) return SendBuffer();
  Shard* here = current_shard;
  const RouteOwner o = r->Owner();
  if (here != nullptr && o.shard == here->index() && o.state == RouteState::kLive && !r->leaving) {
    return here->AcquireLocal(size);
  }
  SendBuffer b = options_.parcels->Acquire(size);
  if (!b.valid()) NoteWaiter(o.shard, *r);
  return b;
}

void Router::Release(SendBuffer buffer) {
  if (!buffer.valid()) return;
  if (buffer.parcels() != nullptr) {
    buffer.parcels()->Release(std::move(buffer));
  } else if (current_shard != nullptr) {
    current_shard->ReleaseLocal(std::move(buffer));
  }
}

SendResult Router::Send(sctp_assoc_t id, const SendMeta& meta, SendBuffer&& buffer) {
  if (!buffer.valid()) return SendResult::kNoBuffers;
  SendResult refused;
  Route* r = Lookup(id, meta.stream, &refused);
  if (r == nullptr) {
    Release(std::move(buffer));
    return refused;
  }
  Shard* here = current_shard;
  const RouteOwner o = r->Owner();
  if (here != nullptr && o.shard == here->index() && (o.state == RouteState::kLive || o.state == RouteState::kMoving)) {
    return SendHere(*here, *r, o, meta, std::move(buffer));
  }
  if (buffer.parcels() == nullptr) {
    // The thread's own buffer, but the association moved on meanwhile: it
    // travels as a parcel (one copy).
    SendBuffer parcel = options_.parcels->Acquire(buffer.size());
    if (!parcel.valid()) {
      NoteWaiter(o.shard, *r);
      return SendResult::kNoBuffers;
    }
    EachSegment(buffer, [&](size_t at, absl::Span<const char> s) { parcel.Write(at, s); });
    cross_thread_copies_.fetch_add(1, std::memory_order_relaxed);
    Release(std::move(buffer));
    buffer = std::move(parcel);
  }
  return SendAcross(*r, id, meta, std::move(buffer));
}

// The owner's engine refused for backpressure: the application hears once
// there is room, from whichever thread owns the association by then.
SendResult Router::Pushback(Route& route, SendResult result) {
  if (IsBackpressure(result)) route.want_writable_local = true;
  return result;
}

// On the owner's thread (or the thread it moves to, before adoption).
SendResult Router::SendHere(Shard& here, Route& route, RouteOwner owner, const SendMeta& meta, SendBuffer&& buffer) {
  if (owner.state == RouteState::kLive && !route.leaving && route.backlog.empty()) {
    return Pushback(route, here.SendLocal(route, meta, std::move(buffer)));
  }
  // Between owners, or behind a backlog: waits in order, bounded. (A buffer
  // of this thread's pool is copied only if the association leaves: Carry.)
  if (BacklogFull(route)) return SendResult::kQueueFull;
  route.backlog.push_back(Pending(meta, std::move(buffer), false));
  return SendResult::kOk;
}

// The owner's backlog holds at most cross_thread_limit; past it the sender
// hears OnWritable once the backlog has drained (FlushBacklog).
bool Router::BacklogFull(Route& route) {
  if (route.backlog.size() < options_.cross_thread_limit) return false;
  route.want_writable_local = true;
  return true;
}

// Step 3 of a move, for one send of the backlog: in `from`'s own memory (a
// buffer of its send pool, a receive buffer) it cannot leave `from`'s
// thread, so it is copied once into memory of its own, and `from` has its
// buffer back. Parcels and memory of its own go as they are.
void Router::Carry(Shard& from, PendingSend& pending) {
  RetainedMessage copy;
  if (pending.buffer.valid() && pending.buffer.parcels() == nullptr) {
    copy = OwnedMessage(pending.buffer.size());
    EachSegment(pending.buffer, [&](size_t at, absl::Span<const char> s) {
      std::memcpy(copy.reassembled.get() + at, s.data(), s.size());
    });
    from.ReleaseLocal(std::move(pending.buffer));
  } else if (pending.owned.buffer_id >= 0) {
    copy = OwnedMessage(pending.owned.payload.size());
    std::memcpy(copy.reassembled.get(), pending.owned.payload.data(), pending.owned.payload.size());
    from.ReleaseRetained(std::move(pending.owned));
  } else {
    return;
  }
  pending.buffer = SendBuffer();
  pending.owned = std::move(copy);
  move_copies_.fetch_add(1, std::memory_order_relaxed);
}

SendResult Router::SendAcross(Route& route, sctp_assoc_t id, const SendMeta& meta, SendBuffer&& parcel) {
  // Counted in `senders` from before it reads the owner until the parcel is
  // in that owner's inbox (step 4 of the move).
  route.senders.fetch_add(1, std::memory_order_seq_cst);
  const RouteOwner o = Route::Unpack(route.owner.load(std::memory_order_seq_cst));
  const SendResult result = HandParcel(route, id, o, meta, parcel);
  route.senders.fetch_sub(1, std::memory_order_release);
  return result;
}

SendResult Router::HandParcel(Route& route, sctp_assoc_t id, RouteOwner o, const SendMeta& meta,
                              SendBuffer& parcel) {
  if (route.id.load(std::memory_order_acquire) != id || o.state == RouteState::kGone ||
      o.state == RouteState::kFree) {
    options_.parcels->Release(std::move(parcel));
    return SendResult::kNoAssociation;
  }
  if (route.parcels.load(std::memory_order_acquire) >= options_.cross_thread_limit) {
    // Armed before the second look: an owner that drains below half after
    // it sees the flag (Taken).
    route.want_writable.store(true, std::memory_order_seq_cst);
    if (route.parcels.load(std::memory_order_seq_cst) >= options_.cross_thread_limit) return SendResult::kQueueFull;
  }
  Parcel& p = options_.parcels->parcel(parcel.id());
  p.assoc_id = id;
  p.route = route.index;
  p.stream = meta.stream;
  p.ppid = meta.ppid;
  p.flags = meta.flags;
  p.ttl_ms = meta.ttl_ms;
  route.parcels.fetch_add(1, std::memory_order_acq_rel);
  switch (shards_[o.shard]->shard->Mail(parcel.id())) {
    case Inbox::Push::kQueued:
    case Inbox::Push::kWake:
      parcel = SendBuffer();  // handed over
      cross_thread_sends_.fetch_add(1, std::memory_order_relaxed);
      return SendResult::kOk;
    case Inbox::Push::kFull:
      route.parcels.fetch_sub(1, std::memory_order_acq_rel);
      NoteWaiter(o.shard, route);
      return SendResult::kQueueFull;
    case Inbox::Push::kClosed:
      break;
  }
  route.parcels.fetch_sub(1, std::memory_order_acq_rel);
  options_.parcels->Release(std::move(parcel));
  return SendResult::kClosing;
}

SendResult Router::SendRetained(sctp_assoc_t id, const SendMeta& meta, Retained&& retained,
                                absl::Span<const char> part) {
  if (part.empty()) part = retained.message.payload;
  SendResult refused;
  Route* r = Lookup(id, meta.stream, &refused);
  if (r == nullptr) {
    ReleaseRetained(std::move(retained));
    return refused;
  }
  Shard* here = current_shard;
  const RouteOwner o = r->Owner();
  if (here != nullptr && here->index() == retained.shard && o.shard == here->index() &&
      (o.state == RouteState::kLive || o.state == RouteState::kMoving)) {
    // From its receive buffer: now, or behind what waits here (a backlog
    // under backpressure, a move under way), in order, still in its buffer.
    if (o.state == RouteState::kLive && !r->leaving && r->backlog.empty()) {
      return Pushback(*r, here->SendLocalRetained(*r, meta, std::move(retained.message), part));
    }
    if (BacklogFull(*r)) return SendResult::kQueueFull;
    PendingSend p = Pending(meta, SendBuffer(), false);
    p.owned = std::move(retained.message);
    p.owned.payload = part;
    r->backlog.push_back(std::move(p));
    return SendResult::kOk;
  }
  // Its destination lives on another thread (or the message was kept on
  // another): copied once (cross_thread_copies, or the owner's
  // send_copies), and the receive buffer goes back to its ring.
  const SendResult result = Send(id, meta, part);
  if (!IsBackpressure(result)) ReleaseRetained(std::move(retained));
  return result;
}

void Router::ReleaseRetained(Retained retained) {
  if (!retained.valid()) return;
  Shard* here = current_shard;
  if (here != nullptr && here->index() == retained.shard) {
    here->ReleaseRetained(std::move(retained.message));
    return;
  }
  Shard* owner = shards_[retained.shard]->shard;
  owner->Post([owner, m = std::move(retained.message)]() mutable { owner->ReleaseRetained(std::move(m)); })
      .IgnoreError();  // stopped: its buffers go with it
}

// --- The application ends an association ------------------------------------------

SendResult Router::Shutdown(sctp_assoc_t id) {
  Route* r = directory_.Find(id);
  if (r == nullptr) return SendResult::kNoAssociation;
  if (r->closing.exchange(true, std::memory_order_acq_rel)) return SendResult::kClosing;
  const SendMeta meta{0, 0, SCTP_EOF, 0};
  Shard* here = current_shard;
  const RouteOwner o = r->Owner();
  SendResult result;
  if (here != nullptr && o.shard == here->index() && o.state == RouteState::kLive && !r->leaving &&
      r->backlog.empty()) {
    result = Pushback(*r, here->ShutdownLocal(*r));
  } else if (here != nullptr && o.shard == here->index() &&
             (o.state == RouteState::kLive || o.state == RouteState::kMoving)) {
    // Behind what waits here (or goes with the move), bounded like a send.
    if (BacklogFull(*r)) {
      result = SendResult::kQueueFull;
    } else {
      r->backlog.push_back(Pending(meta, SendBuffer(), false));
      result = SendResult::kOk;
    }
  } else {
    // Another thread's: a parcel of no bytes carries it, in order with
    // this thread's parcels.
    SendBuffer marker = options_.parcels->Acquire(0);
    if (!marker.valid()) {
      NoteWaiter(o.shard, *r);
      result = SendResult::kNoBuffers;
    } else {
      result = SendAcross(*r, id, meta, std::move(marker));
      if (IsBackpressure(result)) Release(std::move(marker));
    }
  }
  if (IsBackpressure(result) || result == SendResult::kNoAssociation) {
    r->closing.store(false, std::memory_order_release);
  }
  return result;
}

bool Router::Abort(sctp_assoc_t id) {
  Route* r = directory_.Find(id);
  if (r == nullptr) return false;
  const RouteOwner o = r->Owner();
  if (o.state == RouteState::kGone || o.state == RouteState::kFree) return false;
  r->closing.store(true, std::memory_order_release);
  r->abort_requested.store(true, std::memory_order_seq_cst);
  PostAbort(*r, id);
  return true;
}

void Router::PostAbort(Route& route, sctp_assoc_t id) {
  const RouteOwner o = route.Owner();
  if (o.state == RouteState::kGone || o.state == RouteState::kFree) return;
  Shard* owner = shards_[o.shard]->shard;
  Route* r = &route;
  if (current_shard == owner) return AbortOn(*owner, route, id);
  owner->Post([this, owner, r, id] { AbortOn(*owner, *r, id); }).IgnoreError();  // stopping: it ends anyway
}

bool Router::RunOnOwner(sctp_assoc_t id, OwnerTask task) {
  Route* r = directory_.Find(id);
  if (r == nullptr) return false;
  RunOn(*r, id, std::move(task), 0);
  return true;
}

// Each hop is a Post to the shard that owns the route now (an owner that
// changed between the Post and its turn is followed, a few times at most).
void Router::RunOn(Route& route, sctp_assoc_t id, OwnerTask task, unsigned hops) {
  const RouteOwner o = route.Owner();
  if (route.id.load(std::memory_order_acquire) != id || o.state == RouteState::kGone ||
      o.state == RouteState::kFree) {
    return task.failed(absl::NotFoundError(absl::StrCat("association ", id, " ended")));
  }
  Shard* owner = shards_[o.shard]->shard;
  if (current_shard == owner) {
    if (o.state == RouteState::kLive && !route.leaving) return task.run(*owner, route);
    if (hops > 0 || o.state != RouteState::kLive) {
      return task.failed(absl::UnavailableError(absl::StrCat("association ", id, " is moving: again after OnMoved")));
    }
  }
  if (hops >= 4) return task.failed(absl::UnavailableError(absl::StrCat("association ", id, " keeps moving")));
  Route* r = &route;
  owner->Post([this, r, id, task = std::move(task), hops]() mutable { RunOn(*r, id, std::move(task), hops + 1); })
      .IgnoreError();  // stopping: the association ends anyway
}

// On the shard the abort was posted to: carried out if it is still the
// owner and serves the association; else it follows the association (a
// shard it moved to aborts it when it adopts it: FinishMove).
void Router::AbortOn(Shard& here, Route& route, sctp_assoc_t id) {
  if (route.id.load(std::memory_order_acquire) != id) return;  // gone meanwhile
  const RouteOwner o = route.Owner();
  if (o.state == RouteState::kGone || o.state == RouteState::kFree) return;
  if (o.shard != here.index()) return PostAbort(route, id);
  if (o.state != RouteState::kLive || route.leaving) return;  // FinishMove aborts it on arrival
  here.AbortLocal(route);
}

// --- The owner's side ------------------------------------------------------------

void Router::OnMail(Shard& here, absl::Span<const uint64_t> items) {
  ParcelPool& pool = *options_.parcels;
  for (uint64_t item : items) {
    const uint32_t id = static_cast<uint32_t>(item);
    const Parcel& p = pool.parcel(id);
    Route& r = *directory_.at(p.route);
    PendingSend pending = Pending(SendMeta{p.stream, p.ppid, p.flags, p.ttl_ms}, pool.AsBuffer(id), true);
    if (Outgoing* move = FindOutgoing(here, r)) {  // it left: this goes with it (step 5)
      move->list.push_back(std::move(pending));
      continue;
    }
    const RouteOwner o = r.Owner();
    if (r.id.load(std::memory_order_acquire) != p.assoc_id || o.shard != here.index() ||
        o.state == RouteState::kGone) {
      Drop(r, pending, p.assoc_id, "association gone");
      continue;
    }
    Hold(here, r, std::move(pending));
  }
  ServeWaiters(here);
}

// Queues `pending` on the owner's engine now if nothing waits before it,
// else behind the rest.
void Router::Hold(Shard& here, Route& route, PendingSend pending) {
  const RouteOwner o = route.Owner();
  if (o.state == RouteState::kLive && !route.leaving && route.backlog.empty()) {
    const sctp_assoc_t id = route.id.load(std::memory_order_relaxed);
    const SendResult r = ToEngine(here, route, pending);
    if (!IsBackpressure(r)) {
      Taken(route);
      if (r != SendResult::kOk) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        handler_->OnSendDropped(id, absl::UnavailableError(absl::StrCat("send refused: ", SendResultName(r))));
      }
      return;
    }
  }
  route.backlog.push_back(std::move(pending));
}

void Router::FlushBacklog(Shard& here, Route& route) {
  if (route.leaving || route.Owner().state != RouteState::kLive) return;  // it goes with the move
  const sctp_assoc_t id = route.id.load(std::memory_order_relaxed);
  while (!route.backlog.empty()) {
    PendingSend& p = route.backlog.front();
    const SendResult r = ToEngine(here, route, p);
    if (IsBackpressure(r)) {  // the engine says when: OnEngineWritable
      route.want_writable_local = true;
      return;
    }
    if (p.cross_thread) Taken(route);
    if (r != SendResult::kOk) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      handler_->OnSendDropped(id, absl::UnavailableError(absl::StrCat("send refused: ", SendResultName(r))));
    }
    route.backlog.pop_front();
  }
  if (route.want_writable_local) {
    route.want_writable_local = false;
    handler_->OnWritable(id);
  }
}

SendResult Router::ToEngine(Shard& here, Route& route, PendingSend& p) {
  if (IsShutdown(p.flags)) {
    const SendResult r = here.ShutdownLocal(route);
    if (!IsBackpressure(r)) Release(std::move(p.buffer));  // a marker's empty parcel
    return r;
  }
  // A kept message (a receive buffer of this thread's, or memory of its
  // own) goes from where it is, as a buffer does.
  return p.buffer.valid() ? here.SendLocal(route, MetaOf(p), std::move(p.buffer))
                          : here.SendLocalRetained(route, MetaOf(p), std::move(p.owned), {});
}

// A cross-thread message left the router's hands: the sender refused for
// the limit hears once it is down to half.
void Router::Taken(Route& route) {
  const uint32_t left = route.parcels.fetch_sub(1, std::memory_order_seq_cst) - 1;
  if (left > options_.cross_thread_limit / 2 || !route.want_writable.load(std::memory_order_seq_cst)) return;
  if (route.want_writable.exchange(false, std::memory_order_acq_rel)) {
    handler_->OnWritable(route.id.load(std::memory_order_relaxed));
  }
}

void Router::Drop(Route& route, PendingSend& pending, sctp_assoc_t id, const char* why) {
  if (pending.buffer.valid()) Release(std::move(pending.buffer));
  // A receive buffer in a backlog is the ring's of the thread that holds it.
  if (pending.owned.buffer_id >= 0 && current_shard != nullptr) {
    current_shard->ReleaseRetained(std::move(pending.owned));
  }
  if (pending.cross_thread) route.parcels.fetch_sub(1, std::memory_order_acq_rel);
  dropped_.fetch_add(1, std::memory_order_relaxed);
  handler_->OnSendDropped(id, absl::UnavailableError(absl::StrCat("send dropped: ", why)));
}

// The engine has room: what waited goes, then the application hears (if
// the association is between owners, once it has landed: FinishMove).
void Router::OnEngineWritable(Shard& here, Route& route) {
  route.want_writable_local = true;
  FlushBacklog(here, route);
}

void Router::OnDown(Shard& here, Route& route) {
  const sctp_assoc_t id = route.id.load(std::memory_order_relaxed);
  route.SetOwner({static_cast<uint8_t>(here.index()), RouteState::kGone});
  route.leaving = false;
  for (PendingSend& p : route.backlog) Drop(route, p, id, "association ended");
  route.backlog.clear();
}

// --- Moves -----------------------------------------------------------------------

void Router::Move(Shard& from, Route& route, int to, absl::AnyInvocable<void(const absl::Status&)> detached) {
  if (route.leaving) {
    // A move of it is under way already (its Detach is pending): this one
    // must not end that one's `leaving` when its own Detach is refused.
    detached(absl::FailedPreconditionError(absl::StrCat("association ", route.id.load(), ": already moving")));
    return;
  }
  route.leaving = true;  // step 1: from now on this thread's sends wait in the backlog
  from.Detach(route, [this, &from, &route, to, detached = std::move(detached)](
                         absl::StatusOr<DetachedSocket> socket) mutable {
    if (!socket.ok()) {
      route.leaving = false;
      if (route.Owner().state == RouteState::kLive) {
        // An abort that came while it was leaving is carried out here.
        if (route.abort_requested.load(std::memory_order_seq_cst)) {
          from.AbortLocal(route);
        } else {
          FlushBacklog(from, route);
        }
      }
      detached(socket.status());
      return;
    }
    detached(absl::OkStatus());
    HandOver(from, route, to, *std::move(socket));
  });
}

void Router::HandOver(Shard& from, Route& route, int to, DetachedSocket socket) {
  // Step 3: everything accepted so far, oldest first. The engine's queue
  // comes copied out once already (its move_copies); the backlog is carried.
  Outgoing move{&route, to, std::move(socket.fd), {}};
  for (OutgoingMessage& q : socket.queued) {
    PendingSend p = Pending(SendMeta{q.stream, q.ppid, q.flags, q.ttl_ms}, SendBuffer(), false);
    p.owned.payload = q.payload();
    p.owned.reassembled = std::move(q.data);
    move.list.push_back(std::move(p));
  }
  for (PendingSend& p : route.backlog) {
    Carry(from, p);
    move.list.push_back(std::move(p));
  }
  route.backlog.clear();
  route.leaving = false;
  route.SetOwner({static_cast<uint8_t>(to), RouteState::kMoving});  // step 4
  shards_[from.index()]->outgoing.push_back(std::move(move));
  PollMoves(from);
}

void Router::PollMoves(Shard& from) {
  std::vector<Outgoing>& outgoing = shards_[from.index()]->outgoing;
  bool waiting = false;
  for (size_t i = 0; i < outgoing.size();) {
    Outgoing& move = outgoing[i];
    if (move.route->senders.load(std::memory_order_seq_cst) != 0) {  // step 5
      waiting = true;
      ++i;
      continue;
    }
    if (!move.drain_known) {
      move.drain_to = from.MailReserved();
      move.drain_known = true;
    }
    from.DrainMail();  // what senders handed to us joins the list (OnMail)
    if (from.MailTaken() < move.drain_to) {
      // A cell below it is reserved by a pusher (for another route) that has
      // not filled it yet: what follows it is not visible yet.
      waiting = true;
      ++i;
      continue;
    }
    Outgoing done = std::move(move);
    outgoing.erase(outgoing.begin() + static_cast<long>(i));
    done.route->handoff = std::move(done.list);  // step 6
    moves_.fetch_add(1, std::memory_order_relaxed);
    if (absl::Status s = shards_[done.to]->shard->Adopt(std::move(done.fd), done.route); !s.ok()) {
      // The destination is stopping: the socket is closed, the association lost.
      handler_->OnSendDropped(done.route->id.load(), s);
    }
  }
  if (waiting) from.RequestTick();
}

bool Router::MovesPending(const Shard& from) const {
  // A worker ticks from its start, which can come before it is added.
  if (static_cast<size_t>(from.index()) >= added_.load(std::memory_order_acquire)) return false;
  return !shards_[from.index()]->outgoing.empty();
}

Router::Outgoing* Router::FindOutgoing(Shard& from, const Route& route) {
  for (Outgoing& move : shards_[from.index()]->outgoing) {
    if (move.route == &route) return &move;
  }
  return nullptr;
}

void Router::FinishMove(Shard& to, Route& route, uint64_t handle) {
  // Step 7: the hand-over list first, then what waited here.
  route.handle = handle;
  std::deque<PendingSend> held = std::move(route.backlog);
  route.backlog = std::move(route.handoff);
  route.handoff.clear();
  for (PendingSend& p : held) route.backlog.push_back(std::move(p));
  route.SetOwner({static_cast<uint8_t>(to.index()), RouteState::kLive});
  if (route.abort_requested.load(std::memory_order_seq_cst)) {
    to.AbortLocal(route);  // asked for on the way: what waits is dropped (and said) at its end
    return;
  }
  FlushBacklog(to, route);
}

void Router::LoseMove(Shard& to, Route& route) {
  for (PendingSend& p : route.handoff) route.backlog.push_front(std::move(p));
  route.handoff.clear();
  OnDown(to, route);
}

// --- Refused senders ------------------------------------------------------------

void Router::NoteWaiter(int shard, Route& route) {
  PerShard& s = *shards_[shard];
  std::lock_guard<std::mutex> lock(s.waiters_mu);
  waiter_locks_.fetch_add(1, std::memory_order_relaxed);
  if (std::find(s.waiters.begin(), s.waiters.end(), route.index) == s.waiters.end()) s.waiters.push_back(route.index);
  s.has_waiters.store(true, std::memory_order_release);
}

void Router::ServeWaiters(Shard& here) {
  PerShard& s = *shards_[here.index()];
  if (!s.has_waiters.load(std::memory_order_acquire)) return;
  std::vector<uint32_t> waiters;
  {
    std::lock_guard<std::mutex> lock(s.waiters_mu);
    waiter_locks_.fetch_add(1, std::memory_order_relaxed);
    waiters.swap(s.waiters);
    s.has_waiters.store(false, std::memory_order_release);
  }
  for (uint32_t index : waiters) {
    Route& r = *directory_.at(index);
    const RouteOwner o = r.Owner();
    if (o.shard == here.index() && (o.state == RouteState::kLive || o.state == RouteState::kMoving)) {
      handler_->OnWritable(r.id.load(std::memory_order_relaxed));
    }
  }
}

// Parcels came back after the pool ran dry: every shard with refused
// senders tells them (on its own thread).
void Router::OnParcelsAvailable() {
  for (auto& s : shards_) {
    if (!s->has_waiters.load(std::memory_order_acquire)) continue;
    Shard* shard = s->shard;
    shard->Post([this, shard] { ServeWaiters(*shard); }).IgnoreError();
  }
}

RouterStats Router::Stats() const {
  RouterStats s;
  s.cross_thread_sends = cross_thread_sends_.load(std::memory_order_relaxed);
  s.cross_thread_copies = cross_thread_copies_.load(std::memory_order_relaxed);
  s.move_copies = move_copies_.load(std::memory_order_relaxed);
  s.dropped = dropped_.load(std::memory_order_relaxed);
  s.waiter_locks = waiter_locks_.load(std::memory_order_relaxed);
  s.moves = moves_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace sctpdp
