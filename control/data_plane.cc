// DataPlane: the control thread (a Worker serving the one-to-many socket),
// the policy loop, peeloff and handoff, and the send routing.
//
// How a move keeps every message exactly once and in order (receive side):
//  1. The control thread is a Worker whose ring has DEFER_TASKRUN: its
//     multishot recvmsg on the one-to-many socket only runs inside that
//     thread's own io_uring_enter.
//  2. Peels happen in OnTick, which the loop calls right after it handled
//     every completion and before it enters the kernel again: every message
//     the kernel has read for the association is already delivered, and no
//     read can happen until the peel is done.
//  3. An association with half a message in the control thread's reassembly
//     is not peeled (the rest would arrive on the new socket): it waits for
//     the next tick. With fragment interleave 0 the kernel finishes a partial
//     delivery before anything else on the socket.
//  4. sctp_peeloff moves the association with everything the kernel still
//     queues for it (sctp_sock_migrate); only the new socket sees it after.
//  5. Rings without DEFER_TASKRUN may run receives at other syscalls: after
//     the peel the control thread handles whatever is already posted, before
//     the handoff, so its messages still come first.
//  6. The worker arms its receive only when it adopts the descriptor, after
//     all of the above on the control thread (happens-before via the inbox).
//
// Send side: see AssociationTable (outbox). At the move, the association's
// messages still queued on the one-to-many socket are taken back (in order)
// and put in front of its outbox, which the worker sends first. One the
// kernel is already working on (in flight, waiting for POLLOUT) defers the
// move: the control thread cancels the socket's chain (what was not sent yet
// comes back to the queue in order, with -ECANCELED) and peels at the next
// loop iteration, so a congested socket does not hold a hot association.
#include "control/data_plane.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "dataplane/log.h"
#include "dataplane/sctp_parse.h"
#include "dataplane/user_data.h"

namespace sctpdp {
namespace {

constexpr uint64_t kListenerCookie = ~uint64_t{0};

// Per thread: sends refused while flushing under the table lock.
thread_local std::vector<std::pair<sctp_assoc_t, SendResult>> deferred_errors;

std::string AddressString(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof(buf));
  } else if (sa->sa_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
      inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], buf, sizeof(buf));
    } else {
      inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
    }
  }
  return buf;
}

uint16_t PortOf(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(sa)->sin_port);
  if (sa->sa_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port);
  return 0;
}

}  // namespace

// --- Callbacks of the control thread's Worker ------------------------------

class DataPlane::ControlHandler : public WorkerHandler {
 public:
  explicit ControlHandler(DataPlane* dp) : dp_(dp) {}
  void OnAdopted(Worker&, AssocHandle handle, sctp_assoc_t, uint64_t cookie) override {
    if (cookie == kListenerCookie) dp_->listener_ = handle;
  }
  void OnMessage(Worker&, const MessageView& m) override {
    dp_->table_.CountControlMessage(m.assoc_id, m.payload.size());
    dp_->policy_.Observe(m.assoc_id, m.payload.size(), absl::Now());
    dp_->app_->OnMessage(*dp_, m);
  }
  void OnEvent(Worker&, AssocHandle, const AssociationEvent& ev) override {
    if (ev.type == EventType::kAssocChange && ev.state == SCTP_COMM_UP) dp_->OnAssociationUp(ev);
    if (dp_->table_.Get(ev.assoc_id)) dp_->app_->OnEvent(*dp_, ev.assoc_id, ev);
    if (ev.EndsAssociation()) {
      dp_->OnAssociationEnded(ev.assoc_id,
                              ev.state == SCTP_SHUTDOWN_COMP ? DownReason::kShutdown : DownReason::kCommLost);
    }
  }
  void OnError(Worker&, AssocHandle, const absl::Status& error) override { dp_->app_->OnError(*dp_, 0, error); }
  void OnWritable(Worker&, AssocHandle) override {
    dp_->FlushOutboxes(Location::kControl, -1);  // what waited for room goes first
    dp_->app_->OnWritable(*dp_, 0);
  }
  void OnAssociationDown(Worker&, AssocHandle, DownReason reason, const AssocStats&) override {
    dp_->EndAllOnControl(reason);  // the one-to-many socket closed (Stop)
  }
  void OnTick(Worker&, absl::Time now) override { dp_->Evaluate(now); }

