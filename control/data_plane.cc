// DataPlane: the control plane. It wires the shards (the control thread's
// one-to-many server, one Worker per core) to the Router, keeps the
// association table and the hotness policy, decides the moves and reports
// everything to the application.
//
// How a move keeps every received message exactly once and in order (the
// send side is the Router's: handoff/router.h):
//  1. The control thread's ring has DEFER_TASKRUN: its multishot recvmsg on
//     the one-to-many socket only runs inside that thread's io_uring_enter.
//  2. Moves are decided in OnTick, which the loop calls right after it
//     handled every completion and before it enters the kernel again; and
//     OneToManyServer::Detach handles whatever is already posted first. So
//     every message the kernel has read for the association is delivered,
//     and no read can happen until the peel is done.
//  3. An association with half a message in the control thread's
//     reassembly is not peeled (the rest would arrive on the new socket): it
//     waits for the next tick. With fragment interleave 0 the kernel
//     finishes a partial delivery before anything else on the socket.
//  4. sctp_peeloff moves the association with everything the kernel still
//     queues for it (sctp_sock_migrate); only the new socket sees it after.
//  5. Rings without DEFER_TASKRUN may run receives at other syscalls: after
//     the peel the control thread handles whatever is already posted, before
//     the hand-over, so those messages still come first.
//  6. The worker arms its receive only when it adopts the descriptor, after
//     all of the above on the control thread (happens-before via its inbox).
// A send of the control thread's for the association in the kernel (waiting
// for POLLOUT) defers the move: Detach cancels the socket's chain (what was
// not sent yet comes back to the queue in order) and the peel is tried at
// the next loop iteration, so a congested socket does not hold a hot
// association (peel_waits).
#include "control/data_plane.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "dataplane/log.h"
#include "dataplane/sctp_socket.h"
#include "dataplane/sctp_status.h"

