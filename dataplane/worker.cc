// Worker lifecycle, its EventLoop client side (the one dispatch of socket
// completions), adoption, teardown and detach. Receive is in
// worker_recv.cc, send in worker_send.cc.
#include "dataplane/worker.h"

#include <sched.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/str_cat.h"
#include "dataplane/buffer_ring.h"
#include "dataplane/log.h"
#include "dataplane/sctp_socket.h"
#include "dataplane/sctp_tuning.h"
#include "dataplane/send_pool.h"
#include "dataplane/user_data.h"
#include "dataplane/worker_assoc.h"

namespace sctpdp {
namespace {

absl::Status ValidateOptions(const WorkerOptions& o) {
  auto bad = [](const std::string& what) { return absl::InvalidArgumentError("worker options: " + what); };
  if (o.max_associations == 0 || o.max_associations > 65535) return bad("max_associations must be 1..65535");
  if (o.buffer_count == 0 || o.buffer_count > 32768 || (o.buffer_count & (o.buffer_count - 1)) != 0) {
    return bad("buffer_count must be a power of two <= 32768");
  }
  if (o.buffer_size < 256 + kRecvControlBytes || o.buffer_size > (1u << 24)) {
    return bad(absl::StrCat("buffer_size must be ", 256 + kRecvControlBytes, "..16 MiB"));
  }
  if (o.retain_budget >= o.buffer_count / 2 + (o.buffer_count == 1)) {
    return bad("retain_budget must be below buffer_count / 2");
  }
  if (o.max_message_size == 0 || o.max_message_size > (size_t{1} << 30)) {
    return bad("max_message_size must be 1 B..1 GiB");
  }
  if (o.send_batch == 0 || o.send_batch > o.sq_entries) return bad("send_batch must be 1..sq_entries");
  if (o.send_queue_limit == 0 || o.send_queue_bytes == 0) return bad("send_queue_limit and send_queue_bytes must be > 0");
  if (o.sq_entries < 8 || o.cq_entries < o.sq_entries) return bad("need 8 <= sq_entries <= cq_entries");
  if (o.wait_batch == 0 || o.wait_batch > o.cq_entries) return bad("wait_batch must be 1..cq_entries");
  if (o.wait_batch > 1 && o.wait_timeout <= absl::ZeroDuration()) {
    return bad("wait_batch > 1 needs a positive wait_timeout");
  }
  if (o.coalesce_delay < absl::ZeroDuration() || o.coalesce_delay > absl::Milliseconds(100)) {
    return bad("coalesce_delay must be 0..100ms");
  }
  if (o.coalesce_min_batch == 0) return bad("coalesce_min_batch must be > 0");
  if (o.mail_capacity < 2 || (o.mail_capacity & (o.mail_capacity - 1)) != 0) {
    return bad("mail_capacity must be a power of two >= 2");
  }
  return absl::OkStatus();
}

LoopOptions LoopOptionsOf(const WorkerOptions& o) {
  LoopOptions l;
  l.name = "worker";
  l.index = o.index;
  l.cpu = o.cpu;
  l.sq_entries = o.sq_entries;
  l.cq_entries = o.cq_entries;
  l.fixed_files = o.max_associations;
  l.wait_batch = o.wait_batch;
  l.wait_timeout = o.wait_timeout;
  l.coalesce_delay = o.coalesce_delay;
  l.coalesce_by_naps = o.coalesce_by_naps;
  l.tick_interval = o.tick_interval;
  l.stop_deadline = o.stop_deadline;
  l.mail_capacity = o.mail_capacity;
  l.faults = o.faults;
  return l;
}

// Per-message SCTP_RCVINFO and the notifications the worker acts on. The
// peeled socket inherits the listener's settings on most kernels; setting
// them again makes the worker independent of that.
absl::Status ConfigureSctpSocket(int fd) {
  int on = 1;
  if (setsockopt(fd, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof(on)) != 0) {
    return absl::ErrnoToStatus(errno, "setsockopt(SCTP_RECVRCVINFO)");
  }
  if (setsockopt(fd, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof(on)) != 0) {
    return absl::ErrnoToStatus(errno, "setsockopt(SCTP_NODELAY)");
  }
  return SubscribeEvents(fd);
}

}  // namespace

std::vector<int> AllowedCpus() {
  std::vector<int> out;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return {-1};
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) out.push_back(cpu);
  }
  return out;
}