 private:
  DataPlane* const dp_;
};

// --- Callbacks of the workers ----------------------------------------------

class DataPlane::WorkerHandlerImpl : public WorkerHandler {
 public:
  explicit WorkerHandlerImpl(DataPlane* dp) : dp_(dp) {}
  void OnAdopted(Worker& w, AssocHandle handle, sctp_assoc_t id, uint64_t) override {
    const int index = w.options().index;
    // Sends that waited during the move go first, oldest first.
    const std::optional<AssociationTable::Landed> landed =
        dp_->table_.FinishMove(id, handle, absl::Now(), dp_->SenderFor(Location::kWorker, index));
    dp_->ReportDeferredErrors();
    if (landed && landed->receive_paused) w.PauseReceive(handle);  // asked for while it moved
    dp_->app_->OnMoved(*dp_, id, index);
    if (landed && landed->writable) dp_->app_->OnWritable(*dp_, id);
  }
  void OnMessage(Worker&, const MessageView& m) override { dp_->app_->OnMessage(*dp_, m); }
  void OnEvent(Worker&, AssocHandle h, const AssociationEvent& ev) override {
    dp_->app_->OnEvent(*dp_, IdOf(h, ev.assoc_id), ev);
  }
  void OnError(Worker&, AssocHandle h, const absl::Status& error) override {
    dp_->app_->OnError(*dp_, IdOf(h, 0), error);
  }
  void OnWritable(Worker& w, AssocHandle h) override {
    dp_->FlushOutboxes(Location::kWorker, w.options().index);  // what waited for room goes first
    dp_->app_->OnWritable(*dp_, IdOf(h, 0));
  }
  void OnAdoptFailed(Worker&, sctp_assoc_t id, uint64_t, const absl::Status& error) override {
    dp_->LoseMoving(id, error);
  }
  void OnAssociationDown(Worker&, AssocHandle h, DownReason reason, const AssocStats& stats) override {
    std::optional<sctp_assoc_t> id = dp_->table_.FindByHandle(h);
    if (!id) return;
    std::optional<AssociationInfo> info = dp_->table_.Remove(*id);
    AssocStats all = stats;
    all.messages_in += info->messages_in_control;
    all.bytes_in += info->bytes_in_control;
    dp_->app_->OnAssociationDown(*dp_, *id, reason, all);
  }

 private:
  sctp_assoc_t IdOf(AssocHandle h, sctp_assoc_t fallback) {
    if (!h.valid()) return fallback;
    return dp_->table_.FindByHandle(h).value_or(fallback);
  }
  DataPlane* const dp_;
};

// --- Lifecycle ---------------------------------------------------------------

DataPlane::DataPlane(const DataPlaneOptions& options, DataPlaneHandler* handler, HotnessPolicy policy)
    : options_(options),
      app_(handler),
      peeloff_ops_(options.peeloff_ops ? *options.peeloff_ops : PeeloffOps::Kernel()),
      table_(options.max_associations),
      policy_(std::move(policy)),
      control_handler_(std::make_unique<ControlHandler>(this)),
      worker_handler_(std::make_unique<WorkerHandlerImpl>(this)) {}

absl::StatusOr<std::unique_ptr<DataPlane>> DataPlane::Create(const DataPlaneOptions& options,
                                                             DataPlaneHandler* handler) {
  if (handler == nullptr) return absl::InvalidArgumentError("data plane: null handler");
  if (options.max_associations == 0) return absl::InvalidArgumentError("data plane: max_associations must be > 0");
  if (options.max_peeled_per_worker > options.worker.max_associations) {
    return absl::InvalidArgumentError(absl::StrCat("data plane: max_peeled_per_worker must be 0..",
                                                   options.worker.max_associations, " (worker.max_associations)"));
  }
  if (options.evaluate_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("data plane: evaluate_interval must be > 0");
  }
  auto policy = HotnessPolicy::Create(options.hotness);
  if (!policy.ok()) return policy.status();
  return std::unique_ptr<DataPlane>(new DataPlane(options, handler, *std::move(policy)));
}

