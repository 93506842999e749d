// Worker send path: per-association SendQueues drained by link chains of
// sendmsg SQEs carrying SCTP_SNDINFO (and SCTP_PRINFO for a time to live);
// why that keeps every association's order is at the top of send_queue.h.
// A message is sent from wherever it was built: this worker's SendPool, a
// parcel of the shared ParcelPool (built by another thread), or a receive
// buffer the application kept (SendRetained). None is copied here.
//
// Bundling (WorkerOptions::bundle_sends): a chain's sends, all but the last,
// carry MSG_MORE, so the kernel packs their DATA chunks into full packets.
// The last send of each run clears the association's delay and flushes the
// lot. Until that send the kernel holds the run and every retransmission
// that would start a packet (SCTP's Nagle test), so a run must never be left
// waiting on a full send buffer: a send that follows a MSG_MORE send carries
// MSG_DONTWAIT (EAGAIN comes back instead of a wait in the kernel), and when
// one is refused FinishChain sends the run's next message at once through a
// briefly raised send buffer (FlushHeldRun). A chain cancelled mid-run
// (-ECANCELED) leaves the run held until the rest is sent again, with
// MSG_DONTWAIT on its first send for the same reason. A message that fails
// for good (a stream the association does not have: DataPlane::Send refuses
// those up front) leaves earlier ones of its run held until the
// association's next send or shutdown.
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/str_cat.h"
#include "dataplane/log.h"
#include "dataplane/sctp_parse.h"
#include "dataplane/sctp_socket.h"
#include "dataplane/sctp_tuning.h"
#include "dataplane/send_pool.h"
#include "dataplane/worker.h"
#include "dataplane/worker_assoc.h"

