// Worker lifecycle, the event loop, the one completion dispatch, the
// cross-thread inbox, adoption and teardown. Receive is in worker_recv.cc,
// send in worker_send.cc.
#include "dataplane/worker.h"

#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <time.h>

#include <cerrno>
#include <cstring>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/str_cat.h"
#include "dataplane/log.h"
#include "dataplane/sctp_socket.h"
#include "dataplane/worker_assoc.h"

namespace sctpdp {
namespace {

constexpr size_t kInboxLimit = 65536;

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
  if (o.send_queue_limit == 0) return bad("send_queue_limit must be > 0");
  if (o.sq_entries < 8 || o.cq_entries < o.sq_entries) return bad("need 8 <= sq_entries <= cq_entries");
  if (o.wait_batch == 0 || o.wait_batch > o.cq_entries) return bad("wait_batch must be 1..cq_entries");
  if (o.wait_batch > 1 && o.wait_timeout <= absl::ZeroDuration()) {
    return bad("wait_batch > 1 needs a positive wait_timeout");
  }
  if (o.coalesce_delay < absl::ZeroDuration() || o.coalesce_delay > absl::Milliseconds(100)) {
    return bad("coalesce_delay must be 0..100ms");
  }
  if (o.coalesce_min_batch == 0) return bad("coalesce_min_batch must be > 0");
  return absl::OkStatus();
}

}  // namespace

const char* DownReasonName(DownReason reason) {
  switch (reason) {
    case DownReason::kShutdown: return "shutdown";
    case DownReason::kCommLost: return "comm_lost";
    case DownReason::kPeerClosed: return "peer_closed";
    case DownReason::kError: return "error";
    case DownReason::kOversize: return "oversize";
    case DownReason::kAborted: return "aborted";
    case DownReason::kStopped: return "stopped";
  }
  return "unknown";
}

const char* SendResultName(SendResult result) {
  switch (result) {
    case SendResult::kOk: return "ok";
    case SendResult::kQueueFull: return "queue_full";
    case SendResult::kNoBuffers: return "no_buffers";
    case SendResult::kTooBig: return "too_big";
    case SendResult::kNoAssociation: return "no_association";
    case SendResult::kClosing: return "closing";
    case SendResult::kBadStream: return "bad_stream";
  }
  return "unknown";
}

Worker::Worker(const WorkerOptions& options, WorkerHandler* handler)
    : options_(options), handler_(handler) {}

absl::StatusOr<std::unique_ptr<Worker>> Worker::Create(const WorkerOptions& options,
                                                       WorkerHandler* handler) {
  if (handler == nullptr) return absl::InvalidArgumentError("worker: null handler");
  if (auto s = ValidateOptions(options); !s.ok()) return s;
  std::unique_ptr<Worker> w(new Worker(options, handler));
  std::promise<absl::Status> ready;
  std::future<absl::Status> result = ready.get_future();
  w->thread_ = std::thread(&Worker::ThreadMain, w.get(), &ready);
  absl::Status s = result.get();
  if (!s.ok()) {
    w->thread_.join();
    w->stopped_ = true;
    return s;
  }
  return w;
}

Worker::~Worker() { Stop(); }

void Worker::ThreadMain(std::promise<absl::Status>* ready) {
  thread_id_ = std::this_thread::get_id();
  absl::Status s = Init();
  ready->set_value(s);
  if (!s.ok()) return;
  Loop();
  // Posts that raced with Stop run now (adoptions close their fds); after
  // this no Post is accepted.
  DrainInbox();
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    inbox_closed_ = true;
  }
  DrainInbox();
  // The ring goes with the thread that owns it; the buffer memory stays until
  // ~Worker so retained messages remain readable.
  buffers_->Unregister();
  ring_.reset();
}