DataPlane::~DataPlane() { Stop(); }

size_t DataPlane::workers() const { return pool_ ? pool_->size() : 0; }

absl::Status DataPlane::Start() {
  if (started_) return absl::FailedPreconditionError("data plane: already started");
  auto listener = OpenListener(options_.listener);
  if (!listener.ok()) return listener.status();
  port_ = listener->port;
  std::vector<int> cpus = options_.worker_cpus.empty() ? WorkerPool::AllowedCpus() : options_.worker_cpus;
  auto pool = WorkerPool::Create(options_.worker, cpus, worker_handler_.get());
  if (!pool.ok()) return pool.status();
  pool_ = std::move(*pool);
  worker_kick_ = std::make_unique<std::atomic<bool>[]>(pool_->size());
  WorkerOptions control = options_.control;
  control.index = static_cast<uint8_t>(pool_->size());
  control.max_associations = 1;
  control.tick_interval = options_.evaluate_interval;
  auto worker = Worker::Create(control, control_handler_.get());
  if (!worker.ok()) {
    pool_->Stop();
    return worker.status();
  }
  control_ = std::move(*worker);
  started_ = true;
  absl::Status s = control_->Adopt(std::move(listener->fd), 0, kListenerCookie, nullptr, 0, SocketKind::kOneToMany);
  Logf("data plane: listening on port %d (%s), %zu workers, policy: %s; %s", port_, listener->ipv6 ? "IPv6" : "IPv4",
       pool_->size(),
       options_.hotness.peel_all ? "peel all" : absl::StrCat(options_.hotness.peel_messages_per_sec, " msg/s"),
       listener->Describe());
  if (listener->rcvbuf_policy == 0) {
    Logf("data plane: net.sctp.rcvbuf_policy=0: cold associations share the listener's %d B receive buffer; "
         "one that backs up stalls the others' windows (set it to 1, or raise ListenerOptions::rcvbuf)",
         listener->rcvbuf);
  }
  return s;
}

void DataPlane::Stop() {
  if (!started_ || stopped_.exchange(true)) return;
  control_->Stop();  // closes the one-to-many socket: its associations end
  pool_->Stop();
}

// --- Control thread: associations coming and going ---------------------------

Peer DataPlane::PrimaryPeer(sctp_assoc_t id, std::vector<std::string>* all) {
  Peer peer;
  sockaddr* addrs = nullptr;
  int n = sctp_getpaddrs(control_->FdOf(listener_), id, &addrs);
  if (n <= 0) return peer;
  const char* p = reinterpret_cast<const char*>(addrs);
  for (int i = 0; i < n; ++i) {
    const auto* sa = reinterpret_cast<const sockaddr*>(p);
    all->push_back(AddressString(sa));
    if (i == 0) peer = {AddressString(sa), PortOf(sa)};
    p += sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  }
  sctp_freepaddrs(addrs);
  return peer;
}

void DataPlane::OnAssociationUp(const AssociationEvent& ev) {
  AssociationInfo info;
  info.id = ev.assoc_id;
  info.inbound_streams = ev.inbound_streams;
  info.outbound_streams = ev.outbound_streams;
  info.up_since = absl::Now();
  info.peer = PrimaryPeer(ev.assoc_id, &info.peer_addresses);
  if (!table_.Add(info)) {
    AbortOnListener(ev.assoc_id);
    rejected_.fetch_add(1, std::memory_order_relaxed);
    app_->OnError(*this, ev.assoc_id,
                  absl::ResourceExhaustedError(absl::StrCat("max_associations (", options_.max_associations,
                                                            ") reached: association ", ev.assoc_id, " aborted")));
    return;
  }
  policy_.Add(info.id, info.peer, info.up_since);
  app_->OnAssociationUp(*this, info);
}

