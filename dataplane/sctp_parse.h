// Parsing of what multishot recvmsg writes into a provided buffer, decoding of
// SCTP notifications, and the SCTP_SNDINFO control message for sendmsg. Pure
// functions over bytes: every malformed input is an error, never a crash.
#ifndef SCTPDP_DATAPLANE_SCTP_PARSE_H_
#define SCTPDP_DATAPLANE_SCTP_PARSE_H_

#include <netinet/in.h>
#include <netinet/sctp.h>
#include <sys/socket.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "dataplane/message.h"

namespace sctpdp {

// Control space a worker asks for on every recvmsg: room for SCTP_RCVINFO.
inline constexpr unsigned kRecvControlBytes = CMSG_SPACE(sizeof(sctp_rcvinfo)) + 16;

struct RecvParts {
  absl::Span<const char> payload;
  uint32_t msg_flags = 0;    // MSG_EOR, MSG_NOTIFICATION, MSG_CTRUNC, MSG_TRUNC
  bool has_rcvinfo = false;
  sctp_rcvinfo rcvinfo{};
};

// The handler's view of a received message: the SCTP_RCVINFO fields (the
// association id too), `payload` read in place from provided buffer `bid`, or
// from a reassembly copy (`copied`, bid -1).
MessageView ViewOf(const RecvParts& parts, int32_t bid, absl::Span<const char> payload, bool copied);

// Parses one multishot recvmsg completion: `buf` is the provided buffer, `res`
// the CQE result (bytes used), `tmpl` the msghdr the SQE was armed with
// (msg_namelen, msg_controllen).
absl::StatusOr<RecvParts> ParseRecvmsgOut(const char* buf, int res, const msghdr& tmpl);

// Decodes one complete notification (MSG_NOTIFICATION with MSG_EOR).
absl::StatusOr<AssociationEvent> DecodeNotification(absl::Span<const char> bytes);

// Fills `control` with one SCTP_SNDINFO cmsg, then SCTP_PRINFO (time-to-live
// policy) when `ttl_ms` > 0, and points `msg` at it. `ppid` in host order,
// `flags` SCTP_UNORDERED etc. `control` must hold kSendControlBytes.
inline constexpr unsigned kSendControlBytes =
    CMSG_SPACE(sizeof(sctp_sndinfo)) + CMSG_SPACE(sizeof(sctp_prinfo));
void FillSendControl(msghdr* msg, char* control, uint16_t stream, uint32_t ppid, uint16_t flags,
                     uint32_t ttl_ms, sctp_assoc_t assoc_id);

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_SCTP_PARSE_H_
