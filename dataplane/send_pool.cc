#include "dataplane/send_pool.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "absl/base/internal/raw_logging.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sctpdp {

unsigned SendBuffer::segments() const { return pool_->desc(desc_).segments; }

absl::Span<char> SendBuffer::segment(unsigned i) const {
  const iovec& v = pool_->desc(desc_).iov[i];
  return absl::MakeSpan(static_cast<char*>(v.iov_base), v.iov_len);
}

void SendBuffer::Write(size_t offset, absl::Span<const char> bytes) {
  ABSL_RAW_CHECK(offset + bytes.size() <= size_, "SendBuffer::Write past the end");
  for (unsigned i = 0; i < segments(); ++i) {
    absl::Span<char> seg = segment(i);
    if (bytes.empty()) return;
    if (offset >= seg.size()) {
      offset -= seg.size();
      continue;
    }
    size_t n = std::min(seg.size() - offset, bytes.size());
    std::memcpy(seg.data() + offset, bytes.data(), n);
    bytes.remove_prefix(n);
    offset = 0;
  }
}

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

SendBuffer SendPool::Acquire(size_t size) {
  SendBuffer out;
  size_t segments = size == 0 ? 1 : (size + buffer_size_ - 1) / buffer_size_;
  if (segments > kMaxSendSegments || segments > free_buffers_.size() || free_descs_.empty()) return out;
  uint32_t id = free_descs_.back();
  free_descs_.pop_back();
  SendDesc& d = descs_[id];
  d.segments = static_cast<uint16_t>(segments);
  d.length = static_cast<uint32_t>(size);
  d.next = kNoDesc;
  d.result = 0;
  out.pool_ = this;
  out.desc_ = id;
  out.size_ = size;
  size_t left = size;
  for (size_t i = 0; i < segments; ++i) {
    uint32_t b = free_buffers_.back();
    free_buffers_.pop_back();
    d.buffers[i] = b;
    size_t n = std::min<size_t>(left, buffer_size_);
    d.iov[i].iov_base = base_ + size_t{b} * buffer_size_;
    d.iov[i].iov_len = n;
    left -= n;
  }
  return out;
}

void SendPool::Release(SendBuffer buffer) {
  if (buffer.valid()) Free(buffer.desc_);
}

void SendPool::Free(uint32_t id) {
  SendDesc& d = descs_[id];
  ABSL_RAW_CHECK(d.segments > 0, "send descriptor freed twice");
  for (unsigned i = 0; i < d.segments; ++i) free_buffers_.push_back(d.buffers[i]);
  d.segments = 0;
  free_descs_.push_back(id);
}

}  // namespace sctpdp
