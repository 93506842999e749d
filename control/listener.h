// The one-to-many SCTP socket (SOCK_SEQPACKET) the control thread holds for
// every association: bound to one or several local addresses (bind, then
// sctp_bindx for the rest), IPv4 and IPv6, with configured streams and buffer
// sizes, and the notifications the data plane acts on (SubscribeEvents,
// dataplane/sctp_socket.h).
#ifndef SCTPDP_CONTROL_LISTENER_H_
#define SCTPDP_CONTROL_LISTENER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dataplane/fd.h"

namespace sctpdp {

struct ListenerOptions {
  std::vector<std::string> addresses = {"127.0.0.1"};  // IPv4/IPv6 literals
  uint16_t port = 0;      // 0: an ephemeral port, the same on every address
  uint16_t streams = 16;  // inbound and outbound
  int rcvbuf = 0;         // SO_RCVBUF (0: kernel default)
  int sndbuf = 0;         // SO_SNDBUF (0: kernel default)
  int backlog = 1024;
  bool nodelay = true;    // SCTP_NODELAY (inherited by peeled sockets): small replies go now
};

struct Listener {
  Fd fd;
  uint16_t port = 0;
  bool ipv6 = false;
};

absl::StatusOr<Listener> OpenListener(const ListenerOptions& options);

}  // namespace sctpdp

#endif  // SCTPDP_CONTROL_LISTENER_H_
