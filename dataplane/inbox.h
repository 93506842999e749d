// Inbox: how other threads hand work to an event loop's thread.
//
//   mail      64-bit items (the router's parcels: one cross-thread send each),
//             in a bounded lock-free queue: the per-message lane.
//   commands  closures (adoptions, control calls): rare, behind a mutex whose
//             acquisitions are counted.
//
// One wake-up per batch: the first push after the owner began draining says
// kWake and the pusher wakes the owner (EventLoop does it, with an eventfd
// write or a MSG_RING); later pushes see the wake pending and only enqueue.
#ifndef SCTPDP_DATAPLANE_INBOX_H_
#define SCTPDP_DATAPLANE_INBOX_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "dataplane/mpmc_queue.h"

namespace sctpdp {

class Inbox {
 public:
  // REQUIRES: mail_capacity is a power of two >= 2.
  explicit Inbox(size_t mail_capacity) : mail_(mail_capacity) {}
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  enum class Push : uint8_t {
    kQueued,  // in; a wake-up is already on its way
    kWake,    // in; the caller must wake the owner
    kFull,    // mail only: not in
    kClosed,  // the owner has stopped: not in (a command is destroyed unrun)
  };

  // --- Any thread.
  Push PushMail(uint64_t item);
  Push PushCommand(absl::AnyInvocable<void()> command);
  // Mutex acquisitions of the command lane so far.
  uint64_t lock_acquisitions() const { return lock_acquisitions_.load(std::memory_order_relaxed); }
  size_t mail_capacity() const { return mail_.capacity(); }

  // --- Owner thread.
  // Before taking: pushes from now on ask for a new wake-up.
  void BeginDrain();
  void TakeCommands(std::vector<absl::AnyInvocable<void()>>* out);
  // Up to `max` mail items into `out`; how many. It stops early at a cell a
  // pusher has reserved but not filled yet (the items after it wait).
  size_t TakeMail(uint64_t* out, size_t max);
  // Mail pushes that have reserved a place so far, and mail taken so far:
  // taken >= a reserved count read earlier means every push before that
  // read has been taken.
  uint64_t mail_reserved() const { return mail_.reserved(); }
  uint64_t mail_taken() const { return mail_.taken(); }
  // No more pushes are accepted (those already in can still be taken).
  void Close();

 private:
  Push AfterPush();

  MpmcQueue<uint64_t> mail_;
  std::atomic<bool> closed_{false};
  alignas(64) std::atomic<bool> wake_pending_{false};
  alignas(64) std::mutex mu_;
  std::vector<absl::AnyInvocable<void()>> commands_;  // guarded by mu_
  std::atomic<bool> commands_pending_{false};          // written under mu_
  std::atomic<uint64_t> lock_acquisitions_{0};
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_INBOX_H_
