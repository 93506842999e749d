#include "dataplane/buffer_ring.h"

#include <liburing.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "absl/base/internal/raw_logging.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sctpdp {

absl::StatusOr<std::unique_ptr<BufferRing>> BufferRing::Create(Ring& ring, uint16_t group, unsigned count,
                                                               unsigned size) {
  if (count == 0 || count > 32768 || (count & (count - 1)) != 0 || size < 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("buffer ring: count ", count, " (power of two <= 32768), size ", size, " (>= 64)"));
  }
  std::unique_ptr<BufferRing> br(new BufferRing(&ring, group, count, size));
  // One mapping: the ring entries (page aligned, as the kernel requires), then
  // the buffers.
  size_t ring_bytes = (count * sizeof(io_uring_buf) + 4095) & ~size_t{4095};
  br->map_bytes_ = ring_bytes + size_t{count} * size;
  // MAP_POPULATE: fault every page in now, not on the receive path.
  br->map_ = mmap(nullptr, br->map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (br->map_ == MAP_FAILED) {
    br->map_ = nullptr;
    return absl::ErrnoToStatus(errno, "mmap(buffer ring)");
  }
  br->br_ = static_cast<io_uring_buf_ring*>(br->map_);
  br->base_ = static_cast<char*>(br->map_) + ring_bytes;
  io_uring_buf_reg reg;
  std::memset(&reg, 0, sizeof(reg));
  reg.ring_addr = reinterpret_cast<uint64_t>(br->br_);
  reg.ring_entries = count;
  reg.bgid = group;
  int ret = io_uring_register_buf_ring(ring.raw(), &reg, 0);
  if (ret < 0) return absl::ErrnoToStatus(-ret, "io_uring_register_buf_ring");
  br->registered_ = true;
  io_uring_buf_ring_init(br->br_);
  br->out_ = std::make_unique<bool[]>(count);
  for (unsigned id = 0; id < count; ++id) {
    io_uring_buf_ring_add(br->br_, br->Buffer(id), size, id, io_uring_buf_ring_mask(count), id);
  }
  io_uring_buf_ring_advance(br->br_, count);
  return br;
}

BufferRing::~BufferRing() {
  Unregister();
  if (map_ != nullptr) munmap(map_, map_bytes_);
}

void BufferRing::Unregister() {
  if (ring_ != nullptr && registered_) io_uring_unregister_buf_ring(ring_->raw(), group_);
  registered_ = false;
}

void BufferRing::Take(uint16_t id) {
  ABSL_RAW_CHECK(id < count_ && !out_[id], "buffer taken twice");
  out_[id] = true;
  ++taken_;
}

void BufferRing::Recycle(uint16_t id) {
  ABSL_RAW_CHECK(id < count_ && out_[id], "recycle of a buffer not taken");
  out_[id] = false;
  --taken_;
  io_uring_buf_ring_add(br_, Buffer(id), size_, id, io_uring_buf_ring_mask(count_), pending_++);
}

void BufferRing::Publish() {
  if (pending_ == 0) return;
  io_uring_buf_ring_advance(br_, pending_);
  pending_ = 0;
}

}  // namespace sctpdp
