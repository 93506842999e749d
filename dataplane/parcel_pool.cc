#include "dataplane/parcel_pool.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "absl/base/internal/raw_logging.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sctpdp {

absl::StatusOr<std::unique_ptr<ParcelPool>> ParcelPool::Create(unsigned buffer_count, unsigned buffer_size) {
  if (buffer_count == 0 || buffer_count >= (1u << 24) || buffer_size < 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("parcel pool: ", buffer_count, " buffers of ", buffer_size, " bytes (1..2^24 of >= 256)"));
  }
  std::unique_ptr<ParcelPool> pool(new ParcelPool(buffer_count, buffer_size));
  pool->map_bytes_ = size_t{buffer_count} * buffer_size;
  void* map = mmap(nullptr, pool->map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
  if (map == MAP_FAILED) return absl::ErrnoToStatus(errno, "mmap(parcel pool)");
  madvise(map, pool->map_bytes_, MADV_NOHUGEPAGE);  // as SendPool: fault in what is written, not 2 MiB
  pool->base_ = static_cast<char*>(map);
  pool->parcels_ = std::make_unique<Parcel[]>(buffer_count);
  return pool;
}

ParcelPool::~ParcelPool() {
  if (base_ != nullptr) munmap(base_, map_bytes_);
}

SendBuffer ParcelPool::Acquire(size_t size) {
  SendBuffer out;
  const size_t segments = size == 0 ? 1 : (size + buffer_size_ - 1) / buffer_size_;
  if (segments > kMaxSendSegments) return out;
  uint32_t id;
  if (!free_parcels_.Pop(&id)) {
    exhausted_.fetch_add(1, std::memory_order_relaxed);
    starved_.store(true, std::memory_order_release);
    return out;
  }
  Parcel& p = parcels_[id];
  for (size_t i = 0; i < segments; ++i) {
    if (free_buffers_.Pop(&p.buffers[i])) continue;
    // Spent: give back what was taken (another thread may get them).
    while (i-- > 0) free_buffers_.Push(p.buffers[i]);
    free_parcels_.Push(id);
    exhausted_.fetch_add(1, std::memory_order_relaxed);
    starved_.store(true, std::memory_order_release);
    return out;
  }
  p.segments = static_cast<uint16_t>(segments);
  p.length = static_cast<uint32_t>(size);
  in_use_.fetch_add(static_cast<unsigned>(segments), std::memory_order_relaxed);
  out.parcels_ = this;
  out.id_ = id;
  out.size_ = size;
  return out;
}

void ParcelPool::Release(uint32_t id) {
  Parcel& p = parcels_[id];
  ABSL_RAW_CHECK(p.segments > 0 && p.segments <= kMaxSendSegments, "parcel released twice");
  const unsigned segments = p.segments;
  for (unsigned i = 0; i < segments; ++i) free_buffers_.Push(p.buffers[i]);
  p.segments = 0;
  free_parcels_.Push(id);
  in_use_.fetch_sub(segments, std::memory_order_relaxed);
  if (starved_.load(std::memory_order_acquire) && starved_.exchange(false, std::memory_order_acq_rel) &&
      on_available_) {
    on_available_();
  }
}

absl::Span<char> ParcelPool::segment(uint32_t id, unsigned i) const {
  const Parcel& p = parcels_[id];
  const size_t offset = size_t{i} * buffer_size_;
  const size_t n = std::min<size_t>(buffer_size_, p.length > offset ? p.length - offset : 0);
  return absl::MakeSpan(base_ + size_t{p.buffers[i]} * buffer_size_, i + 1 == p.segments ? n : buffer_size_);
}

unsigned ParcelPool::Iovecs(uint32_t id, iovec* out) const {
  const Parcel& p = parcels_[id];
  for (unsigned i = 0; i < p.segments; ++i) {
    const absl::Span<char> s = segment(id, i);
    out[i] = iovec{s.data(), s.size()};
  }
  return p.segments;
}

}  // namespace sctpdp
