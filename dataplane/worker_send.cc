// Worker send path: per-association FIFO queues drained by link chains of
// sendmsg SQEs carrying SCTP_SNDINFO (and SCTP_PRINFO for a time to live).
//
// Why messages cannot be reordered, in five steps:
//  1. Send() appends to the association's queue; nothing else reorders it.
//  2. At most one chain per association is in the kernel at a time.
//  3. A chain is IOSQE_IO_LINK'ed and fits one submit (Ring::ReserveSqes), so
//     the kernel runs its sendmsgs one after another, in queue order.
//  4. When one fails, the kernel cancels the rest (-ECANCELED); a message that
//     got -EAGAIN (the peeled sockets are O_NONBLOCK) or -ECANCELED goes back
//     to the front of the queue with the others, in their original order.
//  5. The next chain is built only when every completion of this one is in,
//     and after -EAGAIN its first SQE waits for POLLOUT (POLL_FIRST): no spin.
// An SCTP sendmsg is all or nothing (no partial sends), so a message is never
// split; a short result is reported as an error.
//
// Bundling (WorkerOptions::bundle_sends): a chain's sends to one association,
// all but the last, carry MSG_MORE, so the kernel packs their DATA chunks into
// full packets. The last send of each run clears the association's delay
// and flushes the lot. Until that send the kernel holds the run and every
// retransmission that would start a packet (SCTP's Nagle test), so a run must
// never be left waiting on a full send buffer: a send that follows a MSG_MORE
// send carries MSG_DONTWAIT (EAGAIN comes back instead of a wait in the
// kernel), and when one is refused FinishChain sends the run's next message
// at once through a briefly raised send buffer (FlushHeldRun). A chain
// cancelled mid-run (-ECANCELED) leaves the run held until the rest is sent
// again, with MSG_DONTWAIT on its first send for the same reason. A message
// that fails for good (a stream the association does not have: DataPlane::Send
// refuses those up front) leaves earlier ones of its run held until the
// association's next send or shutdown.
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "dataplane/log.h"
#include "dataplane/sctp_parse.h"
#include "dataplane/sctp_socket.h"
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
  send_pool_->Release(buffer);
  send_in_use_.Set(send_pool_->buffers_in_use());
}

SendResult Worker::Send(AssocHandle assoc, uint16_t stream, uint32_t ppid, SendBuffer buffer,
                        uint16_t flags, uint32_t ttl_ms) {
  if (!buffer.valid()) return SendResult::kNoBuffers;
  Assoc* a = Lookup(assoc);
  if (a == nullptr) {
    ReleaseSendBuffer(buffer);
    return SendResult::kNoAssociation;
  }
  return Enqueue(*a, buffer, stream, ppid, flags, ttl_ms, 0);
}

SendResult Worker::Enqueue(Assoc& a, SendBuffer buffer, uint16_t stream, uint32_t ppid, uint16_t flags,
                           uint32_t ttl_ms, sctp_assoc_t to) {
  SendResult result = SendResult::kOk;
  if (!a.live() || a.shutdown_requested) {
    result = SendResult::kClosing;
  } else if (a.queued >= options_.send_queue_limit) {
    a.want_writable = true;
    result = SendResult::kQueueFull;
  }
  if (result != SendResult::kOk) {
    ReleaseSendBuffer(buffer);
    return result;
  }
  SendDesc& d = send_pool_->desc(buffer.id());
  std::memset(&d.msg, 0, sizeof(d.msg));
  d.msg.msg_iov = d.iov;
  d.msg.msg_iovlen = d.segments;
  d.to = to;
  d.stream = stream;
  d.sctp_flags = flags;
  d.ppid = ppid;
  d.ttl_ms = ttl_ms;
  if (a.sctp) FillSendControl(&d.msg, d.control, stream, ppid, flags, ttl_ms, to);
  d.slot = a.slot;
  d.next = kNoDesc;
  if (a.queue_tail == kNoDesc) {
    a.queue_head = buffer.id();
  } else {
    send_pool_->desc(a.queue_tail).next = buffer.id();
  }
  a.queue_tail = buffer.id();
  ++a.queued;
  a.stats.send_queue_depth.Set(a.queued);
  MarkSendDirty(a);
  return SendResult::kOk;
}

