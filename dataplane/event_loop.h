// EventLoop: one thread with its own io_uring, and the loop every data plane
// thread runs (a per-core Worker; the control thread's one-to-many server):
//
//   loop     tick when due, let the client submit (sends, re-arms), maybe
//            nap (coalescing), then one io_uring_enter that submits and
//            waits; every completion goes through one dispatch.
//   inbox    other threads Post closures and Mail 64-bit items; the first
//            push of a batch wakes the loop: through a MSG_RING from the
//            pusher's own ring when it runs an EventLoop (no syscall on this
//            side), else an eventfd write.
//   stop     Stop() lets the client drain (up to stop_deadline), then closes
//            the inbox, runs what was posted meanwhile and joins.
//
// The client (Worker, OneToManyServer) owns its sockets and buffers; the loop
// owns the thread, the ring and the inbox.
#ifndef SCTPDP_DATAPLANE_EVENT_LOOP_H_
#define SCTPDP_DATAPLANE_EVENT_LOOP_H_

#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "dataplane/fault_plan.h"
#include "dataplane/fd.h"
#include "dataplane/inbox.h"
#include "dataplane/ring.h"
#include "dataplane/stats.h"

namespace sctpdp {

struct LoopOptions {
  const char* name = "worker";  // for the log: "worker 3", "control 2"
  uint8_t index = 0;
  int cpu = -1;  // pin the thread to this CPU (-1: no pinning)
  unsigned sq_entries = 512;
  unsigned cq_entries = 16384;
  unsigned fixed_files = 0;
  // Completion batching: each io_uring_enter waits for `wait_batch`
  // completions or `wait_timeout`. 1: wake for every completion.
  unsigned wait_batch = 1;
  absl::Duration wait_timeout = absl::Milliseconds(1);
  // When the client says MayNap(), let completions gather this long: inside
  // io_uring_enter with a minimum timeout where the kernel has it (6.12),
  // else sleeping outside it (needs DEFER_TASKRUN: elsewhere task work would
  // cut the sleep short; then it is off, logged). 0: never.
  absl::Duration coalesce_delay = absl::ZeroDuration();
  // Coalesce by naps even where the kernel has min-timeout waits: for
  // comparing the two on one kernel (serve --coalesce-by=nap).
  bool coalesce_by_naps = false;
  absl::Duration tick_interval = absl::ZeroDuration();  // Client::OnTick period (0: on request only)
  absl::Duration stop_deadline = absl::Seconds(2);
  size_t mail_capacity = 8192;  // power of two
  std::optional<FaultPlanOptions> faults;  // tests: a seeded fault plan on the ring
};

struct LoopStats {
  uint64_t enter_calls = 0;
  uint64_t cqes = 0;
  uint64_t cq_overflows = 0;    // reaps that found the CQ overflowed (see Ring)
  uint64_t cq_dropped = 0;      // completions the kernel dropped: never expected
  uint64_t naps = 0;            // coalescing sleeps (clock_nanosleep)
  uint64_t gathers = 0;         // coalescing waits inside io_uring_enter (min timeout): no extra syscall
  uint64_t commands = 0;        // posted closures run
  uint64_t mail = 0;            // mail items taken
  uint64_t eventfd_wakes = 0;   // wake-ups read from the eventfd (one read syscall each)
  uint64_t msg_ring_wakes = 0;  // wake-ups that came as a MSG_RING CQE
  uint64_t inbox_locks = 0;     // the command lane's mutex acquisitions

  // Copies these into the stats of the loop's client (a Worker or the
  // one-to-many server); an eventfd wake-up costs a read syscall.
  void AddTo(WorkerStats* s) const {
    s->enter_calls = enter_calls;
    s->cqes = cqes;
    s->cq_overflows = cq_overflows;
    s->cq_dropped = cq_dropped;
    s->naps = naps;
    s->gathers = gathers;
    s->inbox_commands = commands;
    s->mail = mail;
    s->eventfd_wakes = eventfd_wakes;
    s->msg_ring_wakes = msg_ring_wakes;
    s->inbox_locks = inbox_locks;
    s->other_syscalls += eventfd_wakes;
  }
};

class EventLoop {
 public:
  class Client {
   public:
    virtual ~Client() = default;
    // On the loop thread once the ring exists; an error fails Create.
    virtual absl::Status Init(EventLoop& loop) = 0;
    // Every completion of the client's own submissions.
    virtual void OnCompletion(const Completion& c) = 0;
    // Mail from other threads, each sender's items in its order.
    virtual void OnMail(absl::Span<const uint64_t> items) {}
    // Before each wait: submit what is due. Returns how many completions the
    // SQEs it queued post at once, before the wait could sleep: sends on
    // sockets that answer at once, with room or EAGAIN (not POLL_FIRST ones).
    // The wait asks for that many more than it would, so the enter that
    // submits a send chain sleeps for the next event instead of returning
    // with only the chain's own completions. Counting fewer is always safe.
    virtual unsigned BeforeWait() = 0;
    // Whether a coalescing nap is worth it now.
    virtual bool MayNap() { return false; }
    virtual void OnTick(absl::Time now) {}
    // Stopping: end what can end (everything when `late`); true once done.
    virtual bool StopStep(bool late) = 0;
    // Last call on the loop thread; the ring still exists.
    virtual void OnExit() {}
  };

