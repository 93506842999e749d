#include "dataplane/inbox.h"

namespace sctpdp {

// Why no wake-up is lost (a Dekker pattern, hence the two fences): a pusher
// enqueues, then reads wake_pending_; the owner clears wake_pending_, then
// takes. If the pusher read "pending" (no wake from it), the owner's clear
// came after that read, so the owner's take, after its clear, sees the item.
Inbox::Push Inbox::AfterPush() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (wake_pending_.load(std::memory_order_relaxed)) return Push::kQueued;
  return wake_pending_.exchange(true, std::memory_order_acq_rel) ? Push::kQueued : Push::kWake;
}

Inbox::Push Inbox::PushMail(uint64_t item) {
  if (closed_.load(std::memory_order_acquire)) return Push::kClosed;
  if (!mail_.TryPush(item)) return Push::kFull;
  return AfterPush();
}

Inbox::Push Inbox::PushCommand(absl::AnyInvocable<void()> command) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    lock_acquisitions_.fetch_add(1, std::memory_order_relaxed);
    if (closed_.load(std::memory_order_relaxed)) return Push::kClosed;
    commands_.push_back(std::move(command));
    commands_pending_.store(true, std::memory_order_relaxed);
  }
  return AfterPush();
}

void Inbox::BeginDrain() {
  wake_pending_.store(false, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void Inbox::TakeCommands(std::vector<absl::AnyInvocable<void()>>* out) {
  // Mail-only wake-ups do not touch the mutex (BeginDrain's fence orders
  // this read after the pusher's store).
  if (!commands_pending_.load(std::memory_order_relaxed)) return;
  std::lock_guard<std::mutex> lock(mu_);
  commands_pending_.store(false, std::memory_order_relaxed);
  lock_acquisitions_.fetch_add(1, std::memory_order_relaxed);
  out->swap(commands_);
}

size_t Inbox::TakeMail(uint64_t* out, size_t max) {
  size_t n = 0;
  while (n < max && mail_.TryPop(&out[n])) ++n;
  return n;
}

void Inbox::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  lock_acquisitions_.fetch_add(1, std::memory_order_relaxed);
  closed_.store(true, std::memory_order_release);
}

}  // namespace sctpdp
