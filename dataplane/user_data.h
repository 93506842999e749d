// The one user_data scheme for every SQE an event loop submits: a packed tag, not a
// pointer, so a completion for a slot that has since been reused is recognised
// by its generation and dropped (liburing's proxy.c packs the same way).
//
//   bits 63..56  op           what the SQE was (Op)
//   bits 55..40  generation   the association slot's generation when submitted
//   bits 39..24  slot         association slot == fixed-file index
//   bits 23..0   aux          op-specific: send id, buffer id, ...
#ifndef SCTPDP_DATAPLANE_USER_DATA_H_
#define SCTPDP_DATAPLANE_USER_DATA_H_

#include <cstdint>

namespace sctpdp {

enum class Op : uint8_t {
  kNone = 0,
  kRecv = 1,        // multishot recvmsg of an association
  kSend = 2,        // sendmsg of one queued message (aux = send id)
  kSendZc = 3,      // sendmsg_zc of one queued message (aux = send id); its
                    // buffer-release notification (IORING_CQE_F_NOTIF) shares it
  kWake = 4,        // multishot poll on the loop's wake eventfd
  kMsgRing = 5,     // MSG_RING wake-up from another ring
  kCancel = 6,      // async cancel (of a receive or a send)
  kMsgRingSent = 7, // our own MSG_RING to another ring: its CQE here
};

struct Tag {
  Op op = Op::kNone;
  uint16_t generation = 0;
  uint16_t slot = 0;
  uint32_t aux = 0;  // 24 bits used

  static constexpr uint32_t kAuxMask = (1u << 24) - 1;

  constexpr uint64_t Pack() const {
    return (uint64_t{static_cast<uint8_t>(op)} << 56) | (uint64_t{generation} << 40) |
           (uint64_t{slot} << 24) | (aux & kAuxMask);
  }
  static constexpr Tag Unpack(uint64_t v) {
    return Tag{static_cast<Op>(v >> 56), static_cast<uint16_t>(v >> 40),
               static_cast<uint16_t>(v >> 24), static_cast<uint32_t>(v & kAuxMask)};
  }
};

static_assert(Tag{Op::kSend, 0xffff, 0xffff, Tag::kAuxMask}.Pack() == 0x02ffffffffffffffull);
static_assert(Tag::Unpack(Tag{Op::kRecv, 7, 9, 11}.Pack()).slot == 9);
static_assert(Tag::Unpack(Tag{Op::kRecv, 7, 9, 11}.Pack()).generation == 7);
static_assert(Tag::Unpack(Tag{Op::kMsgRingSent, 7, 9, 11}.Pack()).op == Op::kMsgRingSent);

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_USER_DATA_H_