Worker::Worker(const WorkerOptions& options, WorkerHandler* handler)
    : options_(options), reassembly_(options.max_reassembly_bytes, options.max_message_size), handler_(handler) {}

absl::StatusOr<std::unique_ptr<Worker>> Worker::Create(const WorkerOptions& options, WorkerHandler* handler) {
  if (handler == nullptr) return absl::InvalidArgumentError("worker: null handler");
  if (absl::Status s = ValidateOptions(options); !s.ok()) return s;
  std::unique_ptr<Worker> w(new Worker(options, handler));
  auto loop = EventLoop::Create(LoopOptionsOf(options), w.get());
  if (!loop.ok()) return loop.status();
  w->owned_loop_ = std::move(*loop);
  return w;
}

Worker::~Worker() { Stop(); }

void Worker::Stop() {
  if (owned_loop_) owned_loop_->Stop();
}

absl::Status Worker::Init(EventLoop& loop) {
  loop_ = &loop;
  ring_ = &loop.ring();
  auto buffers = BufferRing::Create(*ring_, 0, options_.buffer_count, options_.buffer_size);
  if (!buffers.ok()) return buffers.status();
  buffers_ = std::move(*buffers);
  auto pool = SendPool::Create(options_.send_buffer_count, options_.send_buffer_size);
  if (!pool.ok()) return pool.status();
  send_pool_ = std::move(*pool);
  retention_ = std::make_unique<Retention>(buffers_.get(), options_.retain_budget);
  memory_ = std::make_unique<SendMemory>(send_pool_.get(), options_.parcels, retention_.get());
  std::memset(&recv_template_, 0, sizeof(recv_template_));
  recv_template_.msg_controllen = kRecvControlBytes;
  slots_ = std::make_unique<SlotTable<Assoc>>(options_.max_associations);
  rearm_.reserve(options_.max_associations);
  send_dirty_.reserve(options_.max_associations);
  flushing_.reserve(options_.max_associations);
  static std::once_flag features_logged;
  std::call_once(features_logged, [] { Logf("io_uring features: %s", ProbeRingFeatures().ToString()); });
  const bool coalescing = loop.coalescing();
  Logf("worker %d: cpu %d, ring %s, %u x %u B receive buffers, %u x %u B send buffers, %u slots, "
       "sends %s, coalescing %s",
       options_.index, options_.cpu, ring_->SetupFlagsString(), options_.buffer_count, options_.buffer_size,
       options_.send_buffer_count, options_.send_buffer_size, options_.max_associations,
       options_.bundle_sends ? "bundled (MSG_MORE within a chain)" : "one packet each",
       coalescing ? absl::StrCat(absl::FormatDuration(options_.coalesce_delay), " from batches of ",
                                 options_.coalesce_min_batch,
                                 loop.gathers_in_kernel() ? " (min-timeout waits)" : " (naps)")
       : options_.coalesce_delay > absl::ZeroDuration() ? std::string("off (needs DEFER_TASKRUN)")
                                                        : std::string("off"));
  handler_->OnStart(*this);
  return absl::OkStatus();
}

// --- The EventLoop client: one dispatch for every socket completion ---------

void Worker::OnCompletion(const Completion& c) {
  const Tag tag = Tag::Unpack(c.user_data);
  Assoc* a = slots_->Find(tag.slot, tag.generation);
  if (a == nullptr || (tag.op != Op::kRecv && tag.op != Op::kSend && tag.op != Op::kSendZc)) {
    // Cannot happen while slots are freed only when idle; never leak a buffer.
    Logf("worker %d: stale completion op %d slot %d res %d", options_.index, int(tag.op), tag.slot, c.res);
    if (c.has_buffer()) {
      buffers_->Take(c.buffer_id());
      buffers_->Recycle(c.buffer_id());
    }
    return;
  }
  if (tag.op == Op::kRecv) {
    ++recv_batch_;
    OnRecv(*a, c);
  } else {
    OnSendComplete(*a, tag.aux, c, tag.op == Op::kSendZc);
  }
}

