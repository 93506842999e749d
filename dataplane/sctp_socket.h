// Socket options every SCTP socket of the project needs, set in one place:
// the listener (control/) and each adopted association (Worker) call these.
#ifndef SCTPDP_DATAPLANE_SCTP_SOCKET_H_
#define SCTPDP_DATAPLANE_SCTP_SOCKET_H_

#include <netinet/in.h>
#include <netinet/sctp.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sctpdp {

// Subscribes `fd` to association change, shutdown, send failed, partial
// delivery, peer address change and remote error notifications: SCTP_EVENT
// per type, or the legacy SCTP_EVENTS struct where SCTP_EVENT is missing
// (sized to the fields needed: the struct grew across kernels; logged once).
absl::Status SubscribeEvents(int fd);

// SO_RCVBUF or SO_SNDBUF (`opt`) as getsockopt reports it: twice what the
// kernel granted. Errors are named `name`.
absl::StatusOr<int> GetSocketBuffer(int fd, int opt, const char* name);
// Sets SO_RCVBUF or SO_SNDBUF to `bytes` (0: leaves the kernel's default);
// where net.core.*mem_max capped it, tries the FORCE variant `force_opt`
// (needs CAP_NET_ADMIN) and otherwise keeps the cap. Returns what the socket
// has, as GetSocketBuffer.
absl::StatusOr<int> SetSocketBuffer(int fd, int opt, int force_opt, int bytes, const char* name);

// A zero-length sendmsg whose SCTP_SNDINFO carries `sctp_flag`: SCTP_EOF
// starts a graceful SHUTDOWN, SCTP_ABORT sends an ABORT. `assoc_id` names the
// association on a one-to-many socket (0 on a one-to-one or peeled socket,
// where shutdown(2) does nothing for SCTP). Non-blocking. 0 or -errno.
int SendSctpFlag(int fd, uint16_t sctp_flag, sctp_assoc_t assoc_id);

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_SCTP_SOCKET_H_
