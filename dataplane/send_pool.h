// SendPool: the worker's preallocated send memory. `buffer_count` buffers of
// `buffer_size` bytes the application writes messages into in place, and one
// descriptor per queued or in-flight message holding what sendmsg needs to
// stay put until its completion (msghdr, iovec, SCTP_SNDINFO/PRINFO control).
// A message larger than one buffer spans several (an iovec each).
// Single-threaded: the owning worker's thread only.
#ifndef SCTPDP_DATAPLANE_SEND_POOL_H_
#define SCTPDP_DATAPLANE_SEND_POOL_H_

#include <netinet/in.h>
#include <netinet/sctp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "dataplane/sctp_parse.h"

namespace sctpdp {

inline constexpr unsigned kMaxSendSegments = 16;
inline constexpr uint32_t kNoDesc = ~uint32_t{0};

struct SendDesc {
  msghdr msg;
  iovec iov[kMaxSendSegments];
  alignas(cmsghdr) char control[kSendControlBytes];
  uint32_t length = 0;
  uint16_t segments = 0;
  uint16_t slot = 0;          // association slot
  uint32_t next = kNoDesc;    // queue link
  int32_t result = 0;         // completion result while its chain is in flight
  bool result_in = false;     // its request CQE has come
  bool notif_pending = false; // SENDMSG_ZC: the kernel still holds the buffer
  bool zc = false;            // submitted as SENDMSG_ZC
  bool more = false;          // submitted with MSG_MORE (bundling)
  sctp_assoc_t to = 0;        // one-to-many sockets: the destination association
  uint16_t stream = 0;        // as given to Send, to hand a queued message on
  uint16_t sctp_flags = 0;
  uint32_t ppid = 0;
  uint32_t ttl_ms = 0;
  uint32_t buffers[kMaxSendSegments];
};

// A message being built by the application: write the payload through
// segment(i) (or data() when it fits one buffer), then hand it to Send.
class SendPool;

class SendBuffer {
 public:
  SendBuffer() = default;
  uint32_t id() const { return desc_; }
  size_t size() const { return size_; }
  bool valid() const { return desc_ != kNoDesc; }
  unsigned segments() const;
  absl::Span<char> segment(unsigned i) const;
  // The whole message when it fits one buffer (the common case).
  // REQUIRES: segments() == 1.
  absl::Span<char> data() const { return segment(0); }
  // Copies `bytes` in at `offset`, across segments. REQUIRES: fits in size().
  void Write(size_t offset, absl::Span<const char> bytes);

 private:
  friend class SendPool;
  SendPool* pool_ = nullptr;
  uint32_t desc_ = kNoDesc;
  size_t size_ = 0;
};

class SendPool {
 public:
  // REQUIRES: buffer_count in [1, 2^24); buffer_size >= 256.
  static absl::StatusOr<std::unique_ptr<SendPool>> Create(unsigned buffer_count, unsigned buffer_size);
  ~SendPool();
  SendPool(const SendPool&) = delete;
  SendPool& operator=(const SendPool&) = delete;

  size_t max_message_size() const { return size_t{buffer_size_} * kMaxSendSegments; }
  unsigned buffers_in_use() const { return buffer_count_ - static_cast<unsigned>(free_buffers_.size()); }

  // A buffer of `size` bytes, or an invalid one if the pool is exhausted or
  // `size` is over max_message_size().
  SendBuffer Acquire(size_t size);
  // Gives an unsent buffer back.
  void Release(SendBuffer buffer);

  SendDesc& desc(uint32_t id) { return descs_[id]; }
  // Frees a descriptor and its buffers (after its send completed or failed).
  void Free(uint32_t id);

 private:
  SendPool() = default;
  unsigned buffer_count_ = 0;
  unsigned buffer_size_ = 0;
  char* base_ = nullptr;
  size_t map_bytes_ = 0;
  std::vector<uint32_t> free_buffers_;
  std::vector<uint32_t> free_descs_;
  std::unique_ptr<SendDesc[]> descs_;
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_SEND_POOL_H_