namespace sctpdp {

SendBuffer Worker::AcquireSendBuffer(size_t size) {
  if (size > options_.max_message_size) return SendBuffer();
  SendBuffer b = send_pool_->Acquire(size);
  send_in_use_.Set(send_pool_->buffers_in_use());
  return b;
}

void Worker::ReleaseSendBuffer(SendBuffer buffer) {
  memory_->Release(std::move(buffer));
  send_in_use_.Set(send_pool_->buffers_in_use());
}

// Whether `a` takes one more message of `size` bytes now. Backpressure
// (kQueueFull) arms OnWritable.
SendResult Worker::Admit(Assoc* a, size_t size) {
  if (a == nullptr) return SendResult::kNoAssociation;
  if (!a->live() || a->shutdown_requested) return SendResult::kClosing;
  if (size > options_.max_message_size) return SendResult::kTooBig;
  if (a->queue.AtLimit(options_.send_queue_limit, options_.send_queue_bytes, size)) {
    a->want_writable = true;
    a->stats.send_queue_full.Add(1);
    totals_.send_queue_full.Add(1);
    return SendResult::kQueueFull;
  }
  return SendResult::kOk;
}

// The association's gauges, and the worker's (its associations together:
// the change is added, unsigned arithmetic wrapping a decrease).
void Worker::NoteQueueDepth(Assoc& a) {
  const uint64_t depth = a.queue.queued(), bytes = a.queue.held_bytes();
  totals_.send_queue_depth.Add(depth - a.stats.send_queue_depth.Get());
  totals_.send_queue_bytes.Add(bytes - a.stats.send_queue_bytes.Get());
  a.stats.send_queue_depth.Set(depth);
  a.stats.send_queue_bytes.Set(bytes);
}

SendResult Worker::Send(AssocHandle assoc, uint16_t stream, uint32_t ppid, SendBuffer&& buffer, uint16_t flags,
                        uint32_t ttl_ms) {
  if (!buffer.valid()) return SendResult::kNoBuffers;
  Assoc* a = Lookup(assoc);
  const SendResult admitted = Admit(a, buffer.size());
  if (IsBackpressure(admitted)) return admitted;  // the caller keeps the buffer
  if (admitted != SendResult::kOk) {
    ReleaseSendBuffer(std::move(buffer));
    return admitted;
  }
  const uint32_t desc = memory_->Attach(buffer);  // consumes it
  if (desc == kNoDesc) {
    NoteNoBuffers(*a);
    return SendResult::kNoBuffers;
  }
  return Enqueue(*a, desc, stream, ppid, flags, ttl_ms);
}

SendResult Worker::SendCopy(AssocHandle assoc, uint16_t stream, uint32_t ppid, absl::Span<const char> payload,
                            uint16_t flags, uint32_t ttl_ms) {
  Assoc* a = Lookup(assoc);
  if (const SendResult r = Admit(a, payload.size()); r != SendResult::kOk) return r;
  if (payload.size() > send_pool_->max_message_size()) return SendResult::kTooBig;
  const uint32_t desc = memory_->Copy(payload);
  if (desc == kNoDesc) {
    NoteNoBuffers(*a);
    return SendResult::kNoBuffers;
  }
  a->stats.send_copied_bytes.Add(payload.size());
  a->stats.send_copies.Add(1);
  totals_.send_copied_bytes.Add(payload.size());
  totals_.send_copies.Add(1);
  return Enqueue(*a, desc, stream, ppid, flags, ttl_ms);
}

SendResult Worker::SendRetained(AssocHandle assoc, uint16_t stream, uint32_t ppid, RetainedMessage&& message,
                                absl::Span<const char> part, uint16_t flags, uint32_t ttl_ms) {
  if (part.empty()) part = message.payload;
  Assoc* a = Lookup(assoc);
  const SendResult admitted = Admit(a, part.size());
  if (IsBackpressure(admitted)) return admitted;  // the caller keeps the message
  if (admitted != SendResult::kOk) {
    Release(std::move(message));
    return admitted;
  }
  const uint32_t desc = memory_->AttachRetained(message, part);  // consumes it
  if (desc == kNoDesc) {
    NoteNoBuffers(*a);
    return SendResult::kNoBuffers;
  }
  return Enqueue(*a, desc, stream, ppid, flags, ttl_ms);
}

SendResult Worker::Enqueue(Assoc& a, uint32_t desc, uint16_t stream, uint32_t ppid, uint16_t flags,
                           uint32_t ttl_ms) {
  memory_->Prepare(desc, stream, ppid, WithDefaultPr(flags, ttl_ms, a.default_pr), ttl_ms, 0, a.sctp);
  send_pool_->desc(desc).slot = a.slot;
  a.queue.Push(*send_pool_, desc);
  NoteQueueDepth(a);
  send_in_use_.Set(send_pool_->buffers_in_use());
  MarkSendDirty(a);
  return SendResult::kOk;
}

// A descriptor's end (sent, failed, dropped): its memory goes back where it
// came from.
void Worker::FreeDesc(uint32_t desc) {
  memory_->Free(desc);
  retained_gauge_.Set(retention_->retained());
  send_in_use_.Set(send_pool_->buffers_in_use());
}

void Worker::MarkSendDirty(Assoc& a) {
  if (a.dirty_queued) return;
  a.dirty_queued = true;
  send_dirty_.push_back(a.slot);
}

// Returns the sends submitted whose completions come at once (see
// EventLoop::Client::BeforeWait).
unsigned Worker::FlushSends() {
  if (send_dirty_.empty()) return 0;
  unsigned prompt = 0;
  // Handlers called from here (errors, teardown) may mark others dirty: work
  // on a copy so no mark is lost and the vector is not grown mid-loop.
  flushing_.swap(send_dirty_);  // both keep their capacity: no allocation
  for (uint16_t slot : flushing_) {
    Assoc& a = (*slots_)[slot];
    a.dirty_queued = false;
    if (!slots_->used(slot) || !a.live() || a.queue.in_flight()) continue;
    if (a.queue.queued() > 0) {
      prompt += SubmitChain(a);
    } else if (a.shutdown_requested) {
      SendEof(a);
    }
  }
  flushing_.clear();
  return prompt;
}

// Returns the completions due at once (SendQueue::Submit).
unsigned Worker::SubmitChain(Assoc& a) {
  // SENDMSG_ZC where the protocol supports it. Unknown yet: the first message
  // goes alone as the probe (an unsupporting socket fails it with EOPNOTSUPP
  // before sending anything, and it is sent again with sendmsg). A message
  // with an injected fault goes alone too, as the kernel ends a chain at a
  // failure.
  FaultPlan* faults = ring_->fault_plan();
  const bool alone = a.zc == ZcSupport::kUnknown || (faults != nullptr && faults->Planned(Op::kSend, a.slot));
  const unsigned prompt = a.queue.Submit(*ring_, *send_pool_,
                                         {.slot = a.slot,
                                          .generation = a.generation,
                                          .max = alone ? 1u : options_.send_batch,
                                          .zc = a.zc != ZcSupport::kNo,
                                          .bundle = a.bundle});
  ++chains_in_flight_;
  NoteQueueDepth(a);
  return prompt;
}

// A send's end: its request CQE, and for SENDMSG_ZC with IORING_CQE_F_MORE
// also the notification CQE that hands the buffer back.
void Worker::OnSendComplete(Assoc& a, uint32_t desc, const Completion& c, bool zc) {
  SendDesc& d = send_pool_->desc(desc);
  ABSL_RAW_CHECK(d.slot == a.slot && d.segments > 0, "send completion for a descriptor not in flight");
  if (zc && c.notif()) {
    d.notif_pending = false;
  } else {
    d.result = c.res;
    d.result_in = true;
    if (zc) {
      d.notif_pending = c.more();
      // Conclusive only when refused or done; EAGAIN and the like say nothing.
      if (a.zc == ZcSupport::kUnknown && (c.res == -EOPNOTSUPP || c.res >= 0)) LearnZcSupport(a, c.res >= 0);
      if (c.res == -EOPNOTSUPP) d.result = -ECANCELED;  // not sent: again, with sendmsg
      if (c.res >= 0) zc_sends_.Add(1);
    }
  }
  if (d.result_in && !d.notif_pending && a.queue.StepDone()) FinishChain(a);
}

void Worker::LearnZcSupport(Assoc& a, bool supported) {
  const ZcSupport support = supported ? ZcSupport::kYes : ZcSupport::kNo;
  zc_by_protocol_.emplace_back(a.protocol, support);
  for (uint16_t s = 0; s < slots_->size(); ++s) {
    Assoc& other = (*slots_)[s];
    if (slots_->used(s) && other.protocol == a.protocol && other.zc == ZcSupport::kUnknown) other.zc = support;
  }
  a.zc = support;
  Logf("worker %d: SENDMSG_ZC %s on protocol %d sockets: sending with %s", options_.index,
       supported ? "works" : "is refused (EOPNOTSUPP)", a.protocol, supported ? "sendmsg_zc" : "sendmsg");
}

void Worker::FinishChain(Assoc& a) {
  const uint16_t generation = a.generation;
  bool dead = false;
  const SendQueue::Settled settled = a.queue.Settle(
      *send_pool_,
      [&](uint32_t id) {
        CountSent(a, send_pool_->desc(id).length);
        FreeDesc(id);
      },
      [&](uint32_t id, int res) {
        // EPIPE and the like: the association is gone.
        dead = dead || res == -EPIPE || res == -ECONNRESET || res == -ENOTCONN || res == -ESHUTDOWN;
        ReportSendError(a, res, res >= 0 ? "short sendmsg (an SCTP message is sent whole or not at all)"
                                         : "sendmsg");
        FreeDesc(id);
      });
  --chains_in_flight_;
  a.stats.send_eagain.Add(settled.eagain);
  totals_.send_eagain.Add(settled.eagain);
  if (!slots_->used(a.slot) || slots_->generation(a.slot) != generation) return;  // ended in a callback
  if (settled.flush_held && a.live() && FlushHeldRun(a)) a.queue.set_poll_first(false);
  NoteQueueDepth(a);
  if (dead) BeginTeardown(a, DownReason::kCommLost);
  if (!slots_->used(a.slot) || slots_->generation(a.slot) != generation) return;
  if (a.state == Assoc::State::kClosing) FailQueued(a);
  if (!a.live()) {
    MaybeFinish(a);
    return;
  }
  if (a.queue.queued() > 0 || a.shutdown_requested) MarkSendDirty(a);
  MaybeWritable(a);
  WakeBufferWaiters();
}

// The kernel holds a MSG_MORE run (SCTP's asoc->force_delay) until a send to
// that association without MSG_MORE, and holds with it every retransmission
// that would start a packet. When the buffer fills mid-run, that send is
// refused (EAGAIN), and POLLOUT needs acks that may need those held
// retransmissions: after a loss nothing moves until the T3 timer, backed off
// to a minute. (TCP pushes before it waits for memory; SCTP does not.) So the
// run's next message goes now, synchronously, through a send buffer raised
// for that one call and restored after it. Returns whether it went.
bool Worker::FlushHeldRun(Assoc& a) {
  const uint32_t id = a.queue.front();
  SendDesc& d = send_pool_->desc(id);
  const int fd = a.fd.get();
  int syscalls = 1;
  const absl::StatusOr<int> current = GetSocketBuffer(fd, SO_SNDBUF, "SO_SNDBUF");
  const int sndbuf = current.value_or(0);
  bool raised = current.ok();
  // The kernel doubles what it is given; the overshoot past a full buffer is
  // at most one message and its chunks' overhead.
  const int base = sndbuf / 2;
  const int more_room = static_cast<int>(std::min<size_t>(options_.max_message_size, 1 << 24)) + (64 << 10);
  int option = SO_SNDBUFFORCE;
  if (raised) {
    const int want = base + more_room;
    ++syscalls;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)) != 0) {
      option = SO_SNDBUF;  // no CAP_NET_ADMIN: up to net.core.wmem_max
      syscalls += 2;
      raised = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want)) == 0 &&
               GetSocketBuffer(fd, SO_SNDBUF, "SO_SNDBUF").value_or(0) > sndbuf;
    }
  }
  ssize_t sent = -1;
  int err = 0;
  if (raised) {
    ++syscalls;
    sent = sendmsg(fd, &d.msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    err = sent < 0 ? errno : 0;
    ++syscalls;
    setsockopt(fd, SOL_SOCKET, option, &base, sizeof(base));
  }
  other_syscalls_.Add(syscalls);
  if (sent != static_cast<ssize_t>(d.length)) {
    if (!held_flush_failed_logged_) {
      held_flush_failed_logged_ = true;
      Logf("worker %d: a bundled run is held behind a full send buffer and could not be flushed (%s): it waits "
           "for POLLOUT",
           options_.index, raised ? std::strerror(err) : "the send buffer cannot be raised");
    }
    return false;
  }
  held_flushes_.Add(1);
  a.queue.set_held(false);
  CountSent(a, d.length);
  FreeDesc(a.queue.PopFront(*send_pool_));
  return true;
}

