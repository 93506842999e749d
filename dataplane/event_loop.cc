#include "dataplane/event_loop.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "dataplane/log.h"
#include "dataplane/user_data.h"

namespace sctpdp {
namespace {

thread_local EventLoop* current_loop = nullptr;

constexpr size_t kReapBatch = 256;
constexpr size_t kMailBatch = 256;

}  // namespace

EventLoop::EventLoop(const LoopOptions& options, Client* client)
    : options_(options), client_(client), inbox_(options.mail_capacity) {}

EventLoop* EventLoop::Current() { return current_loop; }

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create(const LoopOptions& options, Client* client) {
  if (client == nullptr) return absl::InvalidArgumentError("event loop: null client");
  if (options.mail_capacity < 2 || (options.mail_capacity & (options.mail_capacity - 1)) != 0) {
    return absl::InvalidArgumentError("event loop: mail_capacity must be a power of two >= 2");
  }
  std::unique_ptr<EventLoop> loop(new EventLoop(options, client));
  std::promise<absl::Status> ready;
  std::future<absl::Status> result = ready.get_future();
  loop->thread_ = std::thread(&EventLoop::ThreadMain, loop.get(), &ready);
  absl::Status s = result.get();
  if (!s.ok()) {
    loop->thread_.join();
    loop->joined_ = true;
    return s;
  }
  return loop;
}

EventLoop::~EventLoop() { Stop(); }

void EventLoop::ThreadMain(std::promise<absl::Status>* ready) {
  thread_id_ = std::this_thread::get_id();
  current_loop = this;
  absl::Status s = Init();
  if (s.ok()) s = client_->Init(*this);
  ready->set_value(s);
  if (!s.ok()) {
    ring_.reset();
    return;
  }
  Run();
  // What was posted while stopping runs now (an adoption closes its fd);
  // after the close nothing more is accepted.
  DrainInbox();
  inbox_.Close();
  DrainInbox();
  client_->OnExit();
  ring_.reset();
  current_loop = nullptr;
}

absl::Status EventLoop::Init() {
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
                            .fixed_files = options_.fixed_files,
                            .single_issuer = true});
  if (!ring.ok()) return ring.status();
  ring_ = std::move(*ring);
  if (options_.faults) {
    faults_ = std::make_unique<FaultPlan>(*options_.faults);
    ring_->set_fault_plan(faults_.get());
  }
  wake_fd_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_fd_) return absl::ErrnoToStatus(errno, "eventfd");
  ring_fd_.store(ring_->fd(), std::memory_order_release);
  ArmWake();
  coalesce_ = options_.coalesce_delay > absl::ZeroDuration() && ring_->defers_taskrun();
  gather_in_kernel_ = coalesce_ && ring_->min_timeout() && !options_.coalesce_by_naps;
  return absl::OkStatus();
}

void EventLoop::Run() {
  while (true) {
    if (stop_requested_.load(std::memory_order_acquire) && !stopping_) {
      stopping_ = true;
      stop_deadline_ = absl::Now() + options_.stop_deadline;
    }
    if (stopping_ && client_->StopStep(absl::Now() >= stop_deadline_)) return;
    MaybeTick();
    const unsigned prompt = client_->BeforeWait();
    const bool gather = coalesce_ && !stopping_ && client_->MayNap();
    if (gather && !gather_in_kernel_) Nap();
    Wait(gather && gather_in_kernel_, prompt);
    ProcessCompletions();
  }
}

void EventLoop::MaybeTick() {
  const bool periodic = options_.tick_interval > absl::ZeroDuration();
  if (!periodic && !tick_requested_) return;
  const absl::Time now = absl::Now();
  if (!tick_requested_ && now < next_tick_) return;
  tick_requested_ = false;
  if (periodic) next_tick_ = now + options_.tick_interval;
  client_->OnTick(now);
}

