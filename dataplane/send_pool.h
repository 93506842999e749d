// SendPool: an event loop's preallocated send memory. `buffer_count` buffers
// of `buffer_size` bytes the owner writes messages into in place, and one
// descriptor per queued or in-flight message holding what sendmsg needs to
// stay put until its completion (msghdr, iovec, SCTP_SNDINFO/PRINFO control).
// A message larger than one buffer spans several (an iovec each).
//
// A descriptor can also point at memory it does not own (Attach): a parcel
// another thread built in the shared ParcelPool, or a receive buffer the
// application kept to send on (an echo straight from where it arrived).
// Free hands that memory back to the caller to release where it belongs.
//
// Single-threaded: the owning loop's thread only.
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
#include "dataplane/send_buffer.h"

namespace sctpdp {

// Whose memory a descriptor's payload is in.
enum class Payload : uint8_t {
  kPool,        // this pool's buffers
  kParcel,      // a ParcelPool parcel (`external` = its index)
  kRecvBuffer,  // a provided receive buffer kept by the application (`external` = buffer id)
  kHeap,        // a reassembled message kept by the application (`heap`)
};

struct SendDesc {
  msghdr msg;
  iovec iov[kMaxSendSegments];
  alignas(cmsghdr) char control[kSendControlBytes];
  uint32_t length = 0;
  uint16_t segments = 0;      // iovecs in use; 0: the descriptor is free
  uint16_t slot = 0;          // the socket's slot
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
  Payload payload = Payload::kPool;
  uint16_t pool_buffers = 0;  // kPool: buffers held
  uint32_t buffers[kMaxSendSegments];
  uint32_t external = 0;
  std::unique_ptr<char[]> heap;
};

// What a freed descriptor held that was not the pool's.
struct ExternalPayload {
  Payload kind = Payload::kPool;
  uint32_t external = 0;
  std::unique_ptr<char[]> heap;
};

class SendPool {
 public:
  // REQUIRES: buffer_count in [1, 2^24); buffer_size >= 256.
  static absl::StatusOr<std::unique_ptr<SendPool>> Create(unsigned buffer_count, unsigned buffer_size);
  ~SendPool();
  SendPool(const SendPool&) = delete;
  SendPool& operator=(const SendPool&) = delete;

  size_t max_message_size() const { return size_t{buffer_size_} * kMaxSendSegments; }
  unsigned buffer_count() const { return buffer_count_; }
  unsigned buffers_in_use() const { return buffer_count_ - static_cast<unsigned>(free_buffers_.size()); }
  bool has_free_desc() const { return !free_descs_.empty(); }
  unsigned descs_in_use() const { return buffer_count_ - static_cast<unsigned>(free_descs_.size()); }

  // A buffer of `size` bytes, or an invalid one if the pool is exhausted or
  // `size` is over max_message_size().
  SendBuffer Acquire(size_t size);
  // Gives an unsent buffer back.
  void Release(SendBuffer buffer);
  // A descriptor whose payload is `segments` of memory owned elsewhere
  // (`kind`, `external`, `heap` say whose); kNoDesc when none is free.
  // REQUIRES: 1 <= segments.size() <= kMaxSendSegments.
  uint32_t Attach(absl::Span<const iovec> segments, Payload kind, uint32_t external,
                  std::unique_ptr<char[]> heap = nullptr);

  SendDesc& desc(uint32_t id) { return descs_[id]; }
  // Frees a descriptor and its buffers (after its send completed or failed);
  // an attached payload comes back to be released by the caller.
  ExternalPayload Free(uint32_t id);

 private:
  friend class SendBuffer;
  SendPool() = default;
  uint32_t TakeDesc();

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
