// Socket options every SCTP socket of the project needs, set in one place:
// the listener (control/) and each adopted association (Worker) call these.
#ifndef SCTPDP_DATAPLANE_SCTP_SOCKET_H_
#define SCTPDP_DATAPLANE_SCTP_SOCKET_H_

#include "absl/status/status.h"

namespace sctpdp {

// Subscribes `fd` to association change, shutdown, send failed, partial
// delivery, peer address change and remote error notifications: SCTP_EVENT
// per type, or the legacy SCTP_EVENTS struct where SCTP_EVENT is missing
// (sized to the fields needed: the struct grew across kernels; logged once).
absl::Status SubscribeEvents(int fd);

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_SCTP_SOCKET_H_