// Sleeps until a completion (the wake eventfd's poll is one), or a batch of
// them (wait_batch, bounded by wait_timeout). A due tick bounds the wait;
// stopping, the drain deadline is looked at every 10 ms. `gather`: the
// coalescing wait in the kernel (min-timeout, 6.12): a reap batch, or what
// came within coalesce_delay. `prompt`: completions the submitted SQEs post
// at once (Client::BeforeWait), asked for on top; in case one does not come
// at once, the wait is then bounded by wait_timeout.
void EventLoop::Wait(bool gather, unsigned prompt) {
  int64_t limit_ns = 0;
  if (tick_requested_) {
    limit_ns = 1;
  } else if (options_.tick_interval > absl::ZeroDuration()) {
    limit_ns = std::max<int64_t>(1, absl::ToInt64Nanoseconds(next_tick_ - absl::Now()));
  }
  int ret;
  if (gather) {
    ret = ring_->SubmitAndGather(kReapBatch, absl::ToInt64Nanoseconds(options_.coalesce_delay),
                                 static_cast<uint64_t>(limit_ns));
    gathers_.Add(1);
  } else if (stopping_) {
    ret = ring_->SubmitAndWait(1, 10'000'000);
  } else if (options_.wait_batch > 1 || prompt > 0) {
    const int64_t ns = absl::ToInt64Nanoseconds(options_.wait_timeout);
    ret = ring_->SubmitAndWait(options_.wait_batch + prompt, limit_ns > 0 ? std::min(ns, limit_ns) : ns);
  } else {
    ret = ring_->SubmitAndWait(1, static_cast<uint64_t>(limit_ns));
  }
  if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EBUSY && ret != -EAGAIN) {
    Logf("%s %d: io_uring_enter: %s", options_.name, options_.index, std::strerror(-ret));
  }
}

// Under load: let completions gather without waking us (see
// LoopOptions::coalesce_delay). What is queued goes to the kernel first, so
// sends do not wait for the nap.
void EventLoop::Nap() {
  if (ring_->SqReady() > 0) ring_->Submit();
  const timespec ts = absl::ToTimespec(options_.coalesce_delay);
  clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);
  naps_.Add(1);
}

void EventLoop::ProcessCompletions() {
  // Handlers may queue SQEs but never reap; each Reap copies a batch out and
  // releases the CQ head once for it.
  Completion batch[kReapBatch];
  while (true) {
    const unsigned n = ring_->Reap(absl::MakeSpan(batch));
    cqes_.Add(n);
    for (unsigned i = 0; i < n; ++i) Dispatch(batch[i]);
    if (n < kReapBatch) break;
  }
  enter_calls_.Set(ring_->enter_calls());
  cq_overflows_.Set(ring_->cq_overflows());
  cq_dropped_.Set(ring_->cq_dropped());
}

// The one dispatch: every CQE of this ring comes through here.
void EventLoop::Dispatch(const Completion& c) {
  switch (Tag::Unpack(c.user_data).op) {
    case Op::kWake: {
      uint64_t count;
      (void)!read(wake_fd_.get(), &count, sizeof(count));
      eventfd_wakes_.Add(1);
      if (!c.more()) ArmWake();
      DrainInbox();
      return;
    }
    case Op::kMsgRing:
      msg_ring_wakes_.Add(1);
      DrainInbox();
      return;
    case Op::kMsgRingSent:
      // Our MSG_RING to another loop failed: that loop's inbox waits for
      // its next wake-up, so say it.
      if (c.res < 0) Logf("%s %d: MSG_RING wake-up failed: %s", options_.name, options_.index, std::strerror(-c.res));
      return;
    case Op::kCancel:
      // 0, -ENOENT (already done) and -EALREADY (in progress) are all fine:
      // the cancelled request reports its own end.
      return;
    case Op::kRecv:
    case Op::kSend:
    case Op::kSendZc:
    case Op::kNone:
      client_->OnCompletion(c);
      return;
  }
  client_->OnCompletion(c);
}

// --- The inbox ---------------------------------------------------------------