void Worker::CountSent(Assoc& a, uint32_t bytes) {
  a.stats.messages_out.Add(1);
  a.stats.bytes_out.Add(bytes);
  totals_.messages_out.Add(1);
  totals_.bytes_out.Add(bytes);
}

// A sender refused with kQueueFull hears once the queue is down to half.
void Worker::MaybeWritable(Assoc& a) {
  if (!a.want_writable || !a.queue.HalfEmpty(options_.send_queue_limit, options_.send_queue_bytes)) return;
  a.want_writable = false;
  handler_->OnWritable(*this, HandleOf(a));
}

void Worker::NoteNoBuffers(Assoc& a) {
  if (a.waiting_buffers) return;  // OnWritable once sends free some
  a.waiting_buffers = true;
  buffer_waiters_.push_back(a.slot);
}

void Worker::WakeBufferWaiters() {
  if (buffer_waiters_.empty() || send_pool_->buffers_in_use() >= options_.send_buffer_count ||
      !send_pool_->has_free_desc()) {
    return;
  }
  std::vector<uint16_t> waiters;
  waiters.swap(buffer_waiters_);
  for (uint16_t slot : waiters) {
    Assoc& w = (*slots_)[slot];
    w.waiting_buffers = false;
    if (slots_->used(slot) && w.live()) handler_->OnWritable(*this, HandleOf(w));
  }
}