unsigned Worker::BeforeWait() {
  last_recv_batch_ = recv_batch_;
  recv_batch_ = 0;
  const unsigned prompt = FlushSends();
  RearmPending();
  buffers_->Publish();
  chains_gauge_.Set(chains_in_flight_);
  return prompt;
}

// A nap only under load, and never with a send chain in flight: its linked
// sendmsgs run only when the worker enters.
bool Worker::MayNap() { return chains_in_flight_ == 0 && last_recv_batch_ >= options_.coalesce_min_batch; }

bool Worker::StopStep(bool late) {
  bool done = true;
  for (uint16_t s = 0; s < slots_->size(); ++s) {
    if (!slots_->used(s)) continue;
    Assoc& a = (*slots_)[s];
    // Associations whose sends have drained, and whose peer's messages the
    // kernel already holds have been read, end; past the deadline, all.
    if (a.live() && (late || (a.queue.queued() == 0 && !a.queue.in_flight() && ReceivedAll(a.fd.get())))) {
      BeginTeardown(a, DownReason::kStopped);
    }
    done = false;
  }
  return done;
}

bool Worker::ReceivedAll(int fd) {
  other_syscalls_.Add(1);
  return ReceiveQueueEmpty(fd);
}

void Worker::OnExit() {
  // The ring goes with the thread; the buffer memory stays until ~Worker so
  // retained messages remain readable.
  buffers_->Unregister();
}

// --- Any thread ----------------------------------------------------------------

absl::Status Worker::Adopt(Fd fd, sctp_assoc_t assoc_id, uint64_t cookie) {
  if (!fd) return absl::InvalidArgumentError("adopt: invalid fd");
  // Threads share the descriptor table: the number is all the worker needs.
  // The posted call owns it, so it is closed even if it never runs.
  return loop_->Post([this, fd = std::move(fd), assoc_id, cookie]() mutable {
    AdoptNow(std::move(fd), assoc_id, cookie);
  });
}

absl::Status Worker::Post(absl::AnyInvocable<void(Worker&)> fn) {
  return loop_->Post([this, fn = std::move(fn)]() mutable { fn(*this); });
}

WorkerStats Worker::Snapshot() const {
  WorkerStats s;
  s.totals = totals_.Snapshot();
  s.enobufs = enobufs_.Get();
  s.recv_rearms = recv_rearms_.Get();
  s.recv_errors = recv_errors_.Get();
  s.oversize_messages = oversize_.Get();
  s.reassembly_refused = reassembly_refused_.Get();
  s.reassembly_bytes = reassembly_.used.load(std::memory_order_relaxed);
  s.partials_dropped = partials_dropped_.Get();
  s.associations_adopted = adopted_.Get();
  s.associations_closed = closed_.Get();
  s.associations_detached = detached_.Get();
  s.associations_active = active_.Get();
  s.retained_buffers = retained_gauge_.Get();
  s.retain_refused = retain_refused_.Get();
  s.send_buffers_in_use = send_in_use_.Get();
  s.other_syscalls = other_syscalls_.Get();
  loop_->Stats().AddTo(&s);
  s.zc_sends = zc_sends_.Get();
  s.held_flushes = held_flushes_.Get();
  s.recv_pauses = recv_pauses_.Get();
  s.chains_in_flight = chains_gauge_.Get();
  return s;
}

bool Worker::AssocSnapshot(AssocHandle assoc, AssocStats* out) {
  Assoc* a = Lookup(assoc);
  if (a == nullptr) return false;
  *out = a->stats.Snapshot();
  return true;
}

int Worker::FdOf(AssocHandle assoc) {
  Assoc* a = Lookup(assoc);
  return a != nullptr ? a->fd.get() : -1;
}

// --- Adoption ------------------------------------------------------------------

Worker::Assoc* Worker::Lookup(AssocHandle handle) {
  if (handle.worker() != options_.index) return nullptr;
  return slots_->Find(handle.slot(), handle.generation());
}

AssocHandle Worker::HandleOf(const Assoc& a) const { return AssocHandle::Make(options_.index, a.slot, a.generation); }

