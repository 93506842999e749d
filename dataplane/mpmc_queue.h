// MpmcQueue: a bounded multi-producer multi-consumer queue of small trivially
// copyable values, without locks (Dmitry Vyukov's design: one sequence number
// per cell; a producer or consumer claims a position with one CAS and
// publishes the cell with one store-release). Used where threads hand each
// other work without a mutex: a worker's mail from other threads, the free
// lists of the shared send buffers.
//
// Each producer's values are popped in the order it pushed them. Not
// lock-free in the strict sense: a thread stalled between claiming a cell and
// publishing it makes others see the queue full (a consumer) or empty (a
// producer) at that cell until it resumes. The Inbox's wake-up protocol
// covers the empty case (the stalled producer wakes the owner when it
// publishes); free lists, where a spurious "full" would lose an index, use
// FreeList instead.
#ifndef SCTPDP_DATAPLANE_MPMC_QUEUE_H_
#define SCTPDP_DATAPLANE_MPMC_QUEUE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

namespace sctpdp {

template <typename T>
class MpmcQueue {
  static_assert(std::is_trivially_copyable_v<T>, "MpmcQueue holds plain values");

 public:
  // REQUIRES: capacity is a power of two >= 2.
  explicit MpmcQueue(size_t capacity) : mask_(capacity - 1), cells_(new Cell[capacity]) {
    for (size_t i = 0; i < capacity; ++i) cells_[i].sequence.store(i, std::memory_order_relaxed);
  }
  MpmcQueue(const MpmcQueue&) = delete;
  MpmcQueue& operator=(const MpmcQueue&) = delete;

  size_t capacity() const { return mask_ + 1; }

  // False when full.
  bool TryPush(T value) {
    size_t pos = tail_.load(std::memory_order_relaxed);
    while (true) {
      Cell& cell = cells_[pos & mask_];
      const size_t seq = cell.sequence.load(std::memory_order_acquire);
      const intptr_t diff = static_cast<intptr_t>(seq) - static_cast<intptr_t>(pos);
      if (diff == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          cell.value = value;
          cell.sequence.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;  // the consumer has not freed this cell: full
      } else {
        pos = tail_.load(std::memory_order_relaxed);
      }
    }
  }

  // False when empty.
  bool TryPop(T* out) {
    size_t pos = head_.load(std::memory_order_relaxed);
    while (true) {
      Cell& cell = cells_[pos & mask_];
      const size_t seq = cell.sequence.load(std::memory_order_acquire);
      const intptr_t diff = static_cast<intptr_t>(seq) - static_cast<intptr_t>(pos + 1);
      if (diff == 0) {
        if (head_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          *out = cell.value;
          cell.sequence.store(pos + mask_ + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;  // nothing published here yet: empty
      } else {
        pos = head_.load(std::memory_order_relaxed);
      }
    }
  }

  // Positions: pushes that have reserved a cell so far (some may not have
  // filled it yet), and pops so far. Every push that returned before
  // reserved() is read (and happens-before it) lies below it.
  size_t reserved() const { return tail_.load(std::memory_order_acquire); }
  size_t taken() const { return head_.load(std::memory_order_acquire); }

  // A racy estimate, for stats.
  size_t SizeApprox() const {
    const size_t t = tail_.load(std::memory_order_relaxed), h = head_.load(std::memory_order_relaxed);
    return t >= h ? t - h : 0;
  }

 private:
  struct Cell {
    std::atomic<size_t> sequence;
    T value;
  };
  const size_t mask_;
  std::unique_ptr<Cell[]> cells_;
  alignas(64) std::atomic<size_t> tail_{0};  // producers
  alignas(64) std::atomic<size_t> head_{0};  // consumers
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_MPMC_QUEUE_H_
