// SendBuffer: a message being built in place before it is sent. It lives in
// one of two kinds of memory:
//   - a loop's own SendPool (the thread that owns the association builds
//     its reply there: Worker::AcquireSendBuffer), or
//   - the shared ParcelPool (any other thread: the buffer travels to the
//     owner by reference and is sent from where it was written).
// Either way the kernel's copy at sendmsg is the only one. Write the payload
// through segment(i) (or data() when it fits one segment), then Send it.
// Move-only; nothing is freed by the destructor: a buffer goes back through
// Send or its pool's Release.
#ifndef SCTPDP_DATAPLANE_SEND_BUFFER_H_
#define SCTPDP_DATAPLANE_SEND_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <utility>

#include "absl/types/span.h"

namespace sctpdp {

class SendPool;
class ParcelPool;

inline constexpr unsigned kMaxSendSegments = 16;
inline constexpr uint32_t kNoDesc = ~uint32_t{0};

class SendBuffer {
 public:
  SendBuffer() = default;
  SendBuffer(SendBuffer&& other) noexcept { *this = std::move(other); }
  SendBuffer& operator=(SendBuffer&& other) noexcept {
    pool_ = std::exchange(other.pool_, nullptr);
    parcels_ = std::exchange(other.parcels_, nullptr);
    id_ = std::exchange(other.id_, kNoDesc);
    size_ = std::exchange(other.size_, 0);
    return *this;
  }
  SendBuffer(const SendBuffer&) = delete;
  SendBuffer& operator=(const SendBuffer&) = delete;

  bool valid() const { return id_ != kNoDesc; }
  size_t size() const { return size_; }
  unsigned segments() const;
  absl::Span<char> segment(unsigned i) const;
  // The whole message when it fits one segment (the common case).
  // REQUIRES: segments() == 1.
  absl::Span<char> data() const { return segment(0); }
  // Copies `bytes` in at `offset`, across segments. REQUIRES: fits in size().
  void Write(size_t offset, absl::Span<const char> bytes);

  // Where it lives: a SendPool's descriptor, or a ParcelPool's parcel.
  SendPool* pool() const { return pool_; }
  ParcelPool* parcels() const { return parcels_; }
  uint32_t id() const { return id_; }

 private:
  friend class SendPool;
  friend class ParcelPool;
  SendPool* pool_ = nullptr;
  ParcelPool* parcels_ = nullptr;
  uint32_t id_ = kNoDesc;
  size_t size_ = 0;
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_SEND_BUFFER_H_
