// Completion: one CQE as the data plane sees it, without liburing (ring.cc
// checks the flag values against the kernel's).
#ifndef SCTPDP_DATAPLANE_COMPLETION_H_
#define SCTPDP_DATAPLANE_COMPLETION_H_

#include <cstdint>

namespace sctpdp {

// CQE flag bits (the uapi values).
inline constexpr uint32_t kCqeBuffer = 1u << 0;  // IORING_CQE_F_BUFFER: a provided buffer id in the upper bits
inline constexpr uint32_t kCqeMore = 1u << 1;    // IORING_CQE_F_MORE: the request goes on (multishot, ZC)
inline constexpr uint32_t kCqeNotif = 1u << 3;   // IORING_CQE_F_NOTIF: SENDMSG_ZC buffer release
inline constexpr unsigned kCqeBufferShift = 16;  // IORING_CQE_BUFFER_SHIFT

struct Completion {
  uint64_t user_data = 0;
  int32_t res = 0;
  uint32_t flags = 0;

  bool more() const { return flags & kCqeMore; }
  bool has_buffer() const { return flags & kCqeBuffer; }
  uint16_t buffer_id() const { return static_cast<uint16_t>(flags >> kCqeBufferShift); }
  bool notif() const { return flags & kCqeNotif; }
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_COMPLETION_H_
