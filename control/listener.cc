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

int ReadSysctl(const char* path) {
  int value = -1;
  if (FILE* f = std::fopen(path, "r")) {
    if (std::fscanf(f, "%d", &value) != 1) value = -1;
    std::fclose(f);
  }
  return value;
}

// The first address with bind (port 0: the kernel picks one), the others
// with sctp_bindx on the same port.
absl::Status Bind(Listener& l, const ListenerOptions& o) {
  const int fd = l.fd.get();
  uint16_t port = o.port;
  for (size_t i = 0; i < o.addresses.size(); ++i) {
    absl::StatusOr<SocketAddress> addr = MakeAddress(o.addresses[i], port, l.ipv6 ? AF_INET6 : AF_INET);
    if (!addr.ok()) return addr.status();
    const std::string what = absl::StrCat(i == 0 ? "bind " : "sctp_bindx ", o.addresses[i], " port ", port);
    if (i > 0) {
      if (sctp_bindx(fd, const_cast<sockaddr*>(addr->get()), 1, SCTP_BINDX_ADD_ADDR) != 0) return Errno(what);
      continue;
    }
    if (bind(fd, addr->get(), addr->length) != 0) return Errno(what);
    SocketAddress bound;
    bound.length = sizeof(bound.storage);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound.storage), &bound.length) != 0) return Errno("getsockname");
    port = PortOf(bound.get());
  }
  l.port = port;
  return absl::OkStatus();
}

}  // namespace

std::string Listener::Describe() const {
  auto policy = [](int p) { return p < 0 ? "unknown" : p == 0 ? "per socket" : "per association"; };
  return absl::StrCat("rcvbuf ", rcvbuf, " B (", policy(rcvbuf_policy), "), sndbuf ", sndbuf, " B (",
                      policy(sndbuf_policy), ")", tuning.empty() ? "" : ", ", tuning);
}

absl::StatusOr<Listener> OpenListener(const ListenerOptions& o) {
  if (o.addresses.empty()) return absl::InvalidArgumentError("listener: no address");
  if (o.streams == 0) return absl::InvalidArgumentError("listener: streams must be > 0");
  Listener l;
  in6_addr probe;
  for (const std::string& a : o.addresses) l.ipv6 |= inet_pton(AF_INET6, a.c_str(), &probe) == 1;
  absl::StatusOr<Fd> fd = OpenSctpSocket({.family = l.ipv6 ? AF_INET6 : AF_INET,
                                          .type = SOCK_SEQPACKET,
                                          .streams = o.streams,
                                          .nodelay = o.nodelay,
                                          .rcvbuf = o.rcvbuf,
                                          .sndbuf = o.sndbuf});
  if (!fd.ok()) return fd.status();
  l.fd = *std::move(fd);
  if (absl::Status s = ApplyTuning(l.fd.get(), o.tuning); !s.ok()) return s;
  l.tuning = o.tuning.Describe();
  absl::StatusOr<int> rcvbuf = GetSocketBuffer(l.fd.get(), SO_RCVBUF, "SO_RCVBUF");
  absl::StatusOr<int> sndbuf = GetSocketBuffer(l.fd.get(), SO_SNDBUF, "SO_SNDBUF");
  if (!rcvbuf.ok() || !sndbuf.ok()) return rcvbuf.ok() ? sndbuf.status() : rcvbuf.status();
  l.rcvbuf = *rcvbuf;
  l.sndbuf = *sndbuf;
  l.rcvbuf_policy = ReadSysctl("/proc/sys/net/sctp/rcvbuf_policy");
  l.sndbuf_policy = ReadSysctl("/proc/sys/net/sctp/sndbuf_policy");
  if (absl::Status s = Bind(l, o); !s.ok()) return s;
  if (listen(l.fd.get(), o.backlog) != 0) return Errno("listen");
  return l;
}

}  // namespace sctpdp