void DataPlane::OnAssociationEnded(sctp_assoc_t id, DownReason reason) {
  policy_.Remove(id);
  retry_.erase(id);
  std::optional<AssociationInfo> info = table_.Remove(id);
  if (!info) return;  // rejected at COMM_UP, or already reported
  AssocStats stats;
  stats.messages_in = info->messages_in_control;
  stats.bytes_in = info->bytes_in_control;
  app_->OnAssociationDown(*this, id, reason, stats);
}

void DataPlane::EndAllOnControl(DownReason reason) {
  for (const AssociationInfo& info : table_.List()) {
    if (info.location == Location::kControl) OnAssociationEnded(info.id, reason);
  }
}

void DataPlane::LoseMoving(sctp_assoc_t id, const absl::Status& why) {
  std::optional<AssociationInfo> info = table_.Remove(id);
  if (!info) return;
  app_->OnError(*this, id, why);
  AssocStats stats;
  stats.messages_in = info->messages_in_control;
  stats.bytes_in = info->bytes_in_control;
  app_->OnAssociationDown(*this, id, DownReason::kError, stats);
}

void DataPlane::AbortOnListener(sctp_assoc_t id) {
  alignas(cmsghdr) char control[kSendControlBytes];
  msghdr msg{};
  FillSendControl(&msg, control, 0, 0, SCTP_ABORT, 0, id);
  if (sendmsg(control_->FdOf(listener_), &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
    Logf("data plane: ABORT of association %d: %s", id, std::strerror(errno));
  }
}

// --- Control thread: the policy loop and the move ----------------------------

void DataPlane::Evaluate(absl::Time now) {
  if (!listener_.valid()) return;
  for (sctp_assoc_t id : policy_.Evaluate(now)) {
    auto retry = retry_.find(id);
    if (retry != retry_.end() && now < retry->second.at) continue;
    PeelAndHandOff(id, now);
  }
}

void DataPlane::PeelAndHandOff(sctp_assoc_t id, absl::Time now) {
  std::optional<AssociationInfo> info = table_.Get(id);
  if (!info || info->location != Location::kControl) {
    policy_.Remove(id);
    return;
  }
  // Half a message here, or a send for it inside the kernel's hands on the
  // one-to-many socket (waiting for POLLOUT): not yet (step 3 and the send
  // side, above). Completions already posted are handled first, so the
  // check sees everything read so far (step 5, for rings without
  // DEFER_TASKRUN).
  control_->ProcessPostedCompletions();
  if (control_->PartialFor(listener_) == id) return;
  if (control_->SendsInFlightFor(listener_, id) > 0) {
    // Congested (waiting for POLLOUT) it could wait for long: take the chain
    // back (cancelled sends requeue in order) and try again right after.
    control_->CancelSends(listener_);
    control_->RequestTick();
    peel_waits_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::vector<WorkerLoad> loads = table_.Loads(pool_->size());
  const unsigned cap = options_.max_peeled_per_worker ? options_.max_peeled_per_worker : options_.worker.max_associations;
  const int w = PickWorker(loads, cap);
  if (w < 0) {
    peel_deferred_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // Its messages still queued on the one-to-many socket go with it, in front
  // of its outbox. If the peel fails they come back the same way.
  table_.StartMove(id, w, policy_.MessagesPerSec(id, now), control_->TakeQueuedFor(listener_, id), now);
  absl::StatusOr<Fd> fd = PeelOff(control_->FdOf(listener_), id, peeloff_ops_);
  if (fd.ok()) {
    policy_.Remove(id);
    retry_.erase(id);
    control_->ProcessPostedCompletions();  // step 5
    peeled_.fetch_add(1, std::memory_order_relaxed);
    absl::Status s = pool_->worker(w).Adopt(*std::move(fd), id, static_cast<uint64_t>(id), control_->ring(),
                                            Tag{Op::kMsgRing, 0, 0, 0}.Pack());
    if (!s.ok()) LoseMoving(id, s);
    return;
  }
  switch (fd.status().code()) {
    case absl::StatusCode::kUnavailable: {  // EBUSY: retry with backoff
      table_.AbortMove(id);
      FlushOutboxes(Location::kControl, -1);
      peel_busy_.fetch_add(1, std::memory_order_relaxed);
      Retry& r = retry_[id];
      r.backoff = std::min(absl::Seconds(5), std::max(options_.evaluate_interval, r.backoff * 2));
      r.at = now + r.backoff;
      return;
    }
    case absl::StatusCode::kNotFound:  // gone: its COMM_LOST will clean up
      table_.AbortMove(id);
      FlushOutboxes(Location::kControl, -1);
      policy_.Remove(id);
      peel_gone_.fetch_add(1, std::memory_order_relaxed);
      return;
    case absl::StatusCode::kResourceExhausted: {  // EMFILE: the kernel closed it
      peel_no_fds_.fetch_add(1, std::memory_order_relaxed);
      app_->OnError(*this, id, fd.status());
      policy_.Remove(id);
      std::optional<AssociationInfo> gone = table_.Remove(id);
      AssocStats stats;
      stats.messages_in = gone ? gone->messages_in_control : 0;
      app_->OnAssociationDown(*this, id, DownReason::kError, stats);
      return;
    }
    default:
      table_.AbortMove(id);
      FlushOutboxes(Location::kControl, -1);
      peel_errors_.fetch_add(1, std::memory_order_relaxed);
      policy_.Remove(id);  // not retried: it stays on the one-to-many socket
      app_->OnError(*this, id, fd.status());
      return;
  }
}

// --- Sends ---------------------------------------------------------------------

SendFn DataPlane::SenderFor(Location where, int worker) {
  // kQueueFull/kNoBuffers: not now (the message stays in the outbox, and
  // OnWritable flushes again). Anything else can never be sent: dropped and
  // reported once the table lock is released.
  auto taken = [](sctp_assoc_t id, SendResult r) {
    if (IsBackpressure(r)) return false;
    if (r != SendResult::kOk) deferred_errors.emplace_back(id, r);
    return true;
  };
  if (where == Location::kControl) {
    return [this, taken](const AssociationInfo& info, const SendView& v) {
      return taken(info.id, control_->SendCopyTo(listener_, info.id, v.stream, v.ppid, v.payload, v.flags, v.ttl_ms));
    };
  }
  return [this, worker, taken](const AssociationInfo& info, const SendView& v) {
    return taken(info.id,
                 pool_->worker(worker).SendCopy(info.handle, v.stream, v.ppid, v.payload, v.flags, v.ttl_ms));
  };
}

void DataPlane::ReportDeferredErrors() {
  if (deferred_errors.empty()) return;
  std::vector<std::pair<sctp_assoc_t, SendResult>> errors;
  errors.swap(deferred_errors);
  for (const auto& [id, r] : errors) {
    app_->OnError(*this, id, absl::UnavailableError(absl::StrCat("queued send dropped: ", SendResultName(r))));
  }
}

SendResult DataPlane::Send(sctp_assoc_t id, uint16_t stream, uint32_t ppid, absl::Span<const char> payload,
                           uint16_t flags, uint32_t ttl_ms) {
  if (!started_ || stopped_) return SendResult::kClosing;
  if (payload.size() > options_.worker.max_message_size) return SendResult::kTooBig;
  SendResult direct = SendResult::kOk;
  auto here = [this](const AssociationInfo& info) {
    return info.location == Location::kControl ? control_->OnWorkerThread()
                                               : pool_->worker(info.worker).OnWorkerThread();
  };
  auto send_here = [&](const AssociationInfo& info, const SendView& v) {
    direct = info.location == Location::kControl
                 ? control_->SendCopyTo(listener_, info.id, v.stream, v.ppid, v.payload, v.flags, v.ttl_ms)
                 : pool_->worker(info.worker).SendCopy(info.handle, v.stream, v.ppid, v.payload, v.flags, v.ttl_ms);
    return true;
  };
  auto r = table_.RouteSend(id, SendView{stream, ppid, flags, ttl_ms, payload}, options_.worker.send_queue_limit,
                            here, send_here);
  switch (r.route) {
    case AssociationTable::Route::kSent:
      return direct;
    case AssociationTable::Route::kQueued:
      if (r.location != Location::kMoving) Kick(r.location, r.worker);
      return SendResult::kOk;
    case AssociationTable::Route::kFull:
      return SendResult::kQueueFull;
    case AssociationTable::Route::kBadStream:
      return SendResult::kBadStream;
    case AssociationTable::Route::kUnknown:
      break;
  }
  return SendResult::kNoAssociation;
}

absl::Status DataPlane::PauseReceive(sctp_assoc_t id) { return SetReceive(id, true); }
absl::Status DataPlane::ResumeReceive(sctp_assoc_t id) { return SetReceive(id, false); }

absl::Status DataPlane::SetReceive(sctp_assoc_t id, bool paused) {
  if (!started_ || stopped_) return absl::FailedPreconditionError("data plane not running");
  std::optional<AssociationInfo> info = table_.SetReceivePaused(id, paused);
  if (!info) return absl::NotFoundError(absl::StrCat("association ", id, ": unknown"));
  if (info->location == Location::kMoving) return absl::OkStatus();  // its worker applies it on adoption
  if (info->location == Location::kControl) {
    // The shared socket cannot stop for one association: move it first
    // (its worker applies the pause on adoption). A resume has nothing to do.
    if (!paused) return absl::OkStatus();
    return control_->Post([this, id](Worker&) {
      if (policy_.Force(id)) {
        control_->RequestTick();
      } else if (table_.Get(id)) {
        app_->OnError(*this, id, absl::FailedPreconditionError(absl::StrCat(
                                     "association ", id, " is pinned to the one-to-many socket (never rule): "
                                     "its receive cannot be paused")));
      }
    });
  }
  Worker& w = pool_->worker(info->worker);
  const AssocHandle h = info->handle;
  auto apply = [h, paused](Worker& worker) { paused ? worker.PauseReceive(h) : worker.ResumeReceive(h); };
  if (w.OnWorkerThread()) {
    apply(w);
    return absl::OkStatus();
  }
  return w.Post(apply);
}

void DataPlane::Kick(Location where, int worker) {
  std::atomic<bool>& flag = where == Location::kControl ? control_kick_ : worker_kick_[worker];
  if (flag.exchange(true, std::memory_order_acq_rel)) return;  // one wake-up per batch
  Worker& target = where == Location::kControl ? *control_ : pool_->worker(worker);
  absl::Status s = target.Post([this, where, worker, &flag](Worker&) {
    flag.store(false, std::memory_order_release);
    FlushOutboxes(where, worker);
  });
  if (!s.ok()) flag.store(false, std::memory_order_release);
}

void DataPlane::FlushOutboxes(Location where, int worker) {
  SendFn send = SenderFor(where, worker);
  std::vector<sctp_assoc_t> room;
  for (sctp_assoc_t id : table_.WithOutbox(where, worker)) {
    if (table_.Flush(id, where, worker, send)) room.push_back(id);
  }
  ReportDeferredErrors();
  for (sctp_assoc_t id : room) app_->OnWritable(*this, id);
}

// --- Stats ---------------------------------------------------------------------

DataPlaneStats DataPlane::Snapshot() const {
  DataPlaneStats s;
  if (control_) s.control = control_->Snapshot();
  if (pool_) s.workers = pool_->Snapshot();
  const AssociationTable::Counts counts = table_.CountByLocation();
  s.on_control = counts.on_control;
  s.on_workers = counts.elsewhere;
  s.associations = counts.on_control + counts.elsewhere;
  s.peeled = peeled_.load(std::memory_order_relaxed);
  s.peel_busy = peel_busy_.load(std::memory_order_relaxed);
  s.peel_gone = peel_gone_.load(std::memory_order_relaxed);
  s.peel_no_fds = peel_no_fds_.load(std::memory_order_relaxed);
  s.peel_errors = peel_errors_.load(std::memory_order_relaxed);
  s.peel_deferred = peel_deferred_.load(std::memory_order_relaxed);
  s.peel_waits = peel_waits_.load(std::memory_order_relaxed);
  s.rejected = rejected_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace sctpdp