void Worker::FailQueued(Assoc& a) {
  std::vector<uint32_t> ids;
  a.queue.TakeIf(*send_pool_, [](const SendDesc&) { return true; }, &ids);
  for (uint32_t id : ids) FreeDesc(id);
  NoteQueueDepth(a);
  if (ids.empty()) return;
  a.stats.send_dropped.Add(ids.size());
  totals_.send_dropped.Add(ids.size());
  handler_->OnError(*this, HandleOf(a), absl::UnavailableError(absl::StrCat(
                                            ids.size(), " queued messages dropped: association ending")));
}

// The messages still queued, oldest first, copied out to go with the
// association to its next owner (Detach: a move, not the steady state).
std::vector<OutgoingMessage> Worker::TakeQueued(Assoc& a) {
  std::vector<uint32_t> ids;
  a.queue.TakeIf(*send_pool_, [](const SendDesc&) { return true; }, &ids);
  std::vector<OutgoingMessage> out;
  out.reserve(ids.size());
  for (uint32_t id : ids) {
    a.stats.move_copies.Add(1);
    totals_.move_copies.Add(1);
    out.push_back(memory_->TakeCopy(id));
  }
  retained_gauge_.Set(retention_->retained());
  send_in_use_.Set(send_pool_->buffers_in_use());
  NoteQueueDepth(a);
  return out;
}

