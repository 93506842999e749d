// FreeList: a lock-free stack of the indices 0..n-1 of some preallocated
// things (the shared send buffers), any thread popping and pushing. One CAS
// on a 64-bit head per operation; the head carries a tag that changes on
// every push, so an index popped and pushed back meanwhile (ABA) cannot fool
// a pop. Unlike a bounded queue, a stalled thread never makes another's
// push or pop fail: a pop fails only when the stack is empty.
#ifndef SCTPDP_DATAPLANE_FREE_LIST_H_
#define SCTPDP_DATAPLANE_FREE_LIST_H_

#include <atomic>
#include <cstdint>
#include <memory>

namespace sctpdp {

class FreeList {
 public:
  // Holds 0..count-1, all free. REQUIRES: count < 2^32 - 1.
  explicit FreeList(uint32_t count) : next_(new std::atomic<uint32_t>[count]), count_(count) {
    for (uint32_t i = 0; i < count; ++i) next_[i].store(i + 1 < count ? i + 1 : kNone, std::memory_order_relaxed);
    head_.store(Pack(count > 0 ? 0 : kNone, 0), std::memory_order_relaxed);
  }
  FreeList(const FreeList&) = delete;
  FreeList& operator=(const FreeList&) = delete;

  // False when empty.
  bool Pop(uint32_t* out) {
    uint64_t head = head_.load(std::memory_order_acquire);
    while (true) {
      const uint32_t top = Index(head);
      if (top == kNone) return false;
      // `top` may be popped by another thread meanwhile: then the tag
      // changed and the CAS fails, whatever this read saw.
      const uint32_t next = next_[top].load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(head, Pack(next, Tag(head)), std::memory_order_acquire,
                                      std::memory_order_acquire)) {
        *out = top;
        return true;
      }
    }
  }

  // REQUIRES: `index` < count and not already free.
  void Push(uint32_t index) {
    uint64_t head = head_.load(std::memory_order_relaxed);
    while (true) {
      next_[index].store(Index(head), std::memory_order_relaxed);
      if (head_.compare_exchange_weak(head, Pack(index, Tag(head) + 1), std::memory_order_release,
                                      std::memory_order_relaxed)) {
        return;
      }
    }
  }

  uint32_t capacity() const { return count_; }

 private:
  static constexpr uint32_t kNone = ~uint32_t{0};
  static uint64_t Pack(uint32_t index, uint32_t tag) { return (uint64_t{tag} << 32) | index; }
  static uint32_t Index(uint64_t head) { return static_cast<uint32_t>(head); }
  static uint32_t Tag(uint64_t head) { return static_cast<uint32_t>(head >> 32); }

  std::unique_ptr<std::atomic<uint32_t>[]> next_;
  const uint32_t count_;
  alignas(64) std::atomic<uint64_t> head_;
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_FREE_LIST_H_