SendResult Worker::SendCopy(AssocHandle assoc, uint16_t stream, uint32_t ppid,
                            absl::Span<const char> payload, uint16_t flags, uint32_t ttl_ms) {
  return SendCopyTo(assoc, 0, stream, ppid, payload, flags, ttl_ms);
}

SendResult Worker::SendCopyTo(AssocHandle socket, sctp_assoc_t to, uint16_t stream, uint32_t ppid,
                              absl::Span<const char> payload, uint16_t flags, uint32_t ttl_ms) {
  if (payload.size() > options_.max_message_size || payload.size() > send_pool_->max_message_size()) {
    return SendResult::kTooBig;
  }
  Assoc* a = Lookup(socket);
  if (a == nullptr) return SendResult::kNoAssociation;
  SendBuffer b = AcquireSendBuffer(payload.size());
  if (!b.valid()) {
    if (!a->waiting_buffers) {  // OnWritable once sends free some
      a->waiting_buffers = true;
      buffer_waiters_.push_back(a->slot);
    }
    return SendResult::kNoBuffers;
  }
  b.Write(0, payload);
  SendResult r = Enqueue(*a, b, stream, ppid, flags, ttl_ms, to);
  if (r == SendResult::kOk) {
    a->stats.send_copied_bytes.Add(payload.size());
    totals_.send_copied_bytes.Add(payload.size());
  }
  return r;
}

unsigned Worker::SendsInFlightFor(AssocHandle socket, sctp_assoc_t to) {
  Assoc* a = Lookup(socket);
  if (a == nullptr) return 0;
  unsigned n = 0;
  for (uint32_t id : a->chain) n += send_pool_->desc(id).to == to;
  return n;
}

void Worker::CancelSends(AssocHandle socket) {
  if (Assoc* a = Lookup(socket)) CancelChain(*a);
}

std::vector<OutgoingMessage> Worker::TakeQueuedFor(AssocHandle socket, sctp_assoc_t to) {
  std::vector<OutgoingMessage> out;
  Assoc* a = Lookup(socket);
  if (a == nullptr) return out;
  uint32_t prev = kNoDesc;
  for (uint32_t id = a->queue_head; id != kNoDesc;) {
    SendDesc& d = send_pool_->desc(id);
    const uint32_t next = d.next;
    if (d.to != to) {
      prev = id;
      id = next;
      continue;
    }
    OutgoingMessage q{d.stream, d.ppid, d.sctp_flags, d.ttl_ms, std::string()};
    q.payload.reserve(d.length);
    for (unsigned i = 0; i < d.segments; ++i) {
      q.payload.append(static_cast<const char*>(d.iov[i].iov_base), d.iov[i].iov_len);
    }
    out.push_back(std::move(q));
    // Unlink and free.
    if (prev == kNoDesc) {
      a->queue_head = next;
    } else {
      send_pool_->desc(prev).next = next;
    }
    if (a->queue_tail == id) a->queue_tail = prev;
    --a->queued;
    send_pool_->Free(id);
    id = next;
  }
  a->stats.send_queue_depth.Set(a->queued);
  send_in_use_.Set(send_pool_->buffers_in_use());
  // A sender refused while these filled the queue hears at the next loop
  // (FlushSends), not from inside the caller's move.
  if (!out.empty() && a->want_writable) MarkSendDirty(*a);
  return out;
}

void Worker::MarkSendDirty(Assoc& a) {
  if (a.dirty_queued) return;
  a.dirty_queued = true;
  send_dirty_.push_back(a.slot);
}