// Bundling (WorkerOptions::bundle_sends) needs a big send buffer of ours and
// a big receive window at the peer; see kMinBundleSndbuf, kMinBundlePeerWindow.
// Two getsockopts; says once per worker why a socket does not bundle.
bool Worker::MayBundle(int fd) {
  other_syscalls_.Add(2);
  const int sndbuf = GetSocketBuffer(fd, SO_SNDBUF, "SO_SNDBUF").value_or(0);
  sctp_status status{};
  socklen_t len = sizeof(status);
  const uint32_t window = getsockopt(fd, IPPROTO_SCTP, SCTP_STATUS, &status, &len) == 0 ? status.sstat_rwnd : 0;
  const bool big_sndbuf = sndbuf >= WorkerOptions::kMinBundleSndbuf;
  const bool big_window = window >= WorkerOptions::kMinBundlePeerWindow;
  if (!bundle_refusal_logged_ && !(big_sndbuf && big_window)) {
    bundle_refusal_logged_ = true;
    if (!big_sndbuf) {
      Logf("worker %d: send buffer %d B is under %d B: sends on such sockets are not bundled", options_.index, sndbuf,
           WorkerOptions::kMinBundleSndbuf);
    } else {
      Logf("worker %d: peer receive window %u B is under %u B: sends to such peers are not bundled", options_.index,
           window, WorkerOptions::kMinBundlePeerWindow);
    }
  }
  return big_sndbuf && big_window;
}

void Worker::AdoptNow(Fd fd, sctp_assoc_t assoc_id, uint64_t cookie) {
  auto refuse = [&](absl::Status why) { handler_->OnAdoptFailed(*this, assoc_id, cookie, why); };  // fd closes
  if (loop_->stopping() || slots_->full()) {
    return refuse(absl::ResourceExhaustedError(absl::StrCat("worker ", options_.index, ": cannot adopt association ",
                                                            assoc_id, loop_->stopping() ? ": stopping"
                                                                                        : ": all slots in use")));
  }
  int protocol = 0;
  socklen_t len = sizeof(protocol);
  const bool sctp =
      getsockopt(fd.get(), SOL_SOCKET, SO_PROTOCOL, &protocol, &len) == 0 && protocol == IPPROTO_SCTP;
  const bool bundle = sctp && options_.bundle_sends && MayBundle(fd.get());
  // getsockopt, the fixed-file update, ConfigureSctpSocket's 8 setsockopts,
  // and the default PR-SCTP policy.
  other_syscalls_.Add(sctp ? 11 : 2);
  if (sctp) {
    if (absl::Status s = ConfigureSctpSocket(fd.get()); !s.ok()) return refuse(s);
  }
  const uint16_t slot = *slots_->Allocate();
  if (int ret = ring_->UpdateFixedFile(slot, fd.get()); ret < 0) {
    slots_->Free(slot);
    return refuse(absl::ErrnoToStatus(-ret, "io_uring_register_files_update"));
  }
  Assoc& a = (*slots_)[slot];
  a.state = Assoc::State::kActive;
  a.slot = slot;
  a.generation = slots_->generation(slot);
  a.fd = std::move(fd);
  a.sctp = sctp;
  a.bundle = bundle;
  a.default_pr = sctp ? DefaultPrFlags(a.fd.get(), 0) : 0;
  a.assoc_id = assoc_id;
  a.cookie = cookie;
  a.protocol = protocol;
  a.partial = Reassembler(options_.max_message_size, 2 * options_.buffer_size, &reassembly_);
  a.zc = ProbeRingFeatures().op_sendmsg_zc ? ZcSupport::kUnknown : ZcSupport::kNo;
  for (const auto& [proto, support] : zc_by_protocol_) {
    if (proto == protocol) a.zc = support;
  }
  a.stats.Reset();
  adopted_.Add(1);
  active_.Add(1);
  ArmRecv(a);
  handler_->OnAdopted(*this, HandleOf(a), assoc_id, cookie);
}

// --- Teardown and detach ---------------------------------------------------------

void Worker::BeginTeardown(Assoc& a, DownReason reason) {
  if (a.state == Assoc::State::kClosing) return;
  a.state = Assoc::State::kClosing;
  a.down_reason = reason;
  FailQueued(a);
  // Half a message whose association ends (not a local stop) is counted
  // dropped, as the notification path above counts it.
  if (a.partial.in_progress() && !a.partial.notification() && reason != DownReason::kStopped) {
    partials_dropped_.Add(1);
  }
  a.partial.Reset();
  // Cancel the receive and whatever sends are in flight; each reports its own
  // end (-ECANCELED or its real result) before the slot is freed.
  CancelRecv(a);
  a.queue.Cancel(*ring_, *send_pool_, a.slot, a.generation);
  MaybeFinish(a);
}

