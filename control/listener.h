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
#include "dataplane/sctp_tuning.h"

namespace sctpdp {

struct ListenerOptions {
  std::vector<std::string> addresses = {"127.0.0.1"};  // IPv4/IPv6 literals
  uint16_t port = 0;      // 0: an ephemeral port, the same on every address
  uint16_t streams = 16;  // inbound and outbound
  // Socket buffers (0: kernel default). Above net.core.[rw]mem_max the
  // kernel caps SO_[RCV|SND]BUF; the listener then tries the FORCE variant
  // (CAP_NET_ADMIN) and otherwise keeps the cap. Listener says what it got.
  int rcvbuf = 0;
  int sndbuf = 0;
  int backlog = 1024;
  bool nodelay = true;    // SCTP_NODELAY (inherited by peeled sockets): small replies go now
  // The endpoint's protocol defaults (RTO, heartbeats, SACK delay, ...):
  // every association accepted or started here takes them, and keeps them
  // when peeled. A value the kernel refuses fails OpenListener, naming it.
  SctpTuning tuning;
};

struct Listener {
  Fd fd;
  uint16_t port = 0;
  bool ipv6 = false;
  int rcvbuf = 0, sndbuf = 0;  // what the kernel granted (getsockopt: twice the request)
  // net.sctp.rcvbuf_policy / sndbuf_policy (-1: unreadable). 0, the kernel
  // default, charges every association of the one-to-many socket to one
  // buffer: one backlogged association closes the others' windows.
  int rcvbuf_policy = -1, sndbuf_policy = -1;

  std::string tuning;  // SctpTuning::Describe() of what was set ("" if nothing)

  // One line for the log: buffers, policies and tuning.
  std::string Describe() const;
};

absl::StatusOr<Listener> OpenListener(const ListenerOptions& options);

}  // namespace sctpdp

#endif  // SCTPDP_CONTROL_LISTENER_H_