void Worker::FlushSends() {
  if (send_dirty_.empty()) return;
  // Handlers called from here (errors, teardown) may mark others dirty: work
  // on a copy so no mark is lost and the vector is not grown mid-loop.
  flushing_.swap(send_dirty_);  // both keep their capacity: no allocation
  for (uint16_t slot : flushing_) {
    Assoc& a = slots_[slot];
    a.dirty_queued = false;
    if (!a.live()) continue;
    MaybeWritable(a);  // its queue shrank without a send (TakeQueuedFor)
    if (!a.chain.empty()) continue;
    if (a.queued > 0) {
      SubmitChain(a);
    } else if (a.shutdown_requested) {
      SendEof(a);
    }
  }
  flushing_.clear();
}

void Worker::SubmitChain(Assoc& a) {
  // SENDMSG_ZC where the protocol supports it. Unknown yet: the first message
  // goes alone as the probe (an unsupporting socket fails it with EOPNOTSUPP
  // before sending anything, and it is sent again with sendmsg). A message
  // with an injected fault goes alone too, as the kernel ends a chain at a
  // failure.
  const bool zc = a.zc != ZcSupport::kNo;
  const bool alone = a.zc == ZcSupport::kUnknown || HasFault(a.slot, Op::kSend);
  const unsigned n = alone ? 1u : std::min(a.queued, options_.send_batch);
  ring_->ReserveSqes(n);
  ++chains_in_flight_;
  bool prev_more = false;
  for (unsigned i = 0; i < n; ++i) {
    const uint32_t id = a.queue_head;
    SendDesc& d = send_pool_->desc(id);
    a.queue_head = d.next;
    a.chain.push_back(id);
    d.result_in = false;
    d.notif_pending = false;
    d.zc = zc;
    d.more = false;
    io_uring_sqe* sqe = ring_->GetSqe();
    const uint64_t user_data = Tag{zc ? Op::kSendZc : Op::kSend, a.generation, a.slot, id}.Pack();
    if (TakeFault(a.slot, Op::kSend, sqe, user_data)) continue;
    // A send that may find the kernel holding its association's run (after
    // a MSG_MORE send) must not wait for POLLOUT inside the kernel: a full
    // buffer comes back as EAGAIN, and FinishChain flushes the run.
    const bool after_more = i > 0 ? prev_more : a.held && !a.poll_first;
    d.more = a.bundle && i + 1 < n;
    prev_more = d.more;
    const int msg_flags = MSG_NOSIGNAL | (d.more ? MSG_MORE : 0) | (after_more ? MSG_DONTWAIT : 0);
    if (zc) {
      io_uring_prep_sendmsg_zc(sqe, a.slot, &d.msg, msg_flags);
    } else {
      io_uring_prep_sendmsg(sqe, a.slot, &d.msg, msg_flags);
    }
    sqe->flags |= IOSQE_FIXED_FILE;
    if (i + 1 < n) sqe->flags |= IOSQE_IO_LINK;
    if (i == 0 && a.poll_first) sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
    sqe->user_data = user_data;
  }
  if (a.queue_head == kNoDesc) a.queue_tail = kNoDesc;
  a.queued -= n;
  a.chain_done = 0;
  a.poll_first = false;
  a.stats.send_queue_depth.Set(a.queued);
}

// A send's end: its request CQE, and for SENDMSG_ZC with IORING_CQE_F_MORE
// also the notification CQE that hands the buffer back.
void Worker::OnSendComplete(Assoc& a, uint32_t desc, int res, uint32_t flags, bool zc) {
  SendDesc& d = send_pool_->desc(desc);
  ABSL_RAW_CHECK(d.slot == a.slot && d.segments > 0, "send completion for a descriptor not in flight");
  if (zc && (flags & IORING_CQE_F_NOTIF)) {
    d.notif_pending = false;
  } else {
    d.result = res;
    d.result_in = true;
    if (zc) {
      d.notif_pending = flags & IORING_CQE_F_MORE;
      // Conclusive only when refused or done; EAGAIN and the like say nothing.
      if (a.zc == ZcSupport::kUnknown && (res == -EOPNOTSUPP || res >= 0)) LearnZcSupport(a, res >= 0);
      if (res == -EOPNOTSUPP) d.result = -ECANCELED;  // not sent: again, with sendmsg
      if (res >= 0) zc_sends_.Add(1);
    }
  }
  if (d.result_in && !d.notif_pending && ++a.chain_done == a.chain.size()) FinishChain(a);
}