absl::Status Worker::Init() {
  if (options_.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(options_.cpu, &set);
    if (int err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set); err != 0) {
      return absl::ErrnoToStatus(err, absl::StrCat("pthread_setaffinity_np(cpu ", options_.cpu, ")"));
    }
  }
  auto ring = Ring::Create({.sq_entries = options_.sq_entries,
                            .cq_entries = options_.cq_entries,
                            .fixed_files = options_.max_associations,
                            .single_issuer = true});
  if (!ring.ok()) return ring.status();
  ring_ = std::move(*ring);
  auto buffers = BufferRing::Create(ring_->raw(), 0, options_.buffer_count, options_.buffer_size);
  if (!buffers.ok()) return buffers.status();
  buffers_ = std::move(*buffers);
  auto pool = SendPool::Create(options_.send_buffer_count, options_.send_buffer_size);
  if (!pool.ok()) return pool.status();
  send_pool_ = std::move(*pool);
  wake_fd_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_fd_) return absl::ErrnoToStatus(errno, "eventfd");

  std::memset(&recv_template_, 0, sizeof(recv_template_));
  recv_template_.msg_namelen = 0;
  recv_template_.msg_controllen = kRecvControlBytes;
  slot_storage_.reset(new Assoc[options_.max_associations]);
  slots_ = absl::MakeSpan(slot_storage_.get(), options_.max_associations);
  free_slots_.reserve(options_.max_associations);
  for (unsigned i = options_.max_associations; i-- > 0;) {
    slots_[i].slot = static_cast<uint16_t>(i);
    slots_[i].generation = 1;
    slots_[i].chain.reserve(options_.send_batch);
    free_slots_.push_back(static_cast<uint16_t>(i));
  }
  rearm_.reserve(options_.max_associations);
  send_dirty_.reserve(options_.max_associations);
  flushing_.reserve(options_.max_associations);
  ring_fd_for_wake_ = ring_->fd();
  ArmWake();
  static std::once_flag features_logged;
  std::call_once(features_logged, [] { Logf("io_uring features: %s", ProbeRingFeatures().ToString()); });
  coalesce_ = options_.coalesce_delay > absl::ZeroDuration() &&
              (ring_->setup_flags() & IORING_SETUP_DEFER_TASKRUN) != 0;
  Logf("worker %d: cpu %d, ring %s, %u x %u B receive buffers, %u x %u B send buffers, %u slots, "
       "sends %s, coalescing %s",
       options_.index, options_.cpu, ring_->SetupFlagsString(), options_.buffer_count,
       options_.buffer_size, options_.send_buffer_count, options_.send_buffer_size,
       options_.max_associations, options_.bundle_sends ? "bundled (MSG_MORE within a chain)" : "one packet each",
       coalesce_ ? absl::StrCat(absl::FormatDuration(options_.coalesce_delay), " from batches of ",
                                options_.coalesce_min_batch).c_str()
       : options_.coalesce_delay > absl::ZeroDuration() ? "off (needs DEFER_TASKRUN)"
                                                        : "off");
  return absl::OkStatus();
}

void Worker::Loop() {
  while (true) {
    if (stop_requested_.load(std::memory_order_acquire) && !stopping_) {
      stopping_ = true;
      stop_deadline_ = absl::Now() + options_.stop_deadline;
    }
    if (stopping_) {
      // Associations whose sends have drained (or all, past the deadline) end.
      const bool late = absl::Now() >= stop_deadline_;
      for (Assoc& a : slots_) {
        if (a.live() && (late || (a.queued == 0 && a.chain.empty()))) BeginTeardown(a, DownReason::kStopped);
      }
      if (StopComplete()) return;
    }
    if (options_.tick_interval > absl::ZeroDuration()) {
      const absl::Time now = absl::Now();
      if (now >= next_tick_ || next_tick_ == absl::InfiniteFuture()) {
        next_tick_ = now + options_.tick_interval;
        handler_->OnTick(*this, now);
      }
    }
    FlushSends();
    RearmPending();
    buffers_->Publish();
    if (coalesce_ && !stopping_ && chains_in_flight_ == 0 && last_recv_batch_ >= options_.coalesce_min_batch) Nap();
    // Sleep until a completion (the wake eventfd is one), or a batch of them
    // (wait_batch, bounded by wait_timeout). Stopping: check the drain
    // deadline every 10 ms.
    int ret;
    const int64_t tick_ns = options_.tick_interval > absl::ZeroDuration()
                                ? std::max<int64_t>(1, absl::ToInt64Nanoseconds(next_tick_ - absl::Now()))
                                : 0;
    if (stopping_) {
      ret = ring_->SubmitAndWait(1, 10'000'000);
    } else if (options_.wait_batch > 1) {
      int64_t ns = absl::ToInt64Nanoseconds(options_.wait_timeout);
      ret = ring_->SubmitAndWait(options_.wait_batch, tick_ns > 0 ? std::min(ns, tick_ns) : ns);
    } else {
      ret = ring_->SubmitAndWait(1, tick_ns);
    }
    enter_calls_.Set(ring_->enter_calls());
    if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EBUSY && ret != -EAGAIN) {
      Logf("worker %d: io_uring_enter: %s", options_.index, std::strerror(-ret));
    }
    ProcessCompletions();
  }
}