  // Starts the thread, which builds the ring and calls client->Init.
  static absl::StatusOr<std::unique_ptr<EventLoop>> Create(const LoopOptions& options, Client* client);
  ~EventLoop();  // Stop()s.
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // --- Any thread.
  // Runs `fn` on the loop thread, in order with other posts. FailedPrecondition
  // once stopping (`fn` is destroyed unrun).
  absl::Status Post(absl::AnyInvocable<void()> fn);
  // Hands `item` to Client::OnMail. kFull or kClosed: not taken.
  Inbox::Push Mail(uint64_t item);
  void Stop();  // idempotent
  bool OnLoopThread() const { return std::this_thread::get_id() == thread_id_; }
  LoopStats Stats() const;
  absl::Duration ThreadCpuTime() const;
  const LoopOptions& options() const { return options_; }
  // The loop running on the calling thread, or nullptr.
  static EventLoop* Current();

  // --- Loop thread.
  Ring& ring() { return *ring_; }
  // The next iteration calls OnTick, whatever the interval.
  void RequestTick() { tick_requested_ = true; }
  bool stopping() const { return stopping_; }
  // Handles completions the kernel has already posted, without entering it.
  // REQUIRES: not from inside a completion callback (OnTick is fine).
  void ProcessPostedCompletions() { ProcessCompletions(); }
  // Takes the mail already in the inbox now (Client::OnMail), without
  // waiting for the wake-up. REQUIRES: not from inside OnMail.
  void DrainMail();
  // Mail positions (Inbox::mail_reserved, mail_taken), for a drain that
  // must have taken everything pushed before some moment.
  uint64_t MailReserved() const { return inbox_.mail_reserved(); }
  uint64_t MailTaken() const { return inbox_.mail_taken(); }
  // Whether coalescing is on (coalesce_delay and DEFER_TASKRUN), and whether
  // by min-timeout waits in the kernel (6.12) rather than naps.
  bool coalescing() const { return coalesce_; }
  bool gathers_in_kernel() const { return gather_in_kernel_; }

 private:
  EventLoop(const LoopOptions& options, Client* client);
  void ThreadMain(std::promise<absl::Status>* ready);
  absl::Status Init();
  void Run();
  void MaybeTick();
  void Wait(bool gather, unsigned prompt);
  void Nap();
  void ProcessCompletions();
  void Dispatch(const Completion& c);
  void ArmWake();
  void Wake();
  void DrainInbox();
  void TakeMail();
  absl::Status Pushed(Inbox::Push result, const char* what);

  const LoopOptions options_;
  Client* const client_;
  std::thread thread_;
  std::thread::id thread_id_;
  std::unique_ptr<FaultPlan> faults_;
  std::unique_ptr<Ring> ring_;
  Fd wake_fd_;
  std::atomic<int> ring_fd_{-1};  // for other loops' MSG_RING wake-ups
  Inbox inbox_;
  bool coalesce_ = false;
  bool gather_in_kernel_ = false;  // coalescing by min-timeout waits, not naps
  bool tick_requested_ = false;
  absl::Time next_tick_ = absl::InfinitePast();
  std::atomic<bool> stop_requested_{false};
  bool stopping_ = false;
  absl::Time stop_deadline_;
  std::mutex stop_mu_;
  bool joined_ = false;  // guarded by stop_mu_

  // Stats, written by the loop thread only.
  Counter cqes_, naps_, gathers_, commands_, mail_, eventfd_wakes_, msg_ring_wakes_, enter_calls_, cq_overflows_,
      cq_dropped_;
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_EVENT_LOOP_H_