void Worker::ReportSendError(Assoc& a, int res, const char* what) {
  a.stats.send_errors.Add(1);
  totals_.send_errors.Add(1);
  handler_->OnError(*this, HandleOf(a),
                    res < 0 ? absl::ErrnoToStatus(-res, what) : absl::DataLossError(absl::StrCat(what, ": ", res)));
}

// --- Shutdown and abort ---------------------------------------------------

void Worker::SendEof(Assoc& a) {
  if (a.eof_sent) return;
  a.eof_sent = true;
  other_syscalls_.Add(1);
  const int ret =
      a.sctp ? SendSctpFlag(a.fd.get(), SCTP_EOF, 0) : (::shutdown(a.fd.get(), SHUT_WR) == 0 ? 0 : -errno);
  if (ret < 0) {
    handler_->OnError(*this, HandleOf(a), absl::ErrnoToStatus(-ret, "graceful shutdown"));
    BeginTeardown(a, DownReason::kError);
  }
  // Otherwise SHUTDOWN_COMP (SCTP) or the peer's close (EOF) ends it.
}

void Worker::SendAbort(Assoc& a) {
  other_syscalls_.Add(1);
  if (a.sctp) {
    SendSctpFlag(a.fd.get(), SCTP_ABORT, 0);
  } else {
    ::shutdown(a.fd.get(), SHUT_RDWR);
  }
}

void Worker::Shutdown(AssocHandle assoc) {
  Assoc* a = Lookup(assoc);
  if (a == nullptr || !a->live() || a->shutdown_requested) return;
  a->shutdown_requested = true;
  MarkSendDirty(*a);  // FlushSends sends EOF once the queue is empty
}

void Worker::Abort(AssocHandle assoc) {
  Assoc* a = Lookup(assoc);
  if (a == nullptr || a->state == Assoc::State::kClosing) return;
  SendAbort(*a);
  BeginTeardown(*a, DownReason::kAborted);
}

}  // namespace sctpdp
