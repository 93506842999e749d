#include "control/listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/sctp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "dataplane/sctp_socket.h"

namespace sctpdp {
namespace {

absl::Status Errno(const std::string& what) { return absl::ErrnoToStatus(errno, what); }

// Parses an address literal into a sockaddr of the listener's family (IPv4
// literals become v4-mapped on an IPv6 socket).
absl::StatusOr<sockaddr_storage> ParseAddress(const std::string& text, bool ipv6, uint16_t port,
                                              socklen_t* len) {
  sockaddr_storage ss{};
  in_addr v4;
  in6_addr v6;
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    if (!ipv6) return absl::InvalidArgumentError("IPv6 address on an IPv4 listener: " + text);
  } else if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    if (ipv6) {
      std::memset(&v6, 0, sizeof(v6));
      v6.s6_addr[10] = v6.s6_addr[11] = 0xff;
      std::memcpy(&v6.s6_addr[12], &v4, sizeof(v4));
    }
  } else {
    return absl::InvalidArgumentError("not an IP address: '" + text + "'");
  }
  if (ipv6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    sin6->sin6_addr = v6;
    *len = sizeof(sockaddr_in6);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr = v4;
    *len = sizeof(sockaddr_in);
  }
  return ss;
}

int ReadSysctl(const char* path) {
  int value = -1;
  if (FILE* f = std::fopen(path, "r")) {
    if (std::fscanf(f, "%d", &value) != 1) value = -1;
    std::fclose(f);
  }
  return value;
}

}  // namespace

std::string Listener::Describe() const {
  auto policy = [](int p) { return p < 0 ? "unknown" : p == 0 ? "per socket" : "per association"; };
  return absl::StrCat("rcvbuf ", rcvbuf, " B (", policy(rcvbuf_policy), "), sndbuf ", sndbuf, " B (",
                      policy(sndbuf_policy), ")");
}

absl::StatusOr<Listener> OpenListener(const ListenerOptions& o) {
  if (o.addresses.empty()) return absl::InvalidArgumentError("listener: no address");
  if (o.streams == 0) return absl::InvalidArgumentError("listener: streams must be > 0");
  Listener l;
  in6_addr probe;
  for (const std::string& a : o.addresses) l.ipv6 |= inet_pton(AF_INET6, a.c_str(), &probe) == 1;
  l.fd.reset(socket(l.ipv6 ? AF_INET6 : AF_INET, SOCK_SEQPACKET | SOCK_CLOEXEC, IPPROTO_SCTP));
  if (!l.fd) {
    return absl::ErrnoToStatus(errno, "socket(SOCK_SEQPACKET, IPPROTO_SCTP) (no kernel SCTP? run under tools/sctpvm)");
  }
  const int fd = l.fd.get();
  sctp_initmsg init{};
  init.sinit_num_ostreams = o.streams;
  init.sinit_max_instreams = o.streams;
  if (setsockopt(fd, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof(init)) != 0) return Errno("setsockopt(SCTP_INITMSG)");
  absl::StatusOr<int> rcvbuf = SetSocketBuffer(fd, SO_RCVBUF, SO_RCVBUFFORCE, o.rcvbuf, "SO_RCVBUF");
  if (!rcvbuf.ok()) return rcvbuf.status();
  absl::StatusOr<int> sndbuf = SetSocketBuffer(fd, SO_SNDBUF, SO_SNDBUFFORCE, o.sndbuf, "SO_SNDBUF");
  if (!sndbuf.ok()) return sndbuf.status();
  l.rcvbuf = *rcvbuf;
  l.sndbuf = *sndbuf;
  l.rcvbuf_policy = ReadSysctl("/proc/sys/net/sctp/rcvbuf_policy");
  l.sndbuf_policy = ReadSysctl("/proc/sys/net/sctp/sndbuf_policy");
  int on = 1;
  if (setsockopt(fd, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof(on)) != 0) return Errno("SCTP_RECVRCVINFO");
  int nodelay = o.nodelay ? 1 : 0;
  if (setsockopt(fd, IPPROTO_SCTP, SCTP_NODELAY, &nodelay, sizeof(nodelay)) != 0) return Errno("SCTP_NODELAY");
  if (absl::Status s = SubscribeEvents(fd); !s.ok()) return s;
  uint16_t port = o.port;
  for (size_t i = 0; i < o.addresses.size(); ++i) {
    socklen_t len = 0;
    auto addr = ParseAddress(o.addresses[i], l.ipv6, port, &len);
    if (!addr.ok()) return addr.status();
    const std::string what = absl::StrCat(i == 0 ? "bind " : "sctp_bindx ", o.addresses[i], " port ", port);
    if (i == 0) {
      if (bind(fd, reinterpret_cast<sockaddr*>(&*addr), len) != 0) return Errno(what);
      sockaddr_storage bound{};
      socklen_t blen = sizeof(bound);
      if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen) != 0) return Errno("getsockname");
      port = ntohs(l.ipv6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                          : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    } else if (sctp_bindx(fd, reinterpret_cast<sockaddr*>(&*addr), 1, SCTP_BINDX_ADD_ADDR) != 0) {
      return Errno(what);
    }
  }
  if (listen(fd, o.backlog) != 0) return Errno("listen");
  l.port = port;
  return l;
}

}  // namespace sctpdp