void Worker::LearnZcSupport(Assoc& a, bool supported) {
  const ZcSupport support = supported ? ZcSupport::kYes : ZcSupport::kNo;
  zc_by_protocol_.emplace_back(a.protocol, support);
  for (Assoc& other : slots_) {
    if (other.live() && other.protocol == a.protocol && other.zc == ZcSupport::kUnknown) other.zc = support;
  }
  a.zc = support;
  Logf("worker %d: SENDMSG_ZC %s on protocol %d sockets: sending with %s", options_.index,
       supported ? "works" : "is refused (EOPNOTSUPP)", a.protocol, supported ? "sendmsg_zc" : "sendmsg");
}

void Worker::FinishChain(Assoc& a) {
  const uint16_t generation = a.generation;
  uint32_t retry_head = kNoDesc, retry_tail = kNoDesc, retries = 0;
  bool dead = false;
  bool flush_held = false;
  for (uint32_t id : a.chain) {
    SendDesc& d = send_pool_->desc(id);
    const int res = d.result;
    if (res >= 0) {
      a.held = d.more;
      if (static_cast<uint32_t>(res) == d.length) {
        CountSent(a, d.length);
      } else {
        ReportSendError(a, res, "short sendmsg (an SCTP message is sent whole or not at all)", d.to);
      }
      send_pool_->Free(id);
      continue;
    }
    switch (-res) {
      case EAGAIN:
      case EINTR:
      case ENOBUFS:
      case ENOMEM:
        a.poll_first = a.poll_first || res == -EAGAIN;
        a.stats.send_eagain.Add(res == -EAGAIN);
        totals_.send_eagain.Add(res == -EAGAIN);
        flush_held = flush_held || (retries == 0 && a.held);
        [[fallthrough]];
      case ECANCELED:
        // Not sent: back to the front of the queue, in order.
        d.next = kNoDesc;
        if (retry_tail == kNoDesc) {
          retry_head = id;
        } else {
          send_pool_->desc(retry_tail).next = id;
        }
        retry_tail = id;
        ++retries;
        continue;
      case EPIPE:
      case ECONNRESET:
      case ENOTCONN:
      case ESHUTDOWN:
        // The association is gone. On a one-to-many socket that is one
        // association among many: the socket lives on.
        dead = a.kind == SocketKind::kAssociation;
        [[fallthrough]];
      case EMSGSIZE:
      case EINVAL:
      case EFAULT:
      default:
        ReportSendError(a, res, d.to != 0 ? "sendmsg to association" : "sendmsg", d.to);
        send_pool_->Free(id);
        continue;
    }
  }
  a.chain.clear();
  --chains_in_flight_;
  if (retries > 0) {
    send_pool_->desc(retry_tail).next = a.queue_head;
    a.queue_head = retry_head;
    if (a.queue_tail == kNoDesc) a.queue_tail = retry_tail;
    a.queued += retries;
  }
  if (flush_held && a.live() && FlushHeldRun(a)) a.poll_first = false;
  send_in_use_.Set(send_pool_->buffers_in_use());
  a.stats.send_queue_depth.Set(a.queued);
  if (dead) BeginTeardown(a, DownReason::kCommLost);
  if (a.generation != generation) return;
  if (a.state == Assoc::State::kClosing) {
    FailQueued(a);
    MaybeFinishTeardown(a);
    return;
  }
  if (a.queued > 0 || a.shutdown_requested) MarkSendDirty(a);
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
  const uint32_t id = a.queue_head;
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
  a.held = false;
  CountSent(a, d.length);
  a.queue_head = d.next;
  if (a.queue_head == kNoDesc) a.queue_tail = kNoDesc;
  --a.queued;
  send_pool_->Free(id);
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
  if (!a.want_writable || a.queued > options_.send_queue_limit / 2) return;
  a.want_writable = false;
  handler_->OnWritable(*this, HandleOf(a));
}