// Under load: let completions gather without waking us (see
// WorkerOptions::coalesce_delay). What we queued goes to the kernel first, so
// sends do not wait for the nap.
void Worker::Nap() {
  if (io_uring_sq_ready(ring_->raw()) > 0) ring_->Submit();
  const timespec ts = absl::ToTimespec(options_.coalesce_delay);
  clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);
  naps_.Add(1);
}

bool Worker::StopComplete() {
  for (const Assoc& a : slots_) {
    if (a.state != Assoc::State::kFree) return false;
  }
  return true;
}

void Worker::ProcessCompletions() {
  io_uring* ring = ring_->raw();
  // Handlers may queue SQEs (sends, re-arms) but never reap. The CQ head is
  // released once for the whole batch (one store-release, not one per CQE);
  // the loop re-reads the tail, so CQEs posted meanwhile are handled too.
  unsigned head;
  unsigned seen = 0;
  recv_batch_ = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(ring, head, cqe) {
    ++seen;
    Dispatch(cqe->user_data, cqe->res, cqe->flags);
  }
  io_uring_cq_advance(ring, seen);
  last_recv_batch_ = recv_batch_;
  cqes_.Add(seen);
}

// The one dispatch: every CQE of the worker's ring comes through here.
void Worker::Dispatch(uint64_t user_data, int res, uint32_t flags) {
  if (!injections_.empty()) ApplyInjection(user_data, &res, &flags);
  const Tag tag = Tag::Unpack(user_data);
  switch (tag.op) {
    case Op::kRecv:
    case Op::kSend:
    case Op::kSendZc: {
      Assoc* a = tag.slot < slots_.size() ? &slots_[tag.slot] : nullptr;
      if (a == nullptr || a->generation != tag.generation || a->state == Assoc::State::kFree) {
        // Cannot happen while slots are freed only when idle; never leak a buffer.
        Logf("worker %d: stale completion op %d slot %d res %d", options_.index, int(tag.op), tag.slot, res);
        if (flags & IORING_CQE_F_BUFFER) {
          uint16_t bid = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
          buffers_->Take(bid);
          buffers_->Recycle(bid);
        }
        return;
      }
      if (tag.op == Op::kRecv) {
        ++recv_batch_;
        OnRecv(*a, res, flags);
      } else {
        OnSendComplete(*a, tag.aux, res, flags, tag.op == Op::kSendZc);
      }
      return;
    }
    case Op::kWake: {
      uint64_t count;
      other_syscalls_.Add(1);
      (void)!read(wake_fd_.get(), &count, sizeof(count));
      DrainInbox();
      if (!(flags & IORING_CQE_F_MORE)) ArmWake();
      return;
    }
    case Op::kMsgRing:
      // Either a wake-up from another ring, or (res < 0) our own MSG_RING to
      // another worker that failed: that worker's inbox waits for its next
      // wake-up.
      if (res < 0) Logf("worker %d: MSG_RING wake-up failed: %s", options_.index, std::strerror(-res));
      DrainInbox();
      return;
    case Op::kCancel:
      // 0, -ENOENT (already done) and -EALREADY (in progress) are all fine:
      // the cancelled request reports its own end.
      return;
    case Op::kNone:
    case Op::kClose:
      break;
  }
  Logf("worker %d: unexpected completion op %d res %d", options_.index, int(tag.op), res);
}

