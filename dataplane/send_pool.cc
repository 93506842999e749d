#include "dataplane/send_pool.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "absl/base/internal/raw_logging.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sctpdp {

absl::StatusOr<std::unique_ptr<SendPool>> SendPool::Create(unsigned buffer_count, unsigned buffer_size) {
  if (buffer_count == 0 || buffer_count >= (1u << 24) || buffer_size < 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("send pool: ", buffer_count, " buffers of ", buffer_size, " bytes"));
  }
  std::unique_ptr<SendPool> pool(new SendPool());
  pool->buffer_count_ = buffer_count;
  pool->buffer_size_ = buffer_size;
  pool->map_bytes_ = size_t{buffer_count} * buffer_size;
  // Anonymous memory: pages become resident only when first written.
  void* map = mmap(nullptr, pool->map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) return absl::ErrnoToStatus(errno, "mmap(send pool)");
  // Small pages: a buffer's first use faults in the 4 KiB it writes. With
  // transparent huge pages a 1 KiB message in a fresh buffer faulted in (and
  // cleared) 2 MiB: under an echo backlog that was 30% of the worker's CPU
  // and 256 MiB resident per worker. Advice only: failure changes nothing.
  madvise(map, pool->map_bytes_, MADV_NOHUGEPAGE);
  pool->base_ = static_cast<char*>(map);
  pool->descs_ = std::make_unique<SendDesc[]>(buffer_count);
  pool->free_buffers_.reserve(buffer_count);
  pool->free_descs_.reserve(buffer_count);
  for (uint32_t i = buffer_count; i-- > 0;) {
    pool->free_buffers_.push_back(i);
    pool->free_descs_.push_back(i);
  }
  return pool;
}

SendPool::~SendPool() {
  if (base_ != nullptr) munmap(base_, map_bytes_);
}

uint32_t SendPool::TakeDesc() {
  const uint32_t id = free_descs_.back();
  free_descs_.pop_back();
  SendDesc& d = descs_[id];
  d.next = kNoDesc;
  d.result = 0;
  d.pool_buffers = 0;
  return id;
}

SendBuffer SendPool::Acquire(size_t size) {
  SendBuffer out;
  const size_t segments = size == 0 ? 1 : (size + buffer_size_ - 1) / buffer_size_;
  if (segments > kMaxSendSegments || segments > free_buffers_.size() || free_descs_.empty()) return out;
  const uint32_t id = TakeDesc();
  SendDesc& d = descs_[id];
  d.segments = static_cast<uint16_t>(segments);
  d.pool_buffers = static_cast<uint16_t>(segments);
  d.payload = Payload::kPool;
  d.length = static_cast<uint32_t>(size);
  size_t left = size;
  for (size_t i = 0; i < segments; ++i) {
    const uint32_t b = free_buffers_.back();
    free_buffers_.pop_back();
    d.buffers[i] = b;
    const size_t n = std::min<size_t>(left, buffer_size_);
    d.iov[i].iov_base = base_ + size_t{b} * buffer_size_;
    d.iov[i].iov_len = n;
    left -= n;
  }
  out.pool_ = this;
  out.id_ = id;
  out.size_ = size;
  return out;
}

void SendPool::Release(SendBuffer buffer) {
  if (buffer.valid() && buffer.pool_ == this) Free(buffer.id_);
}

uint32_t SendPool::Attach(absl::Span<const iovec> segments, Payload kind, uint32_t external,
                          std::unique_ptr<char[]> heap) {
  ABSL_RAW_CHECK(!segments.empty() && segments.size() <= kMaxSendSegments, "SendPool::Attach: bad segments");
  if (free_descs_.empty()) return kNoDesc;
  const uint32_t id = TakeDesc();
  SendDesc& d = descs_[id];
  d.segments = static_cast<uint16_t>(segments.size());
  d.payload = kind;
  d.external = external;
  d.heap = std::move(heap);
  size_t length = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    d.iov[i] = segments[i];
    length += segments[i].iov_len;
  }
  d.length = static_cast<uint32_t>(length);
  return id;
}

ExternalPayload SendPool::Free(uint32_t id) {
  SendDesc& d = descs_[id];
  ABSL_RAW_CHECK(d.segments > 0, "send descriptor freed twice");
  for (unsigned i = 0; i < d.pool_buffers; ++i) free_buffers_.push_back(d.buffers[i]);
  ExternalPayload out{d.payload, d.external, std::move(d.heap)};
  d.segments = 0;
  d.pool_buffers = 0;
  d.payload = Payload::kPool;
  free_descs_.push_back(id);
  return out;
}

}  // namespace sctpdp
