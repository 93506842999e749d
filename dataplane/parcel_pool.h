// ParcelPool: send memory shared by every thread, for messages built on one
// thread and sent by another (an application thread sending to an
// association a worker owns). A parcel is a header and up to
// kMaxSendSegments buffers; the sender fills it in place and hands its index
// to the owner through the owner's inbox; the owner sends straight from it
// and releases it when the kernel is done. No locks: the free lists are
// lock-free stacks. Bounded: when it is spent, Acquire says so (the caller
// reports backpressure) and the pool calls `on_available` once buffers come
// back.
#ifndef SCTPDP_DATAPLANE_PARCEL_POOL_H_
#define SCTPDP_DATAPLANE_PARCEL_POOL_H_

#include <netinet/in.h>
#include <netinet/sctp.h>
#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "dataplane/free_list.h"
#include "dataplane/send_buffer.h"

namespace sctpdp {

// A message on its way from one thread to another. Written by the sender
// before it is handed over, read by the owner after.
struct Parcel {
  sctp_assoc_t assoc_id = 0;
  uint32_t route = 0;  // the router's name for the association (opaque here)
  uint16_t stream = 0;
  uint16_t flags = 0;
  uint32_t ppid = 0;
  uint32_t ttl_ms = 0;
  uint32_t length = 0;
  uint16_t segments = 0;
  uint32_t buffers[kMaxSendSegments];
};

class ParcelPool {
 public:
  // REQUIRES: buffer_count in [1, 2^24); buffer_size >= 256.
  static absl::StatusOr<std::unique_ptr<ParcelPool>> Create(unsigned buffer_count, unsigned buffer_size);
  ~ParcelPool();
  ParcelPool(const ParcelPool&) = delete;
  ParcelPool& operator=(const ParcelPool&) = delete;

  // --- Any thread.
  // A parcel of `size` bytes as a SendBuffer; invalid when the pool is spent
  // (then on_available runs once buffers come back) or `size` is over
  // max_message_size().
  SendBuffer Acquire(size_t size);
  void Release(uint32_t parcel);
  // A parcel handed over by index, as the SendBuffer it was built in.
  SendBuffer AsBuffer(uint32_t id) {
    SendBuffer b;
    b.parcels_ = this;
    b.id_ = id;
    b.size_ = parcels_[id].length;
    return b;
  }
  void Release(SendBuffer buffer) {
    if (buffer.valid() && buffer.parcels() == this) Release(buffer.id());
  }
  Parcel& parcel(uint32_t id) { return parcels_[id]; }
  absl::Span<char> segment(uint32_t id, unsigned i) const;
  // The payload's iovecs, for SendPool::Attach; how many.
  unsigned Iovecs(uint32_t id, iovec* out) const;

  size_t max_message_size() const { return size_t{buffer_size_} * kMaxSendSegments; }
  unsigned buffer_count() const { return buffer_count_; }
  unsigned buffers_in_use() const { return in_use_.load(std::memory_order_relaxed); }
  uint64_t exhausted() const { return exhausted_.load(std::memory_order_relaxed); }
  // Runs on the releasing thread after an Acquire failed and buffers came
  // back. REQUIRES: set before the pool is shared.
  void set_on_available(absl::AnyInvocable<void()> fn) { on_available_ = std::move(fn); }

 private:
  ParcelPool(unsigned count, unsigned size)
      : buffer_count_(count), buffer_size_(size), free_parcels_(count), free_buffers_(count) {}
  const unsigned buffer_count_;
  const unsigned buffer_size_;
  char* base_ = nullptr;
  size_t map_bytes_ = 0;
  std::unique_ptr<Parcel[]> parcels_;
  FreeList free_parcels_;
  FreeList free_buffers_;
  std::atomic<unsigned> in_use_{0};
  std::atomic<bool> starved_{false};
  std::atomic<uint64_t> exhausted_{0};
  absl::AnyInvocable<void()> on_available_;
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_PARCEL_POOL_H_