// --- Cross-thread inbox ---------------------------------------------------

void Worker::ArmWake() {
  io_uring_sqe* sqe = ring_->GetSqe();
  io_uring_prep_poll_multishot(sqe, wake_fd_.get(), POLLIN);
  sqe->user_data = Tag{Op::kWake, 0, 0, 0}.Pack();
}

void Worker::Wake(Ring* via, uint64_t via_user_data) {
  // One wake-up per batch of posts: the worker clears the flag before it
  // drains, so a post after that wakes it again.
  if (wake_pending_.exchange(true, std::memory_order_acq_rel)) return;
  if (via != nullptr && ProbeRingFeatures().op_msg_ring) {
    // Ring to ring: a CQE lands in the worker's ring directly.
    io_uring_sqe* sqe = via->GetSqe();
    PrepareMsgRingWake(sqe);
    sqe->user_data = via_user_data;
    via->SubmitAndWait(0, 0);
    return;
  }
  uint64_t one = 1;
  (void)!write(wake_fd_.get(), &one, sizeof(one));
}

void Worker::PrepareMsgRingWake(io_uring_sqe* sqe) const {
  io_uring_prep_rw(IORING_OP_MSG_RING, sqe, ring_fd_for_wake_, nullptr, 0,
                   Tag{Op::kMsgRing, 0, 0, 0}.Pack());
}

absl::Status Worker::Post(std::function<void(Worker&)> fn, Ring* via, uint64_t via_user_data) {
  if (stop_requested_.load(std::memory_order_acquire)) {
    return absl::FailedPreconditionError(absl::StrCat("worker ", options_.index, " is stopping"));
  }
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    if (inbox_closed_) return absl::FailedPreconditionError(absl::StrCat("worker ", options_.index, " has stopped"));
    if (inbox_.size() >= kInboxLimit) {
      return absl::ResourceExhaustedError(absl::StrCat("worker ", options_.index, " inbox full"));
    }
    inbox_.push_back(std::move(fn));
  }
  Wake(via, via_user_data);
  return absl::OkStatus();
}

void Worker::DrainInbox() {
  wake_pending_.store(false, std::memory_order_release);
  std::vector<std::function<void(Worker&)>> batch;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    batch.swap(inbox_);
  }
  inbox_commands_.Add(batch.size());
  for (auto& fn : batch) fn(*this);
}

absl::Status Worker::Adopt(Fd fd, sctp_assoc_t assoc_id, uint64_t cookie, Ring* via,
                           uint64_t via_user_data, SocketKind kind) {
  if (!fd) return absl::InvalidArgumentError("adopt: invalid fd");
  // Threads share the descriptor table: the number is all the worker needs.
  // The posted call owns it, so it is closed even if it never runs.
  auto owned = std::make_shared<Fd>(std::move(fd));
  return Post([owned, assoc_id, cookie, kind](Worker& w) { w.AdoptNow(std::move(*owned), assoc_id, cookie, kind); },
              via, via_user_data);
}

void Worker::Stop() {
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (stopped_) return;
  stop_requested_.store(true, std::memory_order_release);
  wake_pending_.store(false, std::memory_order_release);
  Wake(nullptr, 0);
  if (thread_.joinable()) thread_.join();
  stopped_ = true;
}

WorkerStats Worker::Snapshot() const {
  WorkerStats s;
  s.totals = totals_.Snapshot();
  s.enter_calls = enter_calls_.Get();
  s.cqes = cqes_.Get();
  s.enobufs = enobufs_.Get();
  s.recv_rearms = recv_rearms_.Get();
  s.recv_errors = recv_errors_.Get();
  s.oversize_messages = oversize_.Get();
  s.associations_adopted = adopted_.Get();
  s.associations_closed = closed_.Get();
  s.associations_active = active_.Get();
  s.retained_buffers = retained_gauge_.Get();
  s.send_buffers_in_use = send_in_use_.Get();
  s.inbox_commands = inbox_commands_.Get();
  s.other_syscalls = other_syscalls_.Get();
  s.zc_sends = zc_sends_.Get();
  s.naps = naps_.Get();
  s.held_flushes = held_flushes_.Get();
  s.recv_pauses = recv_pauses_.Get();
  return s;
}