void EventLoop::ArmWake() { ring_->PrepPollMultishot(wake_fd_.get(), POLLIN, Tag{Op::kWake, 0, 0, 0}.Pack()); }

void EventLoop::Wake() {
  EventLoop* from = current_loop;
  const int target = ring_fd_.load(std::memory_order_acquire);
  if (from != nullptr && from != this && target >= 0 && ProbeRingFeatures().op_msg_ring) {
    // Ring to ring: a CQE lands in this loop's ring directly.
    from->ring().PrepMsgRing(target, Tag{Op::kMsgRing, 0, 0, 0}.Pack(), Tag{Op::kMsgRingSent, 0, 0, 0}.Pack());
    from->ring().Submit();
    return;
  }
  uint64_t one = 1;
  (void)!write(wake_fd_.get(), &one, sizeof(one));
}

absl::Status EventLoop::Pushed(Inbox::Push result, const char* what) {
  switch (result) {
    case Inbox::Push::kWake:
      Wake();
      [[fallthrough]];
    case Inbox::Push::kQueued:
      return absl::OkStatus();
    case Inbox::Push::kFull:
      return absl::ResourceExhaustedError(absl::StrCat(options_.name, " ", options_.index, ": ", what, " full"));
    case Inbox::Push::kClosed:
      break;
  }
  return absl::FailedPreconditionError(absl::StrCat(options_.name, " ", options_.index, " has stopped"));
}

absl::Status EventLoop::Post(absl::AnyInvocable<void()> fn) {
  if (stop_requested_.load(std::memory_order_acquire)) {
    return absl::FailedPreconditionError(absl::StrCat(options_.name, " ", options_.index, " is stopping"));
  }
  return Pushed(inbox_.PushCommand(std::move(fn)), "inbox");
}

Inbox::Push EventLoop::Mail(uint64_t item) {
  const Inbox::Push r = inbox_.PushMail(item);
  if (r == Inbox::Push::kWake) Wake();
  return r;
}

void EventLoop::DrainInbox() {
  inbox_.BeginDrain();
  std::vector<absl::AnyInvocable<void()>> commands;
  inbox_.TakeCommands(&commands);
  commands_.Add(commands.size());
  for (auto& fn : commands) fn();
  TakeMail();
}

void EventLoop::DrainMail() { TakeMail(); }

void EventLoop::TakeMail() {
  uint64_t items[kMailBatch];
  while (size_t n = inbox_.TakeMail(items, kMailBatch)) {
    mail_.Add(n);
    client_->OnMail(absl::MakeConstSpan(items, n));
    if (n < kMailBatch) break;
  }
}

// --- Stop and stats ----------------------------------------------------------

void EventLoop::Stop() {
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (joined_) return;
  stop_requested_.store(true, std::memory_order_release);
  uint64_t one = 1;
  (void)!write(wake_fd_.get(), &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  joined_ = true;
}

LoopStats EventLoop::Stats() const {
  LoopStats s;
  s.enter_calls = enter_calls_.Get();
  s.cqes = cqes_.Get();
  s.cq_overflows = cq_overflows_.Get();
  s.cq_dropped = cq_dropped_.Get();
  s.naps = naps_.Get();
  s.gathers = gathers_.Get();
  s.commands = commands_.Get();
  s.mail = mail_.Get();
  s.eventfd_wakes = eventfd_wakes_.Get();
  s.msg_ring_wakes = msg_ring_wakes_.Get();
  s.inbox_locks = inbox_.lock_acquisitions();
  return s;
}

absl::Duration EventLoop::ThreadCpuTime() const {
  clockid_t clock;
  timespec ts{};
  if (pthread_getcpuclockid(const_cast<std::thread&>(thread_).native_handle(), &clock) != 0 ||
      clock_gettime(clock, &ts) != 0) {
    return absl::ZeroDuration();
  }
  return absl::DurationFromTimespec(ts);
}

}  // namespace sctpdp
