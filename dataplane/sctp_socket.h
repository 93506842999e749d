// SCTP socket helpers in one place: address literals to sockaddrs, a socket
// set up as every end of this project sets one up (INIT streams, NODELAY,
// SCTP_RCVINFO, buffers), the notification subscriptions, one recvmsg or
// sendmsg with stream and PPID, and the zero-length sends that start a
// SHUTDOWN or an ABORT. The listener, the workers, `sctpdp load`, the tests
// and the benchmarks all use these.
#ifndef SCTPDP_DATAPLANE_SCTP_SOCKET_H_
#define SCTPDP_DATAPLANE_SCTP_SOCKET_H_

#include <netinet/in.h>
#include <netinet/sctp.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "dataplane/fd.h"

namespace sctpdp {

// An IP address and port as a sockaddr.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
};
// `literal` (IPv4 or IPv6) and `port`. `family` AF_INET6 turns an IPv4
// literal into its v4-mapped form (for an IPv6 socket); AF_INET refuses an
// IPv6 literal; AF_UNSPEC keeps the literal's own family.
absl::StatusOr<SocketAddress> MakeAddress(const std::string& literal, uint16_t port, int family = AF_UNSPEC);
// The address of `sa` as inet_ntop writes it (v4-mapped as IPv4), and its port.
std::string AddressString(const sockaddr* sa);
uint16_t PortOf(const sockaddr* sa);
// Association `id`'s addresses on `fd`, with their ports: the peer's
// (sctp_getpaddrs, `peer`) or this end's (sctp_getladdrs). The call's errno
// on failure.
absl::StatusOr<std::vector<SocketAddress>> AssociationAddresses(int fd, sctp_assoc_t id, bool peer);

struct SctpSocketOptions {
  int family = AF_INET;
  int type = SOCK_SEQPACKET;  // one-to-many; SOCK_STREAM: one-to-one
  uint16_t streams = 16;      // SCTP_INITMSG, inbound and outbound
  bool nodelay = true;        // SCTP_NODELAY: small messages go now (Nagle with delayed SACK crawls)
  bool rcvinfo = true;        // SCTP_RECVRCVINFO: stream and PPID on every message
  bool events = true;         // SubscribeEvents
  // Socket buffers (0: the kernel's). Past net.core.[rw]mem_max the FORCE
  // variant is tried (CAP_NET_ADMIN); the cap stays otherwise.
  int rcvbuf = 0;
  int sndbuf = 0;
};
// A new SCTP socket (close-on-exec) set up as `options` say. An error names
// the call that failed; socket() failing means no kernel SCTP here.
absl::StatusOr<Fd> OpenSctpSocket(const SctpSocketOptions& options);

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

// One recvmsg into `buf`, with SCTP_RCVINFO when the socket gives it.
struct RecvResult {
  ssize_t bytes = 0;  // < 0: -errno
  int msg_flags = 0;  // MSG_EOR, MSG_NOTIFICATION, ...
  bool has_rcvinfo = false;
  sctp_rcvinfo info{};
};
RecvResult RecvWithInfo(int fd, absl::Span<char> buf, int flags);
// One sendmsg of `payload` on `stream` with `ppid` (host order) to
// association `assoc_id` (0 on a one-to-one or peeled socket). sendmsg's
// result (-1 and errno on failure).
ssize_t SendWithInfo(int fd, absl::Span<const char> payload, uint16_t stream, uint32_t ppid, sctp_assoc_t assoc_id,
                     int flags);

// A zero-length sendmsg whose SCTP_SNDINFO carries `sctp_flag`: SCTP_EOF
// starts a graceful SHUTDOWN, SCTP_ABORT sends an ABORT. `assoc_id` names the
// association on a one-to-many socket (0 on a one-to-one or peeled socket,
// where shutdown(2) does nothing for SCTP). Non-blocking. 0 or -errno.
int SendSctpFlag(int fd, uint16_t sctp_flag, sctp_assoc_t assoc_id);

// Whether the kernel holds nothing more for a reader of `fd` (SIOCINQ: the
// length of the next message or notification in its receive queue). A
// stopping reader closes only once it is: data the kernel acknowledged to
// the peer is read, not dropped. An error (no queue to ask) counts as empty.
bool ReceiveQueueEmpty(int fd);

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_SCTP_SOCKET_H_