absl::Duration Worker::ThreadCpuTime() const {
  clockid_t clock;
  timespec ts{};
  if (pthread_getcpuclockid(const_cast<std::thread&>(thread_).native_handle(), &clock) != 0 ||
      clock_gettime(clock, &ts) != 0) {
    return absl::ZeroDuration();
  }
  return absl::DurationFromTimespec(ts);
}

bool Worker::AssocSnapshot(AssocHandle assoc, AssocStats* out) {
  Assoc* a = Lookup(assoc);
  if (a == nullptr) return false;
  *out = a->stats.Snapshot();
  return true;
}

// --- Adoption and teardown ------------------------------------------------

Worker::Assoc* Worker::Lookup(AssocHandle handle) {
  if (handle.worker() != options_.index || handle.slot() >= slots_.size()) return nullptr;
  Assoc& a = slots_[handle.slot()];
  if (a.state == Assoc::State::kFree || a.generation != handle.generation()) return nullptr;
  return &a;
}

int Worker::FdOf(AssocHandle socket) {
  Assoc* a = Lookup(socket);
  return a == nullptr ? -1 : a->fd.get();
}

AssocHandle Worker::HandleOf(const Assoc& a) const {
  return AssocHandle::Make(options_.index, a.slot, a.generation);
}

namespace {

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
  if (!big_sndbuf && !bundle_refusal_logged_) {
    bundle_refusal_logged_ = true;
    Logf("worker %d: send buffer %d B is under %d B: sends on such sockets are not bundled", options_.index, sndbuf,
         WorkerOptions::kMinBundleSndbuf);
  } else if (big_sndbuf && !big_window && !bundle_refusal_logged_) {
    bundle_refusal_logged_ = true;
    Logf("worker %d: peer receive window %u B is under %u B: sends to such peers are not bundled", options_.index,
         window, WorkerOptions::kMinBundlePeerWindow);
  }
  return big_sndbuf && big_window;
}

