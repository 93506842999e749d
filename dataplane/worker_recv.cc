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
#include "dataplane/buffer_ring.h"
#include "dataplane/log.h"
#include "dataplane/sctp_parse.h"
#include "dataplane/user_data.h"
#include "dataplane/worker.h"
#include "dataplane/worker_assoc.h"

namespace sctpdp {

void Worker::ArmRecv(Assoc& a) {
  a.recv_armed = true;
  a.recv_cancel_sent = false;
  ring_->PrepRecvMultishot(a.slot, &recv_template_, buffers_->group(), Tag{Op::kRecv, a.generation, a.slot, 0}.Pack());
}

void Worker::QueueRearm(Assoc& a) {
  if (a.rearm_queued || !a.receiving()) return;
  a.rearm_queued = true;
  rearm_.push_back(a.slot);
}

void Worker::RearmPending() {
  if (rearm_.empty()) return;
  // With no buffer to give, arming would only end in -ENOBUFS again: wait for
  // the application to release one (Release() queues a publish).
  if (buffers_->available() == 0) return;
  for (uint16_t slot : rearm_) {
    Assoc& a = (*slots_)[slot];
    a.rearm_queued = false;
    if (!slots_->used(slot) || !a.receiving() || a.recv_armed || a.recv_paused) continue;
    recv_rearms_.Add(1);
    ArmRecv(a);
  }
  rearm_.clear();
}

void Worker::OnRecv(Assoc& a, const Completion& c) {
  const uint16_t generation = a.generation;
  if (!c.more()) a.recv_armed = false;
  if (c.has_buffer()) {
    buffers_->Take(c.buffer_id());
    if (c.res > 0 && a.state != Assoc::State::kClosing) {
      OnRecvData(a, c.buffer_id(), c.res);
    } else {
      buffers_->Recycle(c.buffer_id());
    }
  } else if (c.res >= 0) {
    // A result without a buffer is not something recvmsg produces.
    recv_errors_.Add(1);
    handler_->OnError(*this, HandleOf(a), absl::DataLossError("recvmsg completion without a buffer"));
    BeginTeardown(a, DownReason::kError);
  } else {
    OnRecvError(a, c.res);
  }
  if (!slots_->used(a.slot) || slots_->generation(a.slot) != generation) return;  // freed meanwhile
  switch (a.state) {
    case Assoc::State::kActive:
      if (!a.recv_armed && !a.recv_paused) QueueRearm(a);
      return;
    case Assoc::State::kDetaching:
      // Read on only to finish a message begun here.
      if (a.partial.in_progress()) {
        if (!a.recv_armed) QueueRearm(a);
        return;
      }
      CancelRecv(a);
      [[fallthrough]];
    case Assoc::State::kClosing:
      MaybeFinish(a);
      return;
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
      // Our own cancel (teardown, pause, detach), or the kernel ending the multishot.
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

void Worker::OnRecvData(Assoc& a, uint16_t bid, int res) {
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
    OversizeAbort(a, parts->payload.size(), true);
    return;
  }
  // SCTP marks the last piece of a message with MSG_EOR; other SEQPACKET
  // sockets deliver whole messages.
  const bool eor = !a.sctp || (parts->msg_flags & MSG_EOR);
  if (a.discarding && !notification) {
    // The rest of a message over max_message_size: dropped, never delivered.
    buffers_->Recycle(bid);
    if (eor) a.discarding = false;
    return;
  }
  if (notification && eor && (!a.partial.in_progress() || !a.partial.notification())) {
    // A whole notification, even in the middle of a data message's pieces
    // (PARTIAL_DELIVERY_EVENT comes exactly then): delivered now.
    DeliverNotification(a, parts->payload);
    buffers_->Recycle(bid);
    return;
  }
  if (!a.partial.in_progress() && eor) {
    // The common case: a whole message in one buffer, delivered in place.
    // The limit holds for it too, not only for reassembled ones.
    if (parts->payload.size() > options_.max_message_size) {
      buffers_->Recycle(bid);
      OversizeAbort(a, parts->payload.size(), true);
      return;
    }
    DeliverMessage(a, *parts, bid, parts->payload, nullptr);
    return;
  }
  OnPiece(a, *parts, eor);
  buffers_->Recycle(bid);
}

// One piece of a message that spans buffers: gathered (the only copy), and
// delivered from the reassembly once whole.
void Worker::OnPiece(Assoc& a, const RecvParts& parts, bool eor) {
  switch (a.partial.Add(parts, eor, 0)) {
    case Reassembler::Result::kPartial:
      a.stats.copied_bytes.Add(parts.payload.size());
      totals_.copied_bytes.Add(parts.payload.size());
      return;
    case Reassembler::Result::kOversize:
      OversizeAbort(a, a.partial.length() + parts.payload.size(), eor);
      return;
    case Reassembler::Result::kOverBudget:
      reassembly_refused_.Add(1);
      AbortPartial(a, eor, OverBudget(a.assoc_id, reassembly_));
      return;
    case Reassembler::Result::kInterleaved:
      // With fragment interleave level 0 (the default) a partial delivery is
      // never interleaved with another message on the socket.
      recv_errors_.Add(1);
      handler_->OnError(*this, HandleOf(a),
                        absl::DataLossError("interleaved partial delivery: incomplete message dropped"));
      BeginTeardown(a, DownReason::kError);
      return;
    case Reassembler::Result::kWhole:
      break;
  }
  a.stats.copied_bytes.Add(parts.payload.size());
  totals_.copied_bytes.Add(parts.payload.size());
  a.stats.reassemblies.Add(1);
  totals_.reassemblies.Add(1);
  // Delivered from a local owner of the reassembly, so a teardown inside the
  // handler cannot free it underneath; handed back for reuse unless the
  // handler retained it.
  Reassembler::Whole whole = a.partial.Take();
  const uint16_t generation = a.generation;
  const absl::Span<const char> bytes(whole.data.get(), whole.length);
  if (whole.notification) {
    DeliverNotification(a, bytes);
  } else {
    DeliverMessage(a, whole.first, -1, bytes, &whole.data);
  }
  if (slots_->used(a.slot) && slots_->generation(a.slot) == generation) a.partial.Recycle(std::move(whole));
}

void Worker::OversizeAbort(Assoc& a, size_t size, bool eor) {
  oversize_.Add(1);
  AbortPartial(a, eor,
               absl::OutOfRangeError(absl::StrCat("association ", a.assoc_id, ": message of ", size,
                                                  "+ bytes over max_message_size ", options_.max_message_size,
                                                  ": association aborted")));
}

void Worker::AbortPartial(Assoc& a, bool eor, const absl::Status& why) {
  handler_->OnError(*this, HandleOf(a), why);
  a.partial.Reset();
  a.discarding = !eor;
  SendAbort(a);
  BeginTeardown(a, DownReason::kOversize);
}

void Worker::DeliverMessage(Assoc& a, const RecvParts& parts, int32_t bid, absl::Span<const char> payload,
                            std::unique_ptr<char[]>* reassembly) {
  MessageView m = ViewOf(parts, bid, payload, reassembly != nullptr);
  m.assoc = HandleOf(a);
  m.cookie = a.cookie;
  m.assoc_id = a.assoc_id;
  a.stats.messages_in.Add(1);
  a.stats.bytes_in.Add(payload.size());
  totals_.messages_in.Add(1);
  totals_.bytes_in.Add(payload.size());
  retention_->Begin(&m, reassembly);
  handler_->OnMessage(*this, m);
  if (retention_->End()) buffers_->Recycle(static_cast<uint16_t>(bid));
  retained_gauge_.Set(retention_->retained());
  retain_refused_.Set(retention_->refused());  // Retain works only inside the handler
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
  if (a.partial.in_progress() && !a.partial.notification() &&
      (ev->type == EventType::kPartialDelivery || ev->EndsAssociation())) {
    a.partial.Reset();
    partials_dropped_.Add(1);
  }
  handler_->OnEvent(*this, HandleOf(a), *ev);
  if (ev->EndsAssociation() && a.state != Assoc::State::kClosing) {
    BeginTeardown(a, ev->state == SCTP_SHUTDOWN_COMP ? DownReason::kShutdown : DownReason::kCommLost);
  }
}

void Worker::Release(RetainedMessage retained) {
  retention_->Release(std::move(retained));
  retained_gauge_.Set(retention_->retained());
}

}  // namespace sctpdp