void Worker::Detach(AssocHandle assoc, absl::AnyInvocable<void(absl::StatusOr<DetachedAssociation>)> done) {
  Assoc* a = Lookup(assoc);
  if (a == nullptr || !a->live()) {
    done(absl::NotFoundError(absl::StrCat("worker ", options_.index, ": no live association to detach")));
    return;
  }
  if (a->eof_sent) {
    done(absl::FailedPreconditionError(absl::StrCat("worker ", options_.index, ": association ", a->assoc_id,
                                                    " is shutting down")));
    return;
  }
  a->state = Assoc::State::kDetaching;
  a->on_detached = std::move(done);
  a->recv_paused = false;  // the next owner applies its own
  // Half a message here would arrive in two places: read on until it is
  // whole (worker_recv.cc stops then).
  if (!a->partial.in_progress()) CancelRecv(*a);
  MaybeFinish(*a);
}

void Worker::Cancel(Assoc& a, uint64_t target) {
  ring_->PrepCancel(target, Tag{Op::kCancel, a.generation, a.slot, 0}.Pack());
}

void Worker::CancelRecv(Assoc& a) {
  if (!a.recv_armed || a.recv_cancel_sent) return;
  a.recv_cancel_sent = true;
  Cancel(a, Tag{Op::kRecv, a.generation, a.slot, 0}.Pack());
}

void Worker::MaybeFinish(Assoc& a) {
  if (a.live() || a.busy()) return;
  if (a.state == Assoc::State::kDetaching) {
    FinishDetach(a);
    return;
  }
  ring_->UpdateFixedFile(a.slot, -1);
  other_syscalls_.Add(2);  // the update and close()
  const AssocHandle handle = HandleOf(a);
  const AssocStats final_stats = a.stats.Snapshot();
  const DownReason reason = a.down_reason;
  auto on_detached = std::move(a.on_detached);
  a.fd.reset();
  FreeSlot(a);
  closed_.Add(1);
  handler_->OnAssociationDown(*this, handle, reason, final_stats);
  if (on_detached) on_detached(absl::UnavailableError("association ended while it was being detached"));
}

void Worker::FinishDetach(Assoc& a) {
  ring_->UpdateFixedFile(a.slot, -1);
  other_syscalls_.Add(1);
  DetachedAssociation d;
  d.queued = TakeQueued(a);
  d.fd = std::move(a.fd);
  d.assoc_id = a.assoc_id;
  d.cookie = a.cookie;
  d.shutdown_requested = a.shutdown_requested;
  d.stats = a.stats.Snapshot();
  auto done = std::move(a.on_detached);
  FreeSlot(a);
  detached_.Add(1);
  done(std::move(d));
}

void Worker::FreeSlot(Assoc& a) {
  a.partial = Reassembler();
  a.queue.set_poll_first(false);
  a.queue.set_held(false);
  a.want_writable = a.shutdown_requested = a.eof_sent = a.recv_paused = a.discarding = false;
  a.on_detached = nullptr;
  slots_->Free(a.slot);
  active_.Set(active_.Get() - 1);
}

// --- Fault injection (tests) -------------------------------------------------------

void Worker::InjectRecvFaultForTest(AssocHandle assoc, int res, uint32_t cqe_flags) {
  Assoc* a = Lookup(assoc);
  if (a == nullptr || ring_->fault_plan() == nullptr) return;
  ring_->fault_plan()->Plan(Op::kRecv, a->slot, res, cqe_flags);
  // End the live multishot (-ECANCELED, re-armed as usual): the re-arm is
  // the NOP that completes with the fault.
  CancelRecv(*a);
}

void Worker::InjectSendFaultForTest(AssocHandle assoc, int res) {
  if (Lookup(assoc) == nullptr || ring_->fault_plan() == nullptr) return;
  ring_->fault_plan()->Plan(Op::kSend, assoc.slot(), res, 0);
}

}  // namespace sctpdp
