// BufferRing: a provided-buffer ring (io_uring_buf_ring) of `count` buffers of
// `size` bytes, registered on one ring under one buffer group. The kernel picks
// a buffer per multishot recvmsg completion; the worker hands it back with
// Recycle() once the application is done with it, and publishes the returns
// in one batch with Publish().
#ifndef SCTPDP_DATAPLANE_BUFFER_RING_H_
#define SCTPDP_DATAPLANE_BUFFER_RING_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "dataplane/ring.h"

struct io_uring_buf_ring;  // liburing's

namespace sctpdp {

class BufferRing {
 public:
  // REQUIRES: count is a power of two in [1, 32768]; size >= 64.
  static absl::StatusOr<std::unique_ptr<BufferRing>> Create(Ring& ring, uint16_t group, unsigned count,
                                                            unsigned size);
  ~BufferRing();

  // The kernel holds the ring's address: neither copyable nor movable.
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  uint16_t group() const { return group_; }
  unsigned count() const { return count_; }
  unsigned size() const { return size_; }
  char* Buffer(uint16_t id) const { return base_ + size_t{id} * size_; }

  // Marks buffer `id` as taken by the kernel (from a CQE). Pairs with Recycle.
  void Take(uint16_t id);
  // Queues buffer `id` for return to the kernel. REQUIRES: id was Taken.
  void Recycle(uint16_t id);
  // Makes queued returns visible to the kernel. Cheap when nothing is queued.
  void Publish();

  // Unregisters from the ring (before the ring goes away); the memory stays
  // mapped until destruction, so retained buffers remain readable.
  void Unregister();

  // Buffers the kernel can fill now (including queued-but-unpublished ones).
  unsigned available() const { return count_ - taken_; }

 private:
  BufferRing(Ring* ring, uint16_t group, unsigned count, unsigned size)
      : ring_(ring), group_(group), count_(count), size_(size) {}

  Ring* ring_;
  uint16_t group_;
  unsigned count_;
  unsigned size_;
  size_t map_bytes_ = 0;
  void* map_ = nullptr;
  ::io_uring_buf_ring* br_ = nullptr;
  char* base_ = nullptr;
  bool registered_ = false;
  unsigned taken_ = 0;
  unsigned pending_ = 0;   // recycled, not yet published
  std::unique_ptr<bool[]> out_;  // out_[id]: the kernel or the app holds it
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_BUFFER_RING_H_
