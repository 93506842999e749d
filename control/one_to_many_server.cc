#include "control/one_to_many_server.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "dataplane/log.h"
#include "dataplane/sctp_parse.h"
#include "dataplane/sctp_socket.h"
#include "dataplane/sctp_tuning.h"
#include "dataplane/user_data.h"

namespace sctpdp {
namespace {

LoopOptions LoopOptionsOf(const OneToManyOptions& o) {
  LoopOptions l;
  l.name = "control";
  l.index = o.index;
  l.sq_entries = o.sq_entries;
  l.cq_entries = o.cq_entries;
  l.fixed_files = o.max_sockets;
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
    : options_(options),
      reassembly_(options.max_reassembly_bytes, options.max_message_size),
      handler_(handler),
      first_(std::move(socket)) {}

absl::StatusOr<std::unique_ptr<OneToManyServer>> OneToManyServer::Create(Fd socket, const OneToManyOptions& options,
                                                                         OneToManyHandler* handler) {
  if (handler == nullptr) return absl::InvalidArgumentError("one-to-many server: no handler");
  if (options.buffer_count == 0 || (options.buffer_count & (options.buffer_count - 1)) != 0 ||
      options.retain_budget >= options.buffer_count / 2 || options.send_batch == 0 || options.send_queue_limit == 0 ||
      options.send_queue_bytes == 0) {
    return absl::InvalidArgumentError("one-to-many server: bad buffer, retain or send options");
  }
  if (options.max_sockets == 0 || options.max_sockets >= kNoSocket) {
    return absl::InvalidArgumentError("one-to-many server: max_sockets must be 1..65534");
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
  ring_ = &loop.ring();
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
  sockets_.resize(options_.max_sockets);
  generations_.assign(options_.max_sockets, 0);
  if (first_) {
    absl::StatusOr<SocketId> id = Install(std::move(first_));
    if (!id.ok()) return id.status();
  }
  Logf("control %d: ring %s, %u x %u B receive buffers, one-to-many sockets (up to %u)", options_.index,
       ring_->SetupFlagsString(), options_.buffer_count, options_.buffer_size, options_.max_sockets);
  handler_->OnStart(*this);
  return absl::OkStatus();
}

void OneToManyServer::OnCompletion(const Completion& c) {
  const Tag tag = Tag::Unpack(c.user_data);
  Socket* s = Find(tag.slot, tag.generation);
  if (s == nullptr || (tag.op != Op::kRecv && tag.op != Op::kSend)) {
    // Cannot happen while sockets are released only when idle; never leak a buffer.
    Logf("control %d: stale completion op %d socket %d res %d", options_.index, int(tag.op), tag.slot, c.res);
    if (c.has_buffer()) {
      buffers_->Take(c.buffer_id());
      buffers_->Recycle(c.buffer_id());
    }
    return;
  }
  if (tag.op == Op::kRecv) {
    OnRecv(*s, c);
  } else {
    OnSendComplete(*s, tag.aux, c);
  }
}

unsigned OneToManyServer::BeforeWait() {
  unsigned chains = 0, prompt = 0;
  for (size_t i = 0; i < served_.size();) {
    Socket& s = *sockets_[served_[i]];
    if (!s.open && MaybeRelease(s)) continue;  // served_[i] is another socket now
    ++i;
    if (s.open && s.dirty && !s.queue.in_flight() && s.queue.queued() > 0) prompt += SubmitChain(s);
    s.dirty = false;
    if (s.open && !s.recv_armed && buffers_->available() > 0) {
      recv_rearms_.Add(1);
      ArmRecv(s);
    }
    chains += s.queue.in_flight();
  }
  buffers_->Publish();
  chains_gauge_.Set(chains);
  return prompt;
}

bool OneToManyServer::StopStep(bool late) {
  stopping_ = true;
  for (size_t i = 0; i < served_.size();) {
    Socket& s = *sockets_[served_[i]];
    // Drained both ways: its sends out, and what peers sent that the kernel
    // holds read (not dropped with the socket); past the deadline, at once.
    if (s.open && (late || (s.queue.queued() == 0 && !s.queue.in_flight() && ReceivedAll(s.fd.get())))) {
      Close(s, "stopping");
    }
    if (!s.open && MaybeRelease(s)) continue;
    ++i;
  }
  if (served_.empty() && !closed_reported_) {
    closed_reported_ = true;
    handler_->OnClosed(*this);
  }
  return served_.empty();
}

bool OneToManyServer::ReceivedAll(int fd) {
  other_syscalls_.Add(1);
  return ReceiveQueueEmpty(fd);
}

void OneToManyServer::OnExit() { buffers_->Unregister(); }

WorkerStats OneToManyServer::Snapshot() const {
  WorkerStats s;
  s.totals = totals_.Snapshot();
  s.enobufs = enobufs_.Get();
  s.recv_rearms = recv_rearms_.Get();
  s.recv_errors = recv_errors_.Get();
  s.oversize_messages = oversize_.Get();
  s.reassembly_refused = reassembly_refused_.Get();
  s.reassembly_bytes = reassembly_.used.load(std::memory_order_relaxed);
  s.partials_dropped = partials_dropped_.Get();
  s.associations_active = open_gauge_.Get();  // the sockets
  s.retained_buffers = retained_gauge_.Get();
  s.retain_refused = retain_refused_.Get();
  s.send_buffers_in_use = send_in_use_.Get();
  s.other_syscalls = other_syscalls_.Get();
  loop_->Stats().AddTo(&s);
  s.chains_in_flight = chains_gauge_.Get();
  return s;
}

// --- Sockets -----------------------------------------------------------------

absl::StatusOr<SocketId> OneToManyServer::AddSocket(Fd socket) {
  if (!socket) return absl::InvalidArgumentError("one-to-many server: invalid socket");
  if (stopping_) return absl::FailedPreconditionError("one-to-many server: stopping");
  return Install(std::move(socket));
}

absl::StatusOr<SocketId> OneToManyServer::Install(Fd fd) {
  SocketId id = kNoSocket;
  for (size_t i = 0; i < sockets_.size(); ++i) {
    if (!sockets_[i]) {
      id = static_cast<SocketId>(i);
      break;
    }
  }
  if (id == kNoSocket) {
    return absl::ResourceExhaustedError(absl::StrCat("one-to-many server: all ", options_.max_sockets,
                                                     " sockets in use (OneToManyOptions::max_sockets)"));
  }
  other_syscalls_.Add(2);  // the fixed-file update, and the default PR-SCTP policy
  if (int ret = ring_->UpdateFixedFile(id, fd.get()); ret < 0) {
    return absl::ErrnoToStatus(-ret, "io_uring_register_files_update");
  }
  auto s = std::make_unique<Socket>();
  s->fd = std::move(fd);
  s->id = id;
  s->generation = ++generations_[id];
  s->default_pr = DefaultPrFlags(s->fd.get(), SCTP_FUTURE_ASSOC);  // the endpoint's: what its associations start with
  s->partial = Reassembler(options_.max_message_size, 2 * options_.buffer_size, &reassembly_);
  sockets_[id] = std::move(s);
  served_.push_back(id);
  open_gauge_.Set(open_gauge_.Get() + 1);
  ArmRecv(*sockets_[id]);
  return id;
}

OneToManyServer::Socket* OneToManyServer::Find(SocketId id, uint16_t generation) {
  if (id >= sockets_.size() || !sockets_[id] || sockets_[id]->generation != generation) return nullptr;
  return sockets_[id].get();
}

OneToManyServer::Socket* OneToManyServer::SocketFor(sctp_assoc_t id) {
  auto it = assoc_socket_.find(id);
  if (it == assoc_socket_.end() || !sockets_[it->second]) return nullptr;
  return sockets_[it->second].get();
}

const OneToManyServer::Socket* OneToManyServer::SocketFor(sctp_assoc_t id) const {
  auto it = assoc_socket_.find(id);
  if (it == assoc_socket_.end() || !sockets_[it->second]) return nullptr;
  return sockets_[it->second].get();
}

void OneToManyServer::ForEachAssociation(absl::FunctionRef<void(sctp_assoc_t, int)> fn) const {
  for (const auto& [id, socket] : assoc_socket_) {
    if (sockets_[socket]) fn(id, sockets_[socket]->fd.get());
  }
}

int OneToManyServer::SocketFd(SocketId socket) const {
  return socket < sockets_.size() && sockets_[socket] ? sockets_[socket]->fd.get() : -1;
}

int OneToManyServer::FdOf(sctp_assoc_t id) const {
  const Socket* s = SocketFor(id);
  return s != nullptr ? s->fd.get() : -1;
}

SocketId OneToManyServer::SocketOf(sctp_assoc_t id) const {
  const Socket* s = SocketFor(id);
  return s != nullptr ? s->id : kNoSocket;
}

void OneToManyServer::RemoveSocket(SocketId socket) {
  if (socket >= sockets_.size() || !sockets_[socket] || !sockets_[socket]->open) return;
  Close(*sockets_[socket], "socket closed");
}

// Nothing more is read or queued on `s`; what was queued is dropped.
void OneToManyServer::Close(Socket& s, const char* why) {
  s.open = false;
  if (s.recv_armed && !s.recv_cancel_sent) {
    s.recv_cancel_sent = true;
    ring_->PrepCancel(Tag{Op::kRecv, s.generation, s.id, 0}.Pack(), Tag{Op::kCancel}.Pack());
  }
  s.queue.Cancel(*ring_, *send_pool_, s.id, s.generation);
  std::vector<uint32_t> dropped;
  s.queue.TakeIf(*send_pool_, [](const SendDesc&) { return true; }, &dropped);
  for (uint32_t id : dropped) FreeDesc(id);
  totals_.send_dropped.Add(dropped.size());
  if (!dropped.empty()) {
    handler_->OnError(*this, 0,
                      absl::UnavailableError(absl::StrCat(dropped.size(), " queued messages dropped: ", why)));
  }
}

// A closed socket whose receive and sends have ended goes: its descriptor
// is closed (the kernel ends its associations) and its id is free.
bool OneToManyServer::MaybeRelease(Socket& s) {
  if (s.open || s.recv_armed || s.queue.in_flight()) return false;
  const SocketId id = s.id;
  ring_->UpdateFixedFile(id, -1);
  other_syscalls_.Add(2);  // the update and close()
  for (auto it = assoc_socket_.begin(); it != assoc_socket_.end();) {
    it = it->second == id ? assoc_socket_.erase(it) : std::next(it);
  }
  served_.erase(std::find(served_.begin(), served_.end(), id));
  sockets_[id].reset();
  open_gauge_.Set(open_gauge_.Get() - 1);
  return true;
}

// --- Receive ---------------------------------------------------------------

void OneToManyServer::ArmRecv(Socket& s) {
  s.recv_armed = true;
  s.recv_cancel_sent = false;
  ring_->PrepRecvMultishot(s.id, &recv_template_, buffers_->group(), Tag{Op::kRecv, s.generation, s.id, 0}.Pack());
}

void OneToManyServer::OnRecv(Socket& s, const Completion& c) {
  if (!c.more()) s.recv_armed = false;
  if (c.has_buffer()) {
    buffers_->Take(c.buffer_id());
    if (c.res > 0 && s.open) {
      OnRecvData(s, c.buffer_id(), c.res);
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

void OneToManyServer::OnRecvData(Socket& s, uint16_t bid, int res) {
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
  if (!notification && std::find(s.discarding.begin(), s.discarding.end(), who) != s.discarding.end()) {
    // The rest of a message over max_message_size: dropped, never delivered.
    buffers_->Recycle(bid);
    if (eor) Erase(s.discarding, who);
    return;
  }
  if (notification && eor && (!s.partial.in_progress() || !s.partial.notification())) {
    // A whole notification, even between a data message's pieces
    // (PARTIAL_DELIVERY_EVENT comes exactly then): delivered now.
    DeliverNotification(s, parts->payload);
    buffers_->Recycle(bid);
    return;
  }
  if (!s.partial.in_progress() && eor) {
    if (parts->payload.size() > options_.max_message_size) {
      buffers_->Recycle(bid);
      OversizeAbort(s, who, parts->payload.size(), true);
      return;
    }
    Deliver(*parts, bid, parts->payload, nullptr);  // in place
    return;
  }
  OnPiece(s, *parts, eor, who);
  buffers_->Recycle(bid);
}

void OneToManyServer::OnPiece(Socket& s, const RecvParts& parts, bool eor, sctp_assoc_t who) {
  switch (s.partial.Add(parts, eor, static_cast<uint32_t>(who))) {
    case Reassembler::Result::kPartial:
      totals_.copied_bytes.Add(parts.payload.size());
      return;
    case Reassembler::Result::kOversize:
      OversizeAbort(s, who, s.partial.length() + parts.payload.size(), eor);
      return;
    case Reassembler::Result::kOverBudget:
      reassembly_refused_.Add(1);
      return AbortPartial(s, who, eor, OverBudget(who, reassembly_));
    case Reassembler::Result::kInterleaved:
      // With fragment interleave level 0 (the default) a partial delivery is
      // never interleaved on the socket: drop the dead piece, start over.
      recv_errors_.Add(1);
      partials_dropped_.Add(1);
      handler_->OnError(*this, who, absl::DataLossError("interleaved partial delivery: incomplete message dropped"));
      OnPiece(s, parts, eor, who);
      return;
    case Reassembler::Result::kWhole:
      break;
  }
  totals_.copied_bytes.Add(parts.payload.size());
  totals_.reassemblies.Add(1);
  Reassembler::Whole whole = s.partial.Take();
  const absl::Span<const char> bytes(whole.data.get(), whole.length);
  if (whole.notification) {
    DeliverNotification(s, bytes);
  } else {
    Deliver(whole.first, -1, bytes, &whole.data);
  }
  s.partial.Recycle(std::move(whole));
}

// Only that association goes; the socket serves the others on. Its
// message's remaining pieces are dropped as they come.
void OneToManyServer::OversizeAbort(Socket& s, sctp_assoc_t who, size_t size, bool eor) {
  oversize_.Add(1);
  AbortPartial(s, who, eor,
               absl::OutOfRangeError(absl::StrCat("association ", who, ": message of ", size,
                                                  "+ bytes over max_message_size ", options_.max_message_size,
                                                  ": association aborted")));
}

void OneToManyServer::AbortPartial(Socket& s, sctp_assoc_t who, bool eor, const absl::Status& why) {
  handler_->OnError(*this, who, why);
  s.partial.Reset();
  if (!eor) AddOnce(s.discarding, who);
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
  retain_refused_.Set(retention_->refused());  // Retain works only inside the handler
}

void OneToManyServer::DeliverNotification(Socket& s, absl::Span<const char> bytes) {
  totals_.notifications.Add(1);
  absl::StatusOr<AssociationEvent> ev = DecodeNotification(bytes);
  if (!ev.ok()) {
    handler_->OnError(*this, 0, ev.status());
    return;
  }
  // A partial delivery that can no longer complete: drop what was gathered.
  if (s.partial.in_progress() && !s.partial.notification() && s.partial.key() == static_cast<uint32_t>(ev->assoc_id) &&
      (ev->type == EventType::kPartialDelivery || ev->EndsAssociation())) {
    s.partial.Reset();
    partials_dropped_.Add(1);
  }
  // Sends find an association's socket by what its COMM_UP came on.
  if (ev->type == EventType::kAssocChange && ev->state == SCTP_COMM_UP) assoc_socket_[ev->assoc_id] = s.id;
  const SocketId id = s.id;
  const uint16_t generation = s.generation;
  handler_->OnEvent(*this, id, *ev);
  if (ev->EndsAssociation()) {
    auto it = assoc_socket_.find(ev->assoc_id);
    if (it != assoc_socket_.end() && it->second == id) assoc_socket_.erase(it);
    if (Socket* still = Find(id, generation)) {
      Erase(still->discarding, ev->assoc_id);
      Erase(still->ending, ev->assoc_id);
    }
  }
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

SendResult OneToManyServer::Admit(Socket* s, sctp_assoc_t to, size_t size) {
  if (s == nullptr) return SendResult::kNoAssociation;
  if (!s->open || std::find(s->ending.begin(), s->ending.end(), to) != s->ending.end()) {
    return SendResult::kClosing;
  }
  if (size > options_.max_message_size) return SendResult::kTooBig;
  if (s->queue.AtLimit(options_.send_queue_limit, options_.send_queue_bytes, size)) {
    AddOnce(s->refused, to);
    totals_.send_queue_full.Add(1);
    return SendResult::kQueueFull;
  }
  return SendResult::kOk;
}

void OneToManyServer::NoteQueueDepth(const Socket& s) {
  totals_.send_queue_depth.Set(s.queue.queued());
  totals_.send_queue_bytes.Set(s.queue.held_bytes());
}

SendResult OneToManyServer::Send(sctp_assoc_t to, uint16_t stream, uint32_t ppid, SendBuffer&& buffer,
                                 uint16_t flags, uint32_t ttl_ms) {
  if (!buffer.valid()) return SendResult::kNoBuffers;
  Socket* s = SocketFor(to);
  const SendResult admitted = Admit(s, to, buffer.size());
  if (IsBackpressure(admitted)) return admitted;
  if (admitted != SendResult::kOk) {
    ReleaseSendBuffer(std::move(buffer));
    return admitted;
  }
  const uint32_t desc = memory_->Attach(buffer);
  if (desc == kNoDesc) return NoBuffers(*s, to);
  return Enqueue(*s, desc, to, stream, ppid, flags, ttl_ms);
}

SendResult OneToManyServer::SendCopy(sctp_assoc_t to, uint16_t stream, uint32_t ppid, absl::Span<const char> payload,
                                     uint16_t flags, uint32_t ttl_ms) {
  Socket* s = SocketFor(to);
  if (const SendResult r = Admit(s, to, payload.size()); r != SendResult::kOk) return r;
  if (payload.size() > send_pool_->max_message_size()) return SendResult::kTooBig;
  const uint32_t desc = memory_->Copy(payload);
  if (desc == kNoDesc) return NoBuffers(*s, to);
  totals_.send_copied_bytes.Add(payload.size());
  totals_.send_copies.Add(1);
  return Enqueue(*s, desc, to, stream, ppid, flags, ttl_ms);
}

SendResult OneToManyServer::SendRetained(sctp_assoc_t to, uint16_t stream, uint32_t ppid, RetainedMessage&& message,
                                         absl::Span<const char> part, uint16_t flags, uint32_t ttl_ms) {
  if (part.empty()) part = message.payload;
  Socket* s = SocketFor(to);
  const SendResult admitted = Admit(s, to, part.size());
  if (IsBackpressure(admitted)) return admitted;
  if (admitted != SendResult::kOk) {
    Release(std::move(message));
    return admitted;
  }
  const uint32_t desc = memory_->AttachRetained(message, part);
  if (desc == kNoDesc) return NoBuffers(*s, to);
  return Enqueue(*s, desc, to, stream, ppid, flags, ttl_ms);
}

SendResult OneToManyServer::Shutdown(sctp_assoc_t id) {
  Socket* s = SocketFor(id);
  if (const SendResult r = Admit(s, id, 0); r != SendResult::kOk) return r;
  // A message of no bytes whose SCTP_SNDINFO says SCTP_EOF, in the queue
  // behind everything already there for the association: the kernel sends
  // SHUTDOWN once all of it is out and acknowledged.
  const uint32_t desc = memory_->Copy({});
  if (desc == kNoDesc) return NoBuffers(*s, id);
  AddOnce(s->ending, id);
  return Enqueue(*s, desc, id, 0, 0, SCTP_EOF, 0);
}

SendResult OneToManyServer::Enqueue(Socket& s, uint32_t desc, sctp_assoc_t to, uint16_t stream, uint32_t ppid,
                                    uint16_t flags, uint32_t ttl_ms) {
  memory_->Prepare(desc, stream, ppid, WithDefaultPr(flags, ttl_ms, s.default_pr), ttl_ms, to, /*sctp=*/true);
  send_pool_->desc(desc).slot = s.id;
  s.queue.Push(*send_pool_, desc);
  NoteQueueDepth(s);
  send_in_use_.Set(send_pool_->buffers_in_use());
  s.dirty = true;
  return SendResult::kOk;
}

// Returns the completions due at once (SendQueue::Submit).
unsigned OneToManyServer::SubmitChain(Socket& s) {
  // One-to-many sockets never bundle: their associations are the sporadic
  // ones, behind peers of every kind; and SCTP refuses SENDMSG_ZC.
  const unsigned prompt =
      s.queue.Submit(*ring_, *send_pool_, {.slot = s.id, .generation = s.generation, .max = options_.send_batch});
  NoteQueueDepth(s);
  return prompt;
}

void OneToManyServer::OnSendComplete(Socket& s, uint32_t desc, const Completion& c) {
  SendDesc& d = send_pool_->desc(desc);
  d.result = c.res;
  d.result_in = true;
  if (s.queue.StepDone()) FinishChain(s);
}

void OneToManyServer::FinishChain(Socket& s) {
  const SendQueue::Settled settled = s.queue.Settle(
      *send_pool_,
      [&](uint32_t id) {
        const SendDesc& d = send_pool_->desc(id);
        if (!(d.sctp_flags & SCTP_EOF)) {  // the end of the association, not a message
          totals_.messages_out.Add(1);
          totals_.bytes_out.Add(d.length);
        }
        FreeDesc(id);
      },
      [&](uint32_t id, int res) {
        // One association's failure (EPIPE: it shut down), not the socket's.
        const SendDesc& d = send_pool_->desc(id);
        const sctp_assoc_t to = d.to;
        totals_.send_errors.Add(1);
        const std::string what = absl::StrCat(d.sctp_flags & SCTP_EOF ? "SHUTDOWN (SCTP_EOF) of" : "sendmsg to",
                                              " association ", to);
        handler_->OnError(
            *this, to, res < 0 ? absl::ErrnoToStatus(-res, what) : absl::DataLossError(absl::StrCat(what, ": short")));
        FreeDesc(id);
      });
  totals_.send_eagain.Add(settled.eagain);
  NoteQueueDepth(s);
  if (!s.open) {
    // Closed meanwhile: what came back to the queue goes too.
    std::vector<uint32_t> dropped;
    s.queue.TakeIf(*send_pool_, [](const SendDesc&) { return true; }, &dropped);
    for (uint32_t id : dropped) FreeDesc(id);
    totals_.send_dropped.Add(dropped.size());
    if (!dropped.empty()) {
      handler_->OnError(*this, 0, absl::UnavailableError(absl::StrCat(dropped.size(),
                                                                      " queued messages dropped: socket closed")));
    }
    return;
  }
  if (!s.aborting.empty()) {
    std::vector<sctp_assoc_t> aborting;
    aborting.swap(s.aborting);
    for (sctp_assoc_t id : aborting) DropQueued(s, id, "association aborted");
  }
  if (s.queue.queued() > 0) s.dirty = true;
  MaybeWritable(s);
  WakeBufferWaiters();
}

SendResult OneToManyServer::NoBuffers(Socket& s, sctp_assoc_t to) {
  AddOnce(s.refused, to);
  const std::pair<SocketId, uint16_t> me{s.id, s.generation};
  if (std::find(buffer_waiters_.begin(), buffer_waiters_.end(), me) == buffer_waiters_.end()) {
    buffer_waiters_.push_back(me);
  }
  return SendResult::kNoBuffers;
}

// After completions freed send memory: the sockets refused for it hear
// (each sender retries; one refused again waits again).
void OneToManyServer::WakeBufferWaiters() {
  if (buffer_waiters_.empty() || !send_pool_->has_free_desc() ||
      send_pool_->buffers_in_use() >= send_pool_->buffer_count()) {
    return;
  }
  std::vector<std::pair<SocketId, uint16_t>> waiters;
  waiters.swap(buffer_waiters_);
  for (const auto& [id, generation] : waiters) {
    if (Socket* s = Find(id, generation)) MaybeWritable(*s);
  }
}

// Senders refused for room hear once the queue is down to half.
void OneToManyServer::MaybeWritable(Socket& s) {
  if (s.refused.empty() || !s.queue.HalfEmpty(options_.send_queue_limit, options_.send_queue_bytes)) return;
  std::vector<sctp_assoc_t> refused;
  refused.swap(s.refused);
  for (sctp_assoc_t id : refused) handler_->OnWritable(*this, id);
}

void OneToManyServer::FreeDesc(uint32_t desc) {
  memory_->Free(desc);
  retained_gauge_.Set(retention_->retained());
  send_in_use_.Set(send_pool_->buffers_in_use());
}

// The messages queued for `id` (not in flight) are dropped, and said.
void OneToManyServer::DropQueued(Socket& s, sctp_assoc_t id, const char* why) {
  std::vector<uint32_t> ids;
  s.queue.TakeIf(*send_pool_, [id](const SendDesc& d) { return d.to == id; }, &ids);
  size_t messages = 0;
  for (uint32_t desc : ids) {
    messages += !(send_pool_->desc(desc).sctp_flags & SCTP_EOF);
    FreeDesc(desc);
  }
  NoteQueueDepth(s);
  if (messages == 0) return;
  totals_.send_dropped.Add(messages);
  handler_->OnError(*this, id, absl::UnavailableError(absl::StrCat(messages, " queued messages dropped: ", why)));
}

// --- The move's question ------------------------------------------------------

absl::StatusOr<OneToManyServer::Detached> OneToManyServer::Detach(
    sctp_assoc_t id, absl::FunctionRef<absl::StatusOr<Fd>(int, sctp_assoc_t)> peel) {
  // Everything the kernel has read for it so far is delivered first; with
  // DEFER_TASKRUN nothing more is read until this thread enters the kernel.
  loop_->ProcessPostedCompletions();
  Socket* s = SocketFor(id);
  if (s == nullptr || !s->open) return absl::NotFoundError(absl::StrCat("association ", id, ": not on a socket here"));
  if (s->partial.in_progress() && s->partial.key() == static_cast<uint32_t>(id)) {
    return absl::FailedPreconditionError(absl::StrCat("association ", id, ": half a message here; not yet"));
  }
  if (std::find(s->ending.begin(), s->ending.end(), id) != s->ending.end()) {
    // Its SHUTDOWN is queued or its ABORT gone: it ends here (the control
    // plane no longer moves it; this is the safety net).
    return absl::FailedPreconditionError(absl::StrCat("association ", id, ": ending"));
  }
  for (uint32_t desc : s->queue.chain()) {
    if (send_pool_->desc(desc).to != id) continue;
    // Congested (waiting for POLLOUT) it could wait for long: take the chain
    // back (its unsent messages requeue in order) and try again right after.
    s->queue.Cancel(*ring_, *send_pool_, s->id, s->generation);
    loop_->RequestTick();
    return absl::FailedPreconditionError(
        absl::StrCat("association ", id, ": a send in the kernel; cancelled, not yet"));
  }
  const SocketId socket = s->id;
  const uint16_t generation = s->generation;
  absl::StatusOr<Fd> fd = peel(s->fd.get(), id);
  other_syscalls_.Add(1);
  if (!fd.ok()) return fd.status();
  // Rings without DEFER_TASKRUN may have read more for it meanwhile.
  loop_->ProcessPostedCompletions();
  s = Find(socket, generation);
  Detached out{*std::move(fd), {}};
  assoc_socket_.erase(id);
  if (s == nullptr) return out;
  std::vector<uint32_t> ids;
  s->queue.TakeIf(*send_pool_, [id](const SendDesc& d) { return d.to == id; }, &ids);
  for (uint32_t desc : ids) out.queued.push_back(memory_->TakeCopy(desc));
  totals_.move_copies.Add(ids.size());
  NoteQueueDepth(*s);
  send_in_use_.Set(send_pool_->buffers_in_use());
  retained_gauge_.Set(retention_->retained());
  Erase(s->discarding, id);
  Erase(s->ending, id);
  MaybeWritable(*s);
  return out;
}

void OneToManyServer::Abort(sctp_assoc_t id) {
  Socket* s = SocketFor(id);
  if (s == nullptr) return;
  AddOnce(s->ending, id);
  DropQueued(*s, id, "association aborted");
  for (uint32_t desc : s->queue.chain()) {
    if (send_pool_->desc(desc).to != id) continue;
    // Sends for it the kernel has not taken (waiting for room) come back to
    // the queue and are dropped there (FinishChain); the others' go again.
    s->queue.Cancel(*ring_, *send_pool_, s->id, s->generation);
    AddOnce(s->aborting, id);
    break;
  }
  other_syscalls_.Add(1);
  if (int ret = SendSctpFlag(s->fd.get(), SCTP_ABORT, id); ret < 0) {
    Logf("control %d: ABORT of association %d: %s", options_.index, id, std::strerror(-ret));
  }
}

}  // namespace sctpdp
