// Worker receive path: multishot recvmsg with buffer select, message
// delivery in place, reassembly of messages that span buffers, notifications.
//
// Why nothing is lost when the buffer ring runs dry: multishot recvmsg picks a
// buffer before it reads the socket, so -ENOBUFS ends the multishot with the
// message still queued in the kernel. The worker re-arms once a buffer is back
// (RearmPending), and the next completion starts with that same message.
//
// Why order holds: one multishot per association, whose completions are
// posted in the order the socket delivered the data; the worker handles a
// CQ strictly in order, and at most one receive is armed per association.
#include <arpa/inet.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "dataplane/log.h"
#include "dataplane/sctp_parse.h"
#include "dataplane/worker.h"
#include "dataplane/worker_assoc.h"

namespace sctpdp {

void Worker::ArmRecv(Assoc& a) {
  io_uring_sqe* sqe = ring_->GetSqe();
  const uint64_t user_data = Tag{Op::kRecv, a.generation, a.slot, 0}.Pack();
  a.recv_armed = true;
  if (TakeFault(a.slot, Op::kRecv, sqe, user_data)) return;
  io_uring_prep_recvmsg_multishot(sqe, a.slot, &recv_template_, 0);
  sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffers_->group();
  sqe->user_data = user_data;
}

void Worker::QueueRearm(Assoc& a) {
  if (a.rearm_queued || !a.live()) return;
  a.rearm_queued = true;
  rearm_.push_back(a.slot);
}

void Worker::RearmPending() {
  if (rearm_.empty()) return;
  // With no buffer to give, arming would only end in -ENOBUFS again: wait for
  // the application to release one (Release() calls back here).
  if (buffers_->available() == 0) return;
  for (uint16_t slot : rearm_) {
    Assoc& a = slots_[slot];
    a.rearm_queued = false;
    if (!a.live() || a.recv_armed || a.recv_paused) continue;
    recv_rearms_.Add(1);
    ArmRecv(a);
  }
  rearm_.clear();
}

void Worker::OnRecv(Assoc& a, int res, uint32_t flags) {
  const uint16_t generation = a.generation;
  if (!(flags & IORING_CQE_F_MORE)) a.recv_armed = false;
  if (flags & IORING_CQE_F_BUFFER) {
    const uint16_t bid = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
    buffers_->Take(bid);
    if (res > 0 && a.live()) {
      OnRecvData(a, bid, res, flags);
    } else {
      buffers_->Recycle(bid);
    }
  } else if (res >= 0) {
    // A result without a buffer is not something recvmsg produces.
    recv_errors_.Add(1);
    handler_->OnError(*this, HandleOf(a), absl::DataLossError("recvmsg completion without a buffer"));
    BeginTeardown(a, DownReason::kError);
  } else {
    OnRecvError(a, res);
  }
  if (a.generation != generation) return;  // torn down and freed meanwhile
  if (a.state == Assoc::State::kClosing) {
    MaybeFinishTeardown(a);
  } else if (!a.recv_armed && !a.recv_paused) {
    QueueRearm(a);
  }
}

bool Worker::PauseReceive(AssocHandle assoc) {
  Assoc* a = Lookup(assoc);
  if (a == nullptr || !a->live()) return false;
  if (a->recv_paused) return true;
  a->recv_paused = true;
  recv_pauses_.Add(1);
  // End the live multishot: it completes with -ECANCELED (after whatever it
  // had already posted) and, paused, is not re-armed.
  CancelRecv(*a);
  return true;
}

bool Worker::ResumeReceive(AssocHandle assoc) {
  Assoc* a = Lookup(assoc);
  if (a == nullptr || !a->live()) return false;
  if (!a->recv_paused) return true;
  a->recv_paused = false;
  if (!a->recv_armed) QueueRearm(*a);
  return true;
}

void Worker::OnRecvError(Assoc& a, int res) {
  switch (-res) {
    case ENOBUFS:
      // The provided-buffer ring was empty; the data is still in the socket.
      enobufs_.Add(1);
      return;
    case EAGAIN:
    case EINTR:
      // Spurious: the receive ends and is re-armed (poll-driven, no spin).
      return;
    case ECANCELED:
      // Our own cancel (teardown), or the kernel ending the multishot.
      return;
    case ECONNRESET:
    case ECONNABORTED:
    case ENOTCONN:
    case EPIPE:
    case ESHUTDOWN:
    case ETIMEDOUT:
    case EHOSTUNREACH:
    case ENETUNREACH:
      recv_errors_.Add(1);
      BeginTeardown(a, DownReason::kCommLost);
      return;
    case EBADF:
    case ENOTSOCK:
    case EINVAL:
    case EFAULT:
    case EOPNOTSUPP:
    case ENOMEM:
    default:
      recv_errors_.Add(1);
      handler_->OnError(*this, HandleOf(a), absl::ErrnoToStatus(-res, "multishot recvmsg"));
      BeginTeardown(a, DownReason::kError);
      return;
  }
}

void Worker::OnRecvData(Assoc& a, uint16_t bid, int res, uint32_t flags) {
  absl::StatusOr<RecvParts> parts = ParseRecvmsgOut(buffers_->Buffer(bid), res, recv_template_);
  if (!parts.ok()) {
    buffers_->Recycle(bid);
    recv_errors_.Add(1);
    handler_->OnError(*this, HandleOf(a), parts.status());
    BeginTeardown(a, DownReason::kError);
    return;
  }
  const bool notification = parts->msg_flags & MSG_NOTIFICATION;
  if (parts->payload.empty() && !notification) {
    // End of stream: the peer closed (multishot ends here too).
    buffers_->Recycle(bid);
    BeginTeardown(a, DownReason::kPeerClosed);
    return;
  }
  if (!a.sctp && (parts->msg_flags & MSG_TRUNC)) {
    // A datagram socket drops what did not fit: say so, never deliver a part.
    buffers_->Recycle(bid);
    OversizeAbort(a, parts->payload.size(), a.AssocOf(*parts), true);
    return;
  }
  // SCTP marks the last piece of a message with MSG_EOR; other SEQPACKET
  // sockets deliver whole messages.
  const bool eor = !a.sctp || (parts->msg_flags & MSG_EOR);
  if (a.discarding && !notification && a.AssocOf(*parts) == a.discard_assoc) {
    // The rest of a message over max_message_size: dropped, never delivered.
    buffers_->Recycle(bid);
    if (eor) a.discarding = false;
    return;
  }
  if (notification && eor && (a.partial_len == 0 || !a.partial_notification)) {
    // A whole notification, even in the middle of a data message's pieces
    // (PARTIAL_DELIVERY_EVENT comes exactly then): delivered now.
    DeliverNotification(a, parts->payload);
    buffers_->Recycle(bid);
    return;
  }
  if (a.partial_len == 0 && eor) {
    DeliverMessage(a, *parts, bid, parts->payload, /*copied=*/false);
    return;
  }
  const bool appended = AppendPartial(a, *parts, eor);
  buffers_->Recycle(bid);
  if (!appended || !eor) return;
  // The whole message: deliver it from a local owner of the reassembly, so a
  // teardown inside the handler cannot free it underneath (it is handed back
  // for reuse unless the handler retained it).
  std::unique_ptr<char[]> whole(std::move(a.partial));
  const size_t whole_len = a.partial_len, whole_cap = a.partial_cap;
  const bool was_notification = a.partial_notification;
  const RecvParts first = a.partial_parts;
  const uint16_t generation = a.generation;
  a.partial_len = a.partial_cap = 0;
  a.stats.reassemblies.Add(1);
  totals_.reassemblies.Add(1);
  current_reassembly_ = &whole;
  if (was_notification) {
    DeliverNotification(a, absl::MakeConstSpan(whole.get(), whole_len));
  } else {
    DeliverMessage(a, first, -1, absl::MakeConstSpan(whole.get(), whole_len), /*copied=*/true);
  }
  current_reassembly_ = nullptr;
  if (whole && a.generation == generation && a.live() && a.partial == nullptr) {
    a.partial = std::move(whole);
    a.partial_cap = whole_cap;
  }
}

bool Worker::AppendPartial(Assoc& a, const RecvParts& parts, bool eor) {
  const bool notification = parts.msg_flags & MSG_NOTIFICATION;
  if (a.partial_len > 0 &&
      (a.partial_notification != notification || a.AssocOf(a.partial_parts) != a.AssocOf(parts))) {
    // With fragment interleave level 0 (the default) a partial delivery is
    // never interleaved with another message on the socket.
    recv_errors_.Add(1);
    handler_->OnError(*this, HandleOf(a),
                      absl::DataLossError(absl::StrCat("interleaved partial delivery (association ",
                                                       a.AssocOf(a.partial_parts), "): incomplete message dropped")));
    if (a.kind == SocketKind::kAssociation) {
      BeginTeardown(a, DownReason::kError);
      return false;
    }
    a.partial_len = 0;  // one-to-many: drop the dead piece, start over with this one
  }
  if (a.partial_len == 0) {
    a.partial_parts = parts;
    a.partial_notification = notification;
  }
  const size_t n = parts.payload.size();
  if (a.partial_len + n > options_.max_message_size) {
    OversizeAbort(a, a.partial_len + n, a.AssocOf(parts), eor);
    return false;
  }
  if (a.partial_len + n > a.partial_cap) {
    size_t cap = std::max<size_t>(a.partial_cap * 2, 2 * options_.buffer_size);
    cap = std::min(std::max(cap, a.partial_len + n), options_.max_message_size);
    std::unique_ptr<char[]> grown(new char[cap]);
    if (a.partial_len > 0) std::memcpy(grown.get(), a.partial.get(), a.partial_len);
    a.partial = std::move(grown);
    a.partial_cap = cap;
  }
  std::memcpy(a.partial.get() + a.partial_len, parts.payload.data(), n);
  a.partial_len += n;
  a.stats.copied_bytes.Add(n);
  totals_.copied_bytes.Add(n);
  return true;
}

void Worker::OversizeAbort(Assoc& a, size_t size, sctp_assoc_t who, bool eor) {
  oversize_.Add(1);
  handler_->OnError(*this, HandleOf(a),
                    absl::OutOfRangeError(absl::StrCat("association ", who, ": message of ", size,
                                                       "+ bytes over max_message_size ", options_.max_message_size,
                                                       ": association aborted")));
  a.partial_len = 0;
  if (a.kind == SocketKind::kOneToMany) {
    // Only that association goes; the socket serves the others on. Its
    // message's remaining pieces are dropped as they come.
    SendAbort(a, who);
    a.discarding = !eor;
    a.discard_assoc = who;
    return;
  }
  SendAbort(a, 0);
  BeginTeardown(a, DownReason::kOversize);
}

void Worker::DeliverMessage(Assoc& a, const RecvParts& parts, int32_t bid,
                            absl::Span<const char> payload, bool copied) {
  MessageView m;
  m.assoc = HandleOf(a);
  m.assoc_id = a.assoc_id;
  if (parts.has_rcvinfo) {
    m.stream = parts.rcvinfo.rcv_sid;
    m.ssn = parts.rcvinfo.rcv_ssn;
    m.ppid = ntohl(parts.rcvinfo.rcv_ppid);
    m.context = parts.rcvinfo.rcv_context;
    m.rcv_flags = parts.rcvinfo.rcv_flags;
    if (parts.rcvinfo.rcv_assoc_id != 0) m.assoc_id = parts.rcvinfo.rcv_assoc_id;
  }
  m.copied = copied;
  m.payload = payload;
  m.buffer_id = bid;
  a.stats.messages_in.Add(1);
  a.stats.bytes_in.Add(payload.size());
  totals_.messages_in.Add(1);
  totals_.bytes_in.Add(payload.size());
  current_message_ = &m;
  current_retained_ = false;
  handler_->OnMessage(*this, m);
  current_message_ = nullptr;
  if (bid >= 0 && !current_retained_) buffers_->Recycle(static_cast<uint16_t>(bid));
}

void Worker::DeliverNotification(Assoc& a, absl::Span<const char> bytes) {
  a.stats.notifications.Add(1);
  totals_.notifications.Add(1);
  absl::StatusOr<AssociationEvent> ev = DecodeNotification(bytes);
  if (!ev.ok()) {
    handler_->OnError(*this, HandleOf(a), ev.status());
    return;
  }
  // A partial delivery that can no longer complete: drop what was gathered.
  if (a.partial_len > 0 && !a.partial_notification &&
      (ev->type == EventType::kPartialDelivery || ev->EndsAssociation()) &&
      (a.kind == SocketKind::kAssociation || ev->assoc_id == a.AssocOf(a.partial_parts))) {
    a.partial_len = 0;
  }
  handler_->OnEvent(*this, HandleOf(a), *ev);
  // On a one-to-many socket an association's end is an event, not the
  // socket's end.
  if (ev->EndsAssociation() && a.kind == SocketKind::kAssociation && a.live()) {
    BeginTeardown(a, ev->state == SCTP_SHUTDOWN_COMP ? DownReason::kShutdown : DownReason::kCommLost);
  }
}

sctp_assoc_t Worker::PartialFor(AssocHandle socket) {
  Assoc* a = Lookup(socket);
  if (a == nullptr || a->partial_len == 0) return 0;
  return a->partial_parts.has_rcvinfo ? a->partial_parts.rcvinfo.rcv_assoc_id : a->assoc_id;
}

absl::StatusOr<RetainedMessage> Worker::Retain(const MessageView& msg) {
  if (current_message_ == nullptr || msg.assoc.value != current_message_->assoc.value ||
      msg.payload.data() != current_message_->payload.data()) {
    return absl::FailedPreconditionError("Retain: only the message being handled can be retained");
  }
  RetainedMessage out;
  if (msg.buffer_id < 0) {
    // A reassembled message: hand over the reassembly buffer itself.
    if (current_reassembly_ == nullptr || *current_reassembly_ == nullptr) {
      return absl::FailedPreconditionError("Retain: already retained");
    }
    out.reassembled = std::move(*current_reassembly_);
    out.payload = msg.payload;
    return out;
  }
  if (current_retained_) return absl::FailedPreconditionError("Retain: already retained");
  if (retained_ >= options_.retain_budget) {
    return absl::ResourceExhaustedError(
        absl::StrCat("Retain: retain_budget of ", options_.retain_budget, " buffers spent"));
  }
  ++retained_;
  retained_gauge_.Set(retained_);
  current_retained_ = true;
  out.buffer_id = msg.buffer_id;
  out.payload = msg.payload;
  return out;
}

void Worker::Release(RetainedMessage retained) {
  if (retained.buffer_id < 0) return;  // a reassembled copy frees itself
  buffers_->Recycle(static_cast<uint16_t>(retained.buffer_id));
  --retained_;
  retained_gauge_.Set(retained_);
}

}  // namespace sctpdp