void Worker::AdoptNow(Fd fd, sctp_assoc_t assoc_id, uint64_t cookie, SocketKind kind) {
  if (stopping_ || free_slots_.empty()) {
    handler_->OnAdoptFailed(*this, assoc_id, cookie,
                            absl::ResourceExhaustedError(absl::StrCat(
                                "worker ", options_.index, ": cannot adopt association ", assoc_id,
                                stopping_ ? ": stopping" : ": all max_associations slots in use")));
    return;  // fd closes
  }
  int protocol = 0;
  socklen_t len = sizeof(protocol);
  const bool sctp = getsockopt(fd.get(), SOL_SOCKET, SO_PROTOCOL, &protocol, &len) == 0 &&
                    protocol == IPPROTO_SCTP;
  const bool bundle = sctp && kind == SocketKind::kAssociation && options_.bundle_sends && MayBundle(fd.get());
  // getsockopt, the fixed-file update, and ConfigureSctpSocket's 8 setsockopts.
  other_syscalls_.Add(sctp ? 10 : 2);
  if (sctp) {
    if (absl::Status s = ConfigureSctpSocket(fd.get()); !s.ok()) {
      handler_->OnAdoptFailed(*this, assoc_id, cookie, s);
      return;
    }
  }
  const uint16_t slot = free_slots_.back();
  int raw = fd.get();
  int ret = io_uring_register_files_update(ring_->raw(), slot, &raw, 1);
  if (ret != 1) {
    handler_->OnAdoptFailed(*this, assoc_id, cookie,
                            absl::ErrnoToStatus(ret < 0 ? -ret : EIO, "io_uring_register_files_update"));
    return;
  }
  free_slots_.pop_back();
  Assoc& a = slots_[slot];
  a.state = Assoc::State::kActive;
  a.fd = std::move(fd);
  a.sctp = sctp;
  a.bundle = bundle;
  a.assoc_id = assoc_id;
  a.cookie = cookie;
  a.protocol = protocol;
  a.kind = sctp ? kind : SocketKind::kAssociation;
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

void Worker::BeginTeardown(Assoc& a, DownReason reason) {
  if (a.state != Assoc::State::kActive) return;
  a.state = Assoc::State::kClosing;
  a.down_reason = reason;
  FailQueued(a);
  a.partial_len = 0;
  // Cancel the receive and whatever sends are in flight; each reports its own
  // end (-ECANCELED or its real result) before the slot is freed.
  CancelRecv(a);
  CancelChain(a);
  MaybeFinishTeardown(a);
}

void Worker::Cancel(Assoc& a, uint64_t target) {
  io_uring_sqe* sqe = ring_->GetSqe();
  io_uring_prep_cancel64(sqe, target, 0);
  sqe->user_data = Tag{Op::kCancel, a.generation, a.slot, 0}.Pack();
}

void Worker::CancelRecv(Assoc& a) {
  if (a.recv_armed) Cancel(a, Tag{Op::kRecv, a.generation, a.slot, 0}.Pack());
}

void Worker::CancelChain(Assoc& a) {
  for (uint32_t id : a.chain) {
    const SendDesc& d = send_pool_->desc(id);
    if (!d.result_in) Cancel(a, Tag{d.zc ? Op::kSendZc : Op::kSend, a.generation, a.slot, id}.Pack());
  }
}

void Worker::MaybeFinishTeardown(Assoc& a) {
  if (a.state != Assoc::State::kClosing || a.busy()) return;
  int none = -1;
  io_uring_register_files_update(ring_->raw(), a.slot, &none, 1);
  other_syscalls_.Add(2);  // the update and close()
  const AssocHandle handle = HandleOf(a);
  const AssocStats final_stats = a.stats.Snapshot();
  const DownReason reason = a.down_reason;
  a.fd.reset();
  a.partial.reset();
  a.partial_len = a.partial_cap = 0;
  a.state = Assoc::State::kFree;
  a.poll_first = a.held = a.want_writable = a.shutdown_requested = a.eof_sent = a.recv_paused = false;
  a.discarding = false;
  a.generation = static_cast<uint16_t>(a.generation + 1 == 0 ? 1 : a.generation + 1);
  free_slots_.push_back(a.slot);
  closed_.Add(1);
  active_.Set(active_.Get() - 1);
  handler_->OnAssociationDown(*this, handle, reason, final_stats);
}

// --- Fault injection (tests) ----------------------------------------------

void Worker::InjectRecvFaultForTest(AssocHandle assoc, int res, uint32_t cqe_flags) {
  Assoc* a = Lookup(assoc);
  if (a == nullptr) return;
  faults_.push_back(Fault{a->slot, Op::kRecv, res, cqe_flags});
  // End the live multishot (-ECANCELED, re-armed as usual): the re-arm is
  // the NOP that completes with the fault.
  CancelRecv(*a);
}

void Worker::InjectSendFaultForTest(AssocHandle assoc, int res) {
  faults_.push_back(Fault{assoc.slot(), Op::kSend, res, 0});
}

bool Worker::TakeFault(uint16_t slot, Op op, io_uring_sqe* sqe, uint64_t user_data) {
  if (faults_.empty()) return false;
  for (size_t i = 0; i < faults_.size(); ++i) {
    if (faults_[i].slot != slot || faults_[i].op != op) continue;
    io_uring_prep_nop(sqe);
    sqe->user_data = user_data;
    injections_.push_back({user_data, faults_[i]});
    faults_.erase(faults_.begin() + i);
    return true;
  }
  return false;
}

bool Worker::HasFault(uint16_t slot, Op op) const {
  for (const Fault& f : faults_) {
    if (f.slot == slot && f.op == op) return true;
  }
  return false;
}

void Worker::ApplyInjection(uint64_t user_data, int* res, uint32_t* flags) {
  for (size_t i = 0; i < injections_.size(); ++i) {
    if (injections_[i].first != user_data) continue;
    *res = injections_[i].second.res;
    *flags = injections_[i].second.flags;
    injections_.erase(injections_.begin() + i);
    return;
  }
}

}  // namespace sctpdp