namespace sctpdp {
namespace {

// Flags of the association's end, not of a message (Shutdown, Abort).
constexpr uint16_t kNotMessageFlags = SCTP_EOF | SCTP_ABORT;

// The final counters of an association that ended on the control thread.
AssocStats ControlStats(const Route* route) {
  AssocStats s;
  if (route != nullptr) {
    s.messages_in = route->messages_in_control.Get();
    s.bytes_in = route->bytes_in_control.Get();
  }
  return s;
}

}  // namespace

DataPlane::DataPlane(const DataPlaneOptions& options, DataPlaneHandler* handler, HotnessPolicy policy)
    : options_(options),
      app_(handler),
      peeloff_ops_(options.peeloff_ops ? *options.peeloff_ops : PeeloffOps::Kernel()),
      table_(options.max_associations,
             options.max_associations_per_peer ? options.max_associations_per_peer : SIZE_MAX),
      policy_(std::move(policy)) {}

absl::StatusOr<std::unique_ptr<DataPlane>> DataPlane::Create(const DataPlaneOptions& options,
                                                             DataPlaneHandler* handler) {
  if (handler == nullptr) return absl::InvalidArgumentError("data plane: null handler");
  if (options.max_associations == 0) return absl::InvalidArgumentError("data plane: max_associations is 0");
  if (options.cross_thread_limit == 0) return absl::InvalidArgumentError("data plane: cross_thread_limit is 0");
  auto policy = HotnessPolicy::Create(options.hotness);
  if (!policy.ok()) return policy.status();
  return std::unique_ptr<DataPlane>(new DataPlane(options, handler, *std::move(policy)));
}

DataPlane::~DataPlane() { Stop(); }

absl::Status DataPlane::Start() {
  if (started_) return absl::FailedPreconditionError("data plane: already started");
  if (options_.max_connections >= kNoSocket - 1) {
    return absl::InvalidArgumentError("data plane: max_connections too large");
  }
  std::optional<Listener> listener;
  if (options_.listen) {
    absl::StatusOr<Listener> l = OpenListener(options_.listener);
    if (!l.ok()) return l.status();
    listener = *std::move(l);
    port_ = listener->port;
  }
  auto parcels = ParcelPool::Create(options_.parcel_count, options_.parcel_size);
  if (!parcels.ok()) return parcels.status();
  parcels_ = *std::move(parcels);
  router_ = std::make_unique<Router>(RouterOptions{.max_associations = options_.max_associations,
                                                   .cross_thread_limit = options_.cross_thread_limit,
                                                   .parcels = parcels_.get()},
                                     static_cast<RouterHandler*>(this));
  const std::vector<int> cpus = options_.worker_cpus.empty() ? AllowedCpus() : options_.worker_cpus;
  if (cpus.empty() || cpus.size() > 254) return absl::InvalidArgumentError("data plane: 1..254 workers");
  const absl::Duration kernel_every = options_.kernel_stats.interval;
  for (size_t i = 0; i <= cpus.size(); ++i) {
    kernel_samplers_.push_back(std::make_unique<KernelStatsSampler>(options_.kernel_stats, static_cast<int>(i)));
  }
  kernel_board_ = std::make_unique<KernelStatsBoard>(cpus.size() + 1);
  for (size_t i = 0; i < cpus.size(); ++i) {
    WorkerOptions o = options_.worker;
    o.cpu = cpus[i];
    if (kernel_every > absl::ZeroDuration() &&
        (o.tick_interval == absl::ZeroDuration() || o.tick_interval > kernel_every)) {
      o.tick_interval = kernel_every;
    }
    auto shard = WorkerShard::Create(static_cast<int>(i), o, router_.get(), static_cast<ShardEvents*>(this));
    if (!shard.ok()) {
      return absl::Status(shard.status().code(),
                          absl::StrCat("worker ", i, " (cpu ", cpus[i], "): ", shard.status().message()));
    }
    router_->AddShard(shard->get());
    workers_.push_back(*std::move(shard));
  }
  control_ = std::make_unique<ControlShard>(control_index(), router_.get(), static_cast<ShardEvents*>(this),
                                            static_cast<ControlEvents*>(this), peeloff_ops_);
  router_->AddShard(control_.get());  // before its first association
  OneToManyOptions control = options_.control;
  control.tick_interval = options_.evaluate_interval;
  control.max_sockets = options_.max_connections + 1;  // the listener's, and one per connection
  if (absl::Status s = control_->Start(listener ? std::move(listener->fd) : Fd(), control); !s.ok()) return s;
  started_ = true;
  const std::string policy =
      options_.hotness.peel_all ? "peel all" : absl::StrCat(options_.hotness.peel_messages_per_sec, " msg/s");
  if (!listener) {
    Logf("data plane: not listening (outbound associations only), %zu workers, policy: %s", workers_.size(),
         policy);
    return absl::OkStatus();
  }
  Logf("data plane: listening on port %d (%s), %zu workers, policy: %s; %s", port_, listener->ipv6 ? "IPv6" : "IPv4",
       workers_.size(), policy, listener->Describe());
  if (listener->rcvbuf_policy == 0) {
    Logf("data plane: net.sctp.rcvbuf_policy=0: cold associations share the listener's %d B receive buffer; "
         "one that backs up stalls the others' windows (set it to 1, or raise ListenerOptions::rcvbuf)",
         listener->rcvbuf);
  }
  return absl::OkStatus();
}

void DataPlane::Stop() {
  if (!started_ || stopped_.exchange(true)) return;
  control_->server().Stop();  // closes the one-to-many sockets: their associations end
  for (auto& w : workers_) w->worker().Stop();
  // Any association still known (one between owners when everything
  // stopped) hears its end last.
  for (const AssociationInfo& info : table_.List()) {
    if (table_.Remove(info.id)) app_->OnAssociationDown(*this, info.id, DownReason::kStopped, AssocStats{});
  }
  // Connections end with the data plane.
  std::lock_guard<std::mutex> l(connections_mu_);
  for (auto& [id, info] : connection_info_) {
    info.state = ConnectionState::kClosed;
    info.next_attempt = absl::InfiniteFuture();
  }
}

// --- Sends ---------------------------------------------------------------------

SendResult DataPlane::Send(sctp_assoc_t id, uint16_t stream, uint32_t ppid, absl::Span<const char> payload,
                           uint16_t flags, uint32_t ttl_ms) {
  if (!running()) return SendResult::kClosing;
  if (flags & kNotMessageFlags) return SendResult::kBadFlags;
  if (payload.size() > options_.worker.max_message_size) return SendResult::kTooBig;
  return router_->Send(id, SendMeta{stream, ppid, flags, ttl_ms}, payload);
}

SendBuffer DataPlane::AcquireSendBuffer(sctp_assoc_t id, size_t size) {
  if (!running() || size > options_.worker.max_message_size) return SendBuffer();
  return router_->Acquire(id, size);
}

SendResult DataPlane::Send(sctp_assoc_t id, uint16_t stream, uint32_t ppid, SendBuffer&& buffer, uint16_t flags,
                           uint32_t ttl_ms) {
  if (!running() || (flags & kNotMessageFlags)) {
    Release(std::move(buffer));
    return running() ? SendResult::kBadFlags : SendResult::kClosing;
  }
  return router_->Send(id, SendMeta{stream, ppid, flags, ttl_ms}, std::move(buffer));
}

void DataPlane::Release(SendBuffer buffer) {
  if (router_) router_->Release(std::move(buffer));
}

absl::StatusOr<Retained> DataPlane::Retain(const MessageView& m) {
  Shard* here = Router::CurrentShard();
  if (here == nullptr) return absl::FailedPreconditionError("Retain: only inside OnMessage");
  absl::StatusOr<RetainedMessage> kept = here->RetainLocal(m);
  if (!kept.ok()) return kept.status();
  return Retained{*std::move(kept), here->index()};
}

SendResult DataPlane::Send(sctp_assoc_t id, uint16_t stream, uint32_t ppid, Retained&& message,
                           absl::Span<const char> part, uint16_t flags, uint32_t ttl_ms) {
  if (!running() || (flags & kNotMessageFlags)) {
    Release(std::move(message));
    return running() ? SendResult::kBadFlags : SendResult::kClosing;
  }
  return router_->SendRetained(id, SendMeta{stream, ppid, flags, ttl_ms}, std::move(message), part);
}

void DataPlane::Release(Retained message) {
  if (router_) router_->ReleaseRetained(std::move(message));
}

// --- What the shards report ---------------------------------------------------------

void DataPlane::OnMessage(Shard& shard, Route& route, const MessageView& m) {
  if (shard.index() == control_index()) policy_.Observe(m.assoc_id, m.payload.size(), absl::Now());
  app_->OnMessage(*this, m);
}

void DataPlane::OnEvent(Shard& shard, Route* route, const AssociationEvent& event) {
  const sctp_assoc_t id = route != nullptr ? route->id.load() : event.assoc_id;
  if (route != nullptr) TrackEvent(id, shard.SocketOf(*route), route, event);
  app_->OnEvent(*this, id, event);
}

void DataPlane::OnError(Shard&, Route* route, const absl::Status& error) {
  app_->OnError(*this, route != nullptr ? route->id.load() : 0, error);
}

void DataPlane::OnAdopted(Shard& shard, Route& route) {
  const sctp_assoc_t id = route.id.load();
  const std::optional<bool> paused = table_.FinishMove(id, absl::Now());
  if (paused && *paused) static_cast<WorkerShard&>(shard).worker().PauseReceive(AssocHandle{route.handle});
  app_->OnMoved(*this, id, shard.index());
}

void DataPlane::OnAdoptFailed(Shard&, Route& route, const absl::Status& error) {
  const sctp_assoc_t id = route.id.load();
  std::optional<AssociationInfo> info = table_.Remove(id);
  app_->OnError(*this, id, error);
  if (info) app_->OnAssociationDown(*this, id, DownReason::kError, ControlStats(&route));
  Forget(route);
}

void DataPlane::OnDown(Shard&, Route& route, DownReason reason, const AssocStats& stats) {
  const sctp_assoc_t id = route.id.load();
  std::optional<AssociationInfo> info = table_.Remove(id);
  if (info) {
    AssocStats all = stats;
    all.messages_in += route.messages_in_control.Get();
    all.bytes_in += route.bytes_in_control.Get();
    app_->OnAssociationDown(*this, id, reason, all);
  }
  Forget(route);
}

// The directory is the control thread's to change.
void DataPlane::Forget(Route& route) {
  Route* r = &route;
  const sctp_assoc_t id = route.id.load();
  control_->Post([this, r, id] {
    router_->Remove(*r);
    ConnectionEnded(id);
  }).IgnoreError();  // stopping: it dies with the router
}

// --- The control thread: associations coming and going -------------------------------

void DataPlane::OnSocketEvent(SocketId socket, const AssociationEvent& event) {
  ConnectionId connection = 0;
  if (auto it = outbound_by_socket_.find(socket); it != outbound_by_socket_.end()) {
    // A connection's socket: its attempts' outcomes are the connection's;
    // only its current association's events go on.
    Outbound& out = *outbound_.at(it->second);
    if (!OnOutboundEvent(out, event, absl::Now())) return;
    connection = out.id;
  }
  if (event.type == EventType::kAssocChange && event.state == SCTP_COMM_UP) OnAssociationUp(event, connection);
  if (table_.Get(event.assoc_id)) {
    TrackEvent(event.assoc_id, control_->server().SocketFd(socket), router_->directory().Find(event.assoc_id),
               event);
    app_->OnEvent(*this, event.assoc_id, event);
  }
  if (event.EndsAssociation()) {
    auto ending = ending_.find(event.assoc_id);
    const bool aborted = ending != ending_.end() && ending->second;
    OnAssociationEnded(event.assoc_id, aborted                               ? DownReason::kAborted
                                       : event.state == SCTP_SHUTDOWN_COMP ? DownReason::kShutdown
                                                                           : DownReason::kCommLost);
  }
}

void DataPlane::OnEnding(sctp_assoc_t id, bool abort) {
  ending_[id] = ending_[id] || abort;
  policy_.Remove(id);  // not moved any more: it ends where it is
  retry_.erase(id);
  // A connection's: not set up again (the application ended it).
  Outbound* out = OutboundOf(id);
  if (out != nullptr && out->machine.assoc() == id && out->machine.state() == ConnectionState::kUp) {
    out->machine.Close();
    Publish(*out);
  }
}

Peer DataPlane::PrimaryPeer(sctp_assoc_t id, std::vector<std::string>* all) {
  absl::StatusOr<std::vector<SocketAddress>> addrs = AssociationAddresses(control_->server().FdOf(id), id, true);
  if (!addrs.ok() || addrs->empty()) return Peer();
  for (const SocketAddress& a : *addrs) all->push_back(AddressString(a.get()));
  return Peer{AddressString((*addrs)[0].get()), PortOf((*addrs)[0].get())};
}

std::vector<std::string> DataPlane::LocalAddresses(sctp_assoc_t id) {
  std::vector<std::string> out;
  absl::StatusOr<std::vector<SocketAddress>> addrs = AssociationAddresses(control_->server().FdOf(id), id, false);
  if (addrs.ok()) {
    for (const SocketAddress& a : *addrs) out.push_back(AddressString(a.get()));
  }
  return out;
}

void DataPlane::OnAssociationUp(const AssociationEvent& ev, ConnectionId connection) {
  AssociationInfo info;
  info.id = ev.assoc_id;
  info.connection = connection;
  info.inbound_streams = ev.inbound_streams;
  info.outbound_streams = ev.outbound_streams;
  info.up_since = absl::Now();
  info.peer = PrimaryPeer(ev.assoc_id, &info.peer_addresses);
  info.local_addresses = LocalAddresses(ev.assoc_id);
  if (absl::StatusOr<SctpStatus> s = ReadSctpStatus(control_->server().FdOf(ev.assoc_id), ev.assoc_id); s.ok()) {
    info.paths = PathsOf(*s, info.up_since);
  }
  switch (table_.Add(info)) {
    case AssociationTable::AddResult::kAdded:
      break;
    case AssociationTable::AddResult::kFull:
      return Reject(ev.assoc_id, absl::StrCat("max_associations (", options_.max_associations, ") reached"));
    case AssociationTable::AddResult::kPeerFull:
      rejected_per_peer_.fetch_add(1, std::memory_order_relaxed);
      return Reject(ev.assoc_id, absl::StrCat("max_associations_per_peer (", options_.max_associations_per_peer,
                                              ") from ", info.peer.address, " reached"));
    case AssociationTable::AddResult::kKnown:
      return Reject(ev.assoc_id, "already known");
  }
  if (router_->Add(info.id, control_index(), RouteState::kLive, info.outbound_streams) == nullptr) {
    table_.Remove(info.id);
    return Reject(ev.assoc_id, "already known");
  }
  policy_.Add(info.id, info.peer, info.up_since);
  app_->OnAssociationUp(*this, info);
}

void DataPlane::Reject(sctp_assoc_t id, const std::string& why) {
  control_->server().Abort(id);
  rejected_.fetch_add(1, std::memory_order_relaxed);
  app_->OnError(*this, id, absl::ResourceExhaustedError(absl::StrCat(why, ": association ", id, " aborted")));
}

void DataPlane::OnAssociationEnded(sctp_assoc_t id, DownReason reason) {
  policy_.Remove(id);
  retry_.erase(id);
  ending_.erase(id);
  Route* r = router_->directory().Find(id);
  if (r != nullptr && r->Owner().shard == control_index()) {
    router_->OnDown(*control_, *r);  // what waited for it is dropped, and said
  } else {
    r = nullptr;  // not ours (moved: its worker reports its end)
  }
  const std::optional<AssociationInfo> info = table_.Remove(id);
  if (info) app_->OnAssociationDown(*this, id, reason, ControlStats(r));
  if (r != nullptr) router_->Remove(*r);
  if (r != nullptr || !info) ConnectionEnded(id);  // a moved one's connection hears from its worker (Forget)
}

void DataPlane::OnClosed() {
  for (const AssociationInfo& info : table_.List()) {
    if (info.location == Location::kControl) OnAssociationEnded(info.id, DownReason::kStopped);
  }
}

// --- The control thread: the policy loop and the move ------------------------------

void DataPlane::OnTick(absl::Time now) {
  PollConnections(now);
  ReadKernelStats(*control_, now);
  for (sctp_assoc_t id : policy_.Evaluate(now)) {
    auto retry = retry_.find(id);
    if (retry != retry_.end() && now < retry->second.at) continue;
    PeelAndHandOff(id, now);
  }
}

void DataPlane::PeelAndHandOff(sctp_assoc_t id, absl::Time now) {
  Route* r = router_->directory().Find(id);
  const std::optional<AssociationInfo> info = table_.Get(id);
  if (r == nullptr || !info || info->location != Location::kControl || r->Owner().shard != control_index() ||
      ending_.count(id) || r->closing.load()) {
    policy_.Remove(id);
    return;
  }
  const unsigned cap =
      options_.max_peeled_per_worker ? options_.max_peeled_per_worker : options_.worker.max_associations;
  const int w = PickWorker(table_.Loads(workers_.size()), cap);
  if (w < 0) {
    peel_deferred_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // The one question a move asks (OneToManyServer::Detach, through the
  // control shard); then the router hands it over.
  router_->Move(*control_, *r, w, [this, id, w, now](const absl::Status& detached) {
    if (!detached.ok()) return PeelFailed(id, detached, now);
    table_.StartMove(id, w, policy_.MessagesPerSec(id, now), now);
    policy_.Remove(id);
    retry_.erase(id);
    peeled_.fetch_add(1, std::memory_order_relaxed);
  });
}

void DataPlane::PeelFailed(sctp_assoc_t id, const absl::Status& why, absl::Time now) {
  switch (why.code()) {
    case absl::StatusCode::kFailedPrecondition:  // not yet (half a message, a send in flight): next tick
      peel_waits_.fetch_add(1, std::memory_order_relaxed);
      control_->RequestTick();
      return;
    case absl::StatusCode::kUnavailable: {  // EBUSY: retry with backoff
      peel_busy_.fetch_add(1, std::memory_order_relaxed);
      Retry& r = retry_[id];
      r.backoff = std::min(absl::Seconds(5), std::max(options_.evaluate_interval, r.backoff * 2));
      r.at = now + r.backoff;
      return;
    }
    case absl::StatusCode::kNotFound:  // gone: its COMM_LOST will clean up
      peel_gone_.fetch_add(1, std::memory_order_relaxed);
      policy_.Remove(id);
      return;
    case absl::StatusCode::kResourceExhausted:  // EMFILE: the kernel closed it
      peel_no_fds_.fetch_add(1, std::memory_order_relaxed);
      app_->OnError(*this, id, why);
      OnAssociationEnded(id, DownReason::kError);
      return;
    default:  // not retried: it stays on the one-to-many socket
      peel_errors_.fetch_add(1, std::memory_order_relaxed);
      policy_.Remove(id);
      app_->OnError(*this, id, why);
      return;
  }
}

// --- Receive flow control ----------------------------------------------------------

absl::Status DataPlane::PauseReceive(sctp_assoc_t id) { return SetReceive(id, true); }
absl::Status DataPlane::ResumeReceive(sctp_assoc_t id) { return SetReceive(id, false); }

absl::Status DataPlane::RunOn(sctp_assoc_t id, absl::AnyInvocable<void()> fn,
                              absl::AnyInvocable<void(const absl::Status&)> failed) {
  if (!running()) return absl::FailedPreconditionError("run on: data plane not running");
  Router::OwnerTask task;
  task.run = [fn = std::move(fn)](Shard&, Route&) mutable { fn(); };
  task.failed = [this, id, failed = std::move(failed)](const absl::Status& why) mutable {
    if (failed) return failed(why);
    app_->OnError(*this, id, why);
  };
  if (!router_->RunOnOwner(id, std::move(task))) {
    return absl::NotFoundError(absl::StrCat("run on: association ", id, ": unknown"));
  }
  return absl::OkStatus();
}

absl::Status DataPlane::SetReceive(sctp_assoc_t id, bool paused) {
  if (!running()) return absl::FailedPreconditionError("data plane not running");
  const std::optional<AssociationInfo> info = table_.SetReceivePaused(id, paused);
  if (!info) return absl::NotFoundError(absl::StrCat("association ", id, ": unknown"));
  switch (info->location) {
    case Location::kMoving:
      return absl::OkStatus();  // its worker applies it on adoption
    case Location::kControl:
      // The shared socket cannot stop for one association: move it first
      // (its worker applies the pause on adoption). A resume has nothing to do.
      if (!paused) return absl::OkStatus();
      return control_->Post([this, id] {
        if (policy_.Force(id)) {
          control_->RequestTick();
        } else if (table_.Get(id)) {
          app_->OnError(*this, id, absl::FailedPreconditionError(absl::StrCat(
                                       "association ", id,
                                       ending_.count(id) ? " is ending on the one-to-many socket"
                                                         : " is pinned to the one-to-many socket (never rule)",
                                       ": its receive cannot be paused")));
        }
      });
    case Location::kWorker:
      break;
  }
  Route* r = router_->directory().Find(id);
  if (r == nullptr) return absl::NotFoundError(absl::StrCat("association ", id, ": gone"));
  Worker& w = workers_[info->worker]->worker();
  auto apply = [r, paused](Worker& worker) {
    const AssocHandle h{r->handle};  // the owner's field, read on the owner's thread
    paused ? worker.PauseReceive(h) : worker.ResumeReceive(h);
  };
  if (w.OnWorkerThread()) {
    apply(w);
    return absl::OkStatus();
  }
  return w.Post(apply);
}

void** DataPlane::Context(sctp_assoc_t id) {
  if (!router_) return nullptr;
  Route* r = router_->directory().Find(id);
  return r != nullptr && r->id.load(std::memory_order_relaxed) == id ? &r->app_context : nullptr;
}

// --- Queries ---------------------------------------------------------------------

AssociationInfo DataPlane::WithCounters(AssociationInfo info) const {
  if (router_) {
    if (const Route* r = router_->directory().Find(info.id)) {
      info.messages_in_control = r->messages_in_control.Get();
      info.bytes_in_control = r->bytes_in_control.Get();
    }
  }
  return info;
}

std::optional<AssociationInfo> DataPlane::Association(sctp_assoc_t id) const {
  std::optional<AssociationInfo> info = table_.Get(id);
  if (!info) return info;
  return WithCounters(*std::move(info));
}

std::vector<AssociationInfo> DataPlane::Associations() const {
  std::vector<AssociationInfo> out = table_.List();
  for (AssociationInfo& info : out) info = WithCounters(std::move(info));
  return out;
}

DataPlaneStats DataPlane::Snapshot() const {
  DataPlaneStats s;
  if (control_ && started_) s.control = control_->server().Snapshot();
  for (const auto& w : workers_) s.workers += w->worker().Snapshot();
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
  s.rejected_per_peer = rejected_per_peer_.load(std::memory_order_relaxed);
  s.stray_messages = stray_.load(std::memory_order_relaxed);
  const RouterStats r = router_ ? router_->Stats() : RouterStats{};
  s.cross_thread_sends = r.cross_thread_sends;
  s.cross_thread_copies = r.cross_thread_copies;
  s.send_copies = s.control.totals.send_copies + s.workers.totals.send_copies + r.cross_thread_copies;
  s.move_copies = s.control.totals.move_copies + s.workers.totals.move_copies + r.move_copies;
  s.retain_refused = s.control.retain_refused + s.workers.retain_refused;
  s.dropped_sends = r.dropped;
  s.moves = r.moves;
  s.path_changes = path_changes_.load(std::memory_order_relaxed);
  s.restarts = restarts_.load(std::memory_order_relaxed);
  if (kernel_board_) s.kernel = kernel_board_->Totals();
  s.move_latency_us = table_.MoveLatency();
  s.table_locks = table_.lock_acquisitions();
  s.shared_locks = s.table_locks + s.control.inbox_locks + s.workers.inbox_locks + r.waiter_locks;
  s.connect_attempts = connect_attempts_.load(std::memory_order_relaxed);
  s.connect_failures = connect_failures_.load(std::memory_order_relaxed);
  s.connects = connects_.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> l(connections_mu_);
  for (const auto& [id, info] : connection_info_) s.connections += info.state != ConnectionState::kClosed;
  return s;
}

}  // namespace sctpdp
