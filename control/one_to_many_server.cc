#include "control/one_to_many_server.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "dataplane/log.h"
#include "dataplane/sctp_parse.h"
#include "dataplane/sctp_socket.h"
#include "dataplane/user_data.h"

namespace sctpdp {
namespace {

LoopOptions LoopOptionsOf(const OneToManyOptions& o) {
  LoopOptions l;
  l.name = "control";
  l.index = o.index;
  l.sq_entries = o.sq_entries;
  l.cq_entries = o.cq_entries;
  l.fixed_files = 1;
  l.tick_interval = o.tick_interval;
  l.stop_deadline = o.stop_deadline;
  l.mail_capacity = o.mail_capacity;
  l.faults = o.faults;
  return l;
}

template <typename T>
void AddOnce(std::vector<T>& v, T x) {
  if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
}

template <typename T>
bool Erase(std::vector<T>& v, T x) {
  auto it = std::find(v.begin(), v.end(), x);
  if (it == v.end()) return false;
  *it = v.back();
  v.pop_back();
  return true;
}

}  // namespace

OneToManyServer::OneToManyServer(Fd socket, const OneToManyOptions& options, OneToManyHandler* handler)
    : options_(options), handler_(handler), fd_(std::move(socket)) {}

absl::StatusOr<std::unique_ptr<OneToManyServer>> OneToManyServer::Create(Fd socket, const OneToManyOptions& options,
                                                                         OneToManyHandler* handler) {
  if (!socket || handler == nullptr) return absl::InvalidArgumentError("one-to-many server: no socket or handler");
  if (options.buffer_count == 0 || (options.buffer_count & (options.buffer_count - 1)) != 0 ||
      options.retain_budget >= options.buffer_count / 2 || options.send_batch == 0 || options.send_queue_limit == 0) {
    return absl::InvalidArgumentError("one-to-many server: bad buffer, retain or send options");
  }
  return std::unique_ptr<OneToManyServer>(new OneToManyServer(std::move(socket), options, handler));
}

absl::Status OneToManyServer::Start() {
  if (owned_loop_) return absl::FailedPreconditionError("one-to-many server: already started");
  auto loop = EventLoop::Create(LoopOptionsOf(options_), this);
  if (!loop.ok()) {
    loop_ = nullptr;  // Init may have run; the loop is gone
    return loop.status();
  }
  owned_loop_ = *std::move(loop);
  return absl::OkStatus();
}

OneToManyServer::~OneToManyServer() { Stop(); }

void OneToManyServer::Stop() {
  if (owned_loop_) owned_loop_->Stop();
}

absl::Status OneToManyServer::Init(EventLoop& loop) {
  loop_ = &loop;
  open_gauge_.Set(1);
  ring_ = &loop.ring();
  if (int ret = ring_->UpdateFixedFile(kSlot, fd_.get()); ret < 0) {
    return absl::ErrnoToStatus(-ret, "io_uring_register_files_update");
  }
  auto buffers = BufferRing::Create(*ring_, 0, options_.buffer_count, options_.buffer_size);
  if (!buffers.ok()) return buffers.status();
  buffers_ = *std::move(buffers);
  auto pool = SendPool::Create(options_.send_buffer_count, options_.send_buffer_size);
  if (!pool.ok()) return pool.status();
  send_pool_ = *std::move(pool);
  retention_ = std::make_unique<Retention>(buffers_.get(), options_.retain_budget);
  memory_ = std::make_unique<SendMemory>(send_pool_.get(), options_.parcels, retention_.get());
  std::memset(&recv_template_, 0, sizeof(recv_template_));
  recv_template_.msg_controllen = kRecvControlBytes;
  partial_ = Reassembler(options_.max_message_size, 2 * options_.buffer_size);
  other_syscalls_.Add(1);  // the fixed-file update
  ArmRecv();
  Logf("control %d: ring %s, %u x %u B receive buffers, one-to-many socket", options_.index,
       ring_->SetupFlagsString(), options_.buffer_count, options_.buffer_size);
  handler_->OnStart(*this);
  return absl::OkStatus();
}

void OneToManyServer::OnCompletion(const Completion& c) {
  const Tag tag = Tag::Unpack(c.user_data);
  if (tag.op == Op::kRecv) {
    OnRecv(c);
  } else if (tag.op == Op::kSend) {
    OnSendComplete(tag.aux, c);
  } else {
    Logf("control %d: unexpected completion op %d res %d", options_.index, int(tag.op), c.res);
  }
}

void OneToManyServer::BeforeWait() {
  if (open_ && dirty_ && !queue_.in_flight() && queue_.queued() > 0) SubmitChain();
  dirty_ = false;
  if (open_ && !recv_armed_ && buffers_->available() > 0) {
    recv_rearms_.Add(1);
    ArmRecv();
  }
  buffers_->Publish();
  chains_gauge_.Set(queue_.in_flight() ? 1 : 0);
}

bool OneToManyServer::StopStep(bool late) {
  if (open_ && (late || (queue_.queued() == 0 && !queue_.in_flight()))) Close();
  if (!open_ && fd_ && !recv_armed_ && !queue_.in_flight()) {
    ring_->UpdateFixedFile(kSlot, -1);
    other_syscalls_.Add(2);  // the update and close()
    fd_.reset();
    open_gauge_.Set(0);
    handler_->OnClosed(*this);
  }
  return !fd_;
}

// Stopping: nothing more is read or queued; what was queued is dropped.
void OneToManyServer::Close() {
  open_ = false;
  if (recv_armed_) ring_->PrepCancel(Tag{Op::kRecv, generation_, kSlot, 0}.Pack(), Tag{Op::kCancel}.Pack());
  queue_.Cancel(*ring_, *send_pool_, kSlot, generation_);
  std::vector<uint32_t> dropped;
  queue_.TakeIf(*send_pool_, [](const SendDesc&) { return true; }, &dropped);
  for (uint32_t id : dropped) FreeDesc(id);
  totals_.send_dropped.Add(dropped.size());
  if (!dropped.empty()) {
    handler_->OnError(*this, 0, absl::UnavailableError(absl::StrCat(dropped.size(), " queued messages dropped: stopping")));
  }
}

void OneToManyServer::OnExit() { buffers_->Unregister(); }

WorkerStats OneToManyServer::Snapshot() const {
  WorkerStats s;
  s.totals = totals_.Snapshot();
  s.enobufs = enobufs_.Get();
  s.recv_rearms = recv_rearms_.Get();
  s.recv_errors = recv_errors_.Get();
  s.oversize_messages = oversize_.Get();
  s.partials_dropped = partials_dropped_.Get();
  s.associations_active = open_gauge_.Get();  // the socket
  s.retained_buffers = retained_gauge_.Get();
  s.send_buffers_in_use = send_in_use_.Get();
  s.other_syscalls = other_syscalls_.Get();
  loop_->Stats().AddTo(&s);
  s.chains_in_flight = chains_gauge_.Get();
  return s;
}

// --- Receive ---------------------------------------------------------------

void OneToManyServer::ArmRecv() {
  recv_armed_ = true;
  recv_cancel_sent_ = false;
  ring_->PrepRecvMultishot(kSlot, &recv_template_, buffers_->group(), Tag{Op::kRecv, generation_, kSlot, 0}.Pack());
}

void OneToManyServer::OnRecv(const Completion& c) {
  if (!c.more()) recv_armed_ = false;
  if (c.has_buffer()) {
    buffers_->Take(c.buffer_id());
    if (c.res > 0 && open_) {
      OnRecvData(c.buffer_id(), c.res);
    } else {
      buffers_->Recycle(c.buffer_id());
    }
    return;
  }
  switch (-c.res) {
    case ENOBUFS:  // the buffer ring was empty; the data waits in the socket
      enobufs_.Add(1);
      return;
    case 0:
    case EAGAIN:
    case EINTR:
    case ECANCELED:
      return;  // re-armed in BeforeWait
    default:
      recv_errors_.Add(1);
      handler_->OnError(*this, 0, absl::ErrnoToStatus(-c.res, "multishot recvmsg (one-to-many socket)"));
      return;
  }
}

void OneToManyServer::OnRecvData(uint16_t bid, int res) {
  absl::StatusOr<RecvParts> parts = ParseRecvmsgOut(buffers_->Buffer(bid), res, recv_template_);
  if (!parts.ok()) {
    buffers_->Recycle(bid);
    recv_errors_.Add(1);
    handler_->OnError(*this, 0, parts.status());
    return;
  }
  const bool notification = parts->msg_flags & MSG_NOTIFICATION;
  const bool eor = parts->msg_flags & MSG_EOR;
  const sctp_assoc_t who = parts->has_rcvinfo ? parts->rcvinfo.rcv_assoc_id : 0;
  if (parts->payload.empty() && !notification) {
    buffers_->Recycle(bid);
    return;
  }
  if (!notification && std::find(discarding_.begin(), discarding_.end(), who) != discarding_.end()) {
    // The rest of a message over max_message_size: dropped, never delivered.
    buffers_->Recycle(bid);
    if (eor) Erase(discarding_, who);
    return;
  }
  if (notification && eor && (!partial_.in_progress() || !partial_.notification())) {
    // A whole notification, even between a data message's pieces
    // (PARTIAL_DELIVERY_EVENT comes exactly then): delivered now.
    DeliverNotification(parts->payload);
    buffers_->Recycle(bid);
    return;
  }
  if (!partial_.in_progress() && eor) {
    if (parts->payload.size() > options_.max_message_size) {
      buffers_->Recycle(bid);
      OversizeAbort(who, parts->payload.size(), true);
      return;
    }
    Deliver(*parts, bid, parts->payload, nullptr);  // in place
    return;
  }
  OnPiece(*parts, eor, who);
  buffers_->Recycle(bid);
}

void OneToManyServer::OnPiece(const RecvParts& parts, bool eor, sctp_assoc_t who) {
  switch (partial_.Add(parts, eor, static_cast<uint32_t>(who))) {
    case Reassembler::Result::kPartial:
      totals_.copied_bytes.Add(parts.payload.size());
      return;
    case Reassembler::Result::kOversize:
      OversizeAbort(who, partial_.length() + parts.payload.size(), eor);
      return;
    case Reassembler::Result::kInterleaved:
      // With fragment interleave level 0 (the default) a partial delivery is
      // never interleaved on the socket: drop the dead piece, start over.
      recv_errors_.Add(1);
      partials_dropped_.Add(1);
      handler_->OnError(*this, who, absl::DataLossError("interleaved partial delivery: incomplete message dropped"));
      OnPiece(parts, eor, who);
      return;
    case Reassembler::Result::kWhole:
      break;
  }
  totals_.copied_bytes.Add(parts.payload.size());
  totals_.reassemblies.Add(1);
  Reassembler::Whole whole = partial_.Take();
  const absl::Span<const char> bytes(whole.data.get(), whole.length);
  if (whole.notification) {
    DeliverNotification(bytes);
  } else {
    Deliver(whole.first, -1, bytes, &whole.data);
  }
  partial_.Recycle(std::move(whole));
}

// Only that association goes; the socket serves the others on. Its
// message's remaining pieces are dropped as they come.
void OneToManyServer::OversizeAbort(sctp_assoc_t who, size_t size, bool eor) {
  oversize_.Add(1);
  handler_->OnError(*this, who,
                    absl::OutOfRangeError(absl::StrCat("association ", who, ": message of ", size,
                                                       "+ bytes over max_message_size ", options_.max_message_size,
                                                       ": association aborted")));
  partial_.Reset();
  if (!eor) AddOnce(discarding_, who);
  Abort(who);
}

void OneToManyServer::Deliver(const RecvParts& parts, int32_t bid, absl::Span<const char> payload,
                              std::unique_ptr<char[]>* reassembly) {
  MessageView m = ViewOf(parts, bid, payload, reassembly != nullptr);
  totals_.messages_in.Add(1);
  totals_.bytes_in.Add(payload.size());
  retention_->Begin(&m, reassembly);
  handler_->OnMessage(*this, m);
  if (retention_->End()) buffers_->Recycle(static_cast<uint16_t>(bid));
  retained_gauge_.Set(retention_->retained());
}

void OneToManyServer::DeliverNotification(absl::Span<const char> bytes) {
  totals_.notifications.Add(1);
  absl::StatusOr<AssociationEvent> ev = DecodeNotification(bytes);
  if (!ev.ok()) {
    handler_->OnError(*this, 0, ev.status());
    return;
  }
  // A partial delivery that can no longer complete: drop what was gathered.
  if (partial_.in_progress() && !partial_.notification() && partial_.key() == static_cast<uint32_t>(ev->assoc_id) &&
      (ev->type == EventType::kPartialDelivery || ev->EndsAssociation())) {
    partial_.Reset();
    partials_dropped_.Add(1);
  }
  if (ev->EndsAssociation()) Erase(discarding_, ev->assoc_id);
  handler_->OnEvent(*this, *ev);
}

void OneToManyServer::Release(RetainedMessage m) {
  retention_->Release(std::move(m));
  retained_gauge_.Set(retention_->retained());
}

// --- Send ------------------------------------------------------------------

SendBuffer OneToManyServer::AcquireSendBuffer(size_t size) {
  if (size > options_.max_message_size) return SendBuffer();
  SendBuffer b = send_pool_->Acquire(size);
  send_in_use_.Set(send_pool_->buffers_in_use());
  return b;
}

void OneToManyServer::ReleaseSendBuffer(SendBuffer buffer) {
  memory_->Release(std::move(buffer));
  send_in_use_.Set(send_pool_->buffers_in_use());
}

SendResult OneToManyServer::Admit(sctp_assoc_t to, size_t size) {
  if (!open_) return SendResult::kClosing;
  if (size > options_.max_message_size) return SendResult::kTooBig;
  if (queue_.queued() >= options_.send_queue_limit) {
    Refused(to);
    return SendResult::kQueueFull;
  }
  return SendResult::kOk;
}

void OneToManyServer::Refused(sctp_assoc_t to) { AddOnce(refused_, to); }

SendResult OneToManyServer::Send(sctp_assoc_t to, uint16_t stream, uint32_t ppid, SendBuffer&& buffer,
                                 uint16_t flags, uint32_t ttl_ms) {
  if (!buffer.valid()) return SendResult::kNoBuffers;
  const SendResult admitted = Admit(to, buffer.size());
  if (IsBackpressure(admitted)) return admitted;
  if (admitted != SendResult::kOk) {
    ReleaseSendBuffer(std::move(buffer));
    return admitted;
  }
  const uint32_t desc = memory_->Attach(buffer);
  if (desc == kNoDesc) {
    Refused(to);
    return SendResult::kNoBuffers;
  }
  return Enqueue(desc, to, stream, ppid, flags, ttl_ms);
}

SendResult OneToManyServer::SendCopy(sctp_assoc_t to, uint16_t stream, uint32_t ppid, absl::Span<const char> payload,
                                     uint16_t flags, uint32_t ttl_ms) {
  if (const SendResult r = Admit(to, payload.size()); r != SendResult::kOk) return r;
  if (payload.size() > send_pool_->max_message_size()) return SendResult::kTooBig;
  const uint32_t desc = memory_->Copy(payload);
  if (desc == kNoDesc) {
    Refused(to);
    return SendResult::kNoBuffers;
  }
  totals_.send_copied_bytes.Add(payload.size());
  totals_.send_copies.Add(1);
  return Enqueue(desc, to, stream, ppid, flags, ttl_ms);
}

SendResult OneToManyServer::SendRetained(sctp_assoc_t to, uint16_t stream, uint32_t ppid, RetainedMessage&& message,
                                         absl::Span<const char> part, uint16_t flags, uint32_t ttl_ms) {
  if (part.empty()) part = message.payload;
  const SendResult admitted = Admit(to, part.size());
  if (IsBackpressure(admitted)) return admitted;
  if (admitted != SendResult::kOk) {
    Release(std::move(message));
    return admitted;
  }
  const uint32_t desc = memory_->AttachRetained(message, part);
  if (desc == kNoDesc) {
    Refused(to);
    return SendResult::kNoBuffers;
  }
  return Enqueue(desc, to, stream, ppid, flags, ttl_ms);
}

SendResult OneToManyServer::Enqueue(uint32_t desc, sctp_assoc_t to, uint16_t stream, uint32_t ppid, uint16_t flags,
                                    uint32_t ttl_ms) {
  memory_->Prepare(desc, stream, ppid, flags, ttl_ms, to, /*sctp=*/true);
  send_pool_->desc(desc).slot = kSlot;
  queue_.Push(*send_pool_, desc);
  totals_.send_queue_depth.Set(queue_.queued());
  send_in_use_.Set(send_pool_->buffers_in_use());
  dirty_ = true;
  return SendResult::kOk;
}

void OneToManyServer::SubmitChain() {
  // One-to-many sockets never bundle: their associations are the sporadic
  // ones, behind peers of every kind; and SCTP refuses SENDMSG_ZC.
  queue_.Submit(*ring_, *send_pool_, {.slot = kSlot, .generation = generation_, .max = options_.send_batch});
  totals_.send_queue_depth.Set(queue_.queued());
}

void OneToManyServer::OnSendComplete(uint32_t desc, const Completion& c) {
  SendDesc& d = send_pool_->desc(desc);
  d.result = c.res;
  d.result_in = true;
  if (queue_.StepDone()) FinishChain();
}

void OneToManyServer::FinishChain() {
  const SendQueue::Settled settled = queue_.Settle(
      *send_pool_,
      [&](uint32_t id) {
        totals_.messages_out.Add(1);
        totals_.bytes_out.Add(send_pool_->desc(id).length);
        FreeDesc(id);
      },
      [&](uint32_t id, int res) {
        // One association's failure (EPIPE: it shut down), not the socket's.
        const sctp_assoc_t to = send_pool_->desc(id).to;
        totals_.send_errors.Add(1);
        const std::string what = absl::StrCat("sendmsg to association ", to);
        handler_->OnError(*this, to,
                          res < 0 ? absl::ErrnoToStatus(-res, what) : absl::DataLossError(absl::StrCat(what, ": short")));
        FreeDesc(id);
      });
  totals_.send_eagain.Add(settled.eagain);
  totals_.send_queue_depth.Set(queue_.queued());
  if (queue_.queued() > 0) dirty_ = true;
  MaybeWritable();
}

// Senders refused for room hear once the queue is down to half.
void OneToManyServer::MaybeWritable() {
  if (refused_.empty() || queue_.queued() > options_.send_queue_limit / 2) return;
  std::vector<sctp_assoc_t> refused;
  refused.swap(refused_);
  for (sctp_assoc_t id : refused) handler_->OnWritable(*this, id);
}

void OneToManyServer::FreeDesc(uint32_t desc) {
  memory_->Free(desc);
  retained_gauge_.Set(retention_->retained());
  send_in_use_.Set(send_pool_->buffers_in_use());
}

// --- The move's question ------------------------------------------------------

absl::StatusOr<OneToManyServer::Detached> OneToManyServer::Detach(
    sctp_assoc_t id, absl::FunctionRef<absl::StatusOr<Fd>(int, sctp_assoc_t)> peel) {
  // Everything the kernel has read for it so far is delivered first; with
  // DEFER_TASKRUN nothing more is read until this thread enters the kernel.
  loop_->ProcessPostedCompletions();
  if (partial_.in_progress() && partial_.key() == static_cast<uint32_t>(id)) {
    return absl::FailedPreconditionError(absl::StrCat("association ", id, ": half a message here; not yet"));
  }
  for (uint32_t desc : queue_.chain()) {
    if (send_pool_->desc(desc).to != id) continue;
    // Congested (waiting for POLLOUT) it could wait for long: take the chain
    // back (its unsent messages requeue in order) and try again right after.
    queue_.Cancel(*ring_, *send_pool_, kSlot, generation_);
    loop_->RequestTick();
    return absl::FailedPreconditionError(absl::StrCat("association ", id, ": a send in the kernel; cancelled, not yet"));
  }
  absl::StatusOr<Fd> fd = peel(fd_.get(), id);
  other_syscalls_.Add(1);
  if (!fd.ok()) return fd.status();
  // Rings without DEFER_TASKRUN may have read more for it meanwhile.
  loop_->ProcessPostedCompletions();
  Detached out{*std::move(fd), {}};
  std::vector<uint32_t> ids;
  queue_.TakeIf(*send_pool_, [id](const SendDesc& d) { return d.to == id; }, &ids);
  for (uint32_t desc : ids) out.queued.push_back(memory_->TakeCopy(desc));
  totals_.send_copies.Add(ids.size());
  totals_.send_queue_depth.Set(queue_.queued());
  send_in_use_.Set(send_pool_->buffers_in_use());
  retained_gauge_.Set(retention_->retained());
  Erase(discarding_, id);
  MaybeWritable();
  return out;
}

void OneToManyServer::Abort(sctp_assoc_t id) {
  other_syscalls_.Add(1);
  if (int ret = SendSctpFlag(fd_.get(), SCTP_ABORT, id); ret < 0) {
    Logf("control %d: ABORT of association %d: %s", options_.index, id, std::strerror(-ret));
  }
}

}  // namespace sctpdp