void Worker::WakeBufferWaiters() {
  if (buffer_waiters_.empty() || send_pool_->buffers_in_use() >= options_.send_buffer_count) return;
  std::vector<uint16_t> waiters;
  waiters.swap(buffer_waiters_);
  for (uint16_t slot : waiters) {
    Assoc& w = slots_[slot];
    w.waiting_buffers = false;
    if (w.live()) handler_->OnWritable(*this, HandleOf(w));
  }
}

void Worker::FailQueued(Assoc& a) {
  uint32_t dropped = 0;
  while (a.queue_head != kNoDesc) {
    const uint32_t id = a.queue_head;
    a.queue_head = send_pool_->desc(id).next;
    send_pool_->Free(id);
    ++dropped;
  }
  a.queue_tail = kNoDesc;
  a.queued = 0;
  a.stats.send_queue_depth.Set(0);
  if (dropped == 0) return;
  a.stats.send_dropped.Add(dropped);
  totals_.send_dropped.Add(dropped);
  send_in_use_.Set(send_pool_->buffers_in_use());
  handler_->OnError(*this, HandleOf(a),
                    absl::UnavailableError(absl::StrCat(dropped, " queued messages dropped: association ending")));
}

void Worker::ReportSendError(Assoc& a, int res, const char* what, sctp_assoc_t to) {
  a.stats.send_errors.Add(1);
  totals_.send_errors.Add(1);
  const std::string where = to != 0 ? absl::StrCat(what, " ", to) : std::string(what);
  handler_->OnError(*this, HandleOf(a),
                    res < 0 ? absl::ErrnoToStatus(-res, where) : absl::DataLossError(absl::StrCat(where, ": ", res)));
}

// --- Shutdown and abort ---------------------------------------------------

namespace {

// A zero-length sendmsg whose SCTP_SNDINFO carries `sctp_flag` (SCTP_EOF or
// SCTP_ABORT). Peeled sockets are one-to-one style, where shutdown(2) does
// nothing for SCTP: this is how they start a SHUTDOWN or send an ABORT.
int SendSctpFlag(int fd, uint16_t sctp_flag, sctp_assoc_t who) {
  alignas(cmsghdr) char control[kSendControlBytes];
  msghdr msg;
  std::memset(&msg, 0, sizeof(msg));
  FillSendControl(&msg, control, 0, 0, sctp_flag, 0, who);
  return sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ? -errno : 0;
}

}  // namespace

void Worker::SendEof(Assoc& a) {
  if (a.eof_sent) return;
  a.eof_sent = true;
  other_syscalls_.Add(1);
  int ret = a.sctp ? SendSctpFlag(a.fd.get(), SCTP_EOF, 0) : (::shutdown(a.fd.get(), SHUT_WR) == 0 ? 0 : -errno);
  if (ret < 0) {
    handler_->OnError(*this, HandleOf(a), absl::ErrnoToStatus(-ret, "graceful shutdown"));
    BeginTeardown(a, DownReason::kError);
  }
  // Otherwise SHUTDOWN_COMP (SCTP) or the peer's close (EOF) ends it.
}

void Worker::SendAbort(Assoc& a, sctp_assoc_t who) {
  other_syscalls_.Add(1);
  if (a.sctp) {
    SendSctpFlag(a.fd.get(), SCTP_ABORT, who);
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
  if (a == nullptr || !a->live()) return;
  SendAbort(*a, 0);
  BeginTeardown(*a, DownReason::kAborted);
}

}  // namespace sctpdp
