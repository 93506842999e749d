#include "dataplane/sctp_socket.h"

#include <netinet/in.h>
#include <netinet/sctp.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "dataplane/log.h"
#include "dataplane/sctp_parse.h"

namespace sctpdp {

absl::StatusOr<SocketAddress> MakeAddress(const std::string& literal, uint16_t port, int family) {
  SocketAddress out;
  in_addr v4;
  in6_addr v6;
  const bool is_v6 = inet_pton(AF_INET6, literal.c_str(), &v6) == 1;
  if (!is_v6 && inet_pton(AF_INET, literal.c_str(), &v4) != 1) {
    return absl::InvalidArgumentError("not an IP address: '" + literal + "'");
  }
  if (is_v6 && family == AF_INET) return absl::InvalidArgumentError("IPv6 address on an IPv4 socket: " + literal);
  if (!is_v6 && family == AF_INET6) {  // v4-mapped
    std::memset(&v6, 0, sizeof(v6));
    v6.s6_addr[10] = v6.s6_addr[11] = 0xff;
    std::memcpy(&v6.s6_addr[12], &v4, sizeof(v4));
  }
  if (is_v6 || family == AF_INET6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    sin6->sin6_addr = v6;
    out.length = sizeof(sockaddr_in6);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out.storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr = v4;
    out.length = sizeof(sockaddr_in);
  }
  return out;
}

std::string AddressString(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof(buf));
  } else if (sa->sa_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
      inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], buf, sizeof(buf));
    } else {
      inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
    }
  }
  return buf;
}

absl::StatusOr<std::vector<SocketAddress>> AssociationAddresses(int fd, sctp_assoc_t id, bool peer) {
  sockaddr* addrs = nullptr;
  const int n = peer ? sctp_getpaddrs(fd, id, &addrs) : sctp_getladdrs(fd, id, &addrs);
  if (n < 0) return absl::ErrnoToStatus(errno, peer ? "sctp_getpaddrs" : "sctp_getladdrs");
  std::vector<SocketAddress> out(static_cast<size_t>(n));
  const char* at = reinterpret_cast<const char*>(addrs);
  for (SocketAddress& a : out) {  // packed one after the other, each its family's size
    const auto* sa = reinterpret_cast<const sockaddr*>(at);
    a.length = sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    std::memcpy(&a.storage, sa, a.length);
    at += a.length;
  }
  if (n > 0) peer ? sctp_freepaddrs(addrs) : sctp_freeladdrs(addrs);
  return out;
}

uint16_t PortOf(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(sa)->sin_port);
  if (sa->sa_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port);
  return 0;
}

absl::StatusOr<Fd> OpenSctpSocket(const SctpSocketOptions& o) {
  Fd fd(socket(o.family, o.type | SOCK_CLOEXEC, IPPROTO_SCTP));
  if (!fd) {
    const int err = errno;
    const bool no_sctp = err == EPROTONOSUPPORT || err == ESOCKTNOSUPPORT || err == EAFNOSUPPORT;
    return absl::ErrnoToStatus(err, no_sctp ? "socket(IPPROTO_SCTP) (no kernel SCTP? run under tools/sctpvm)"
                                            : "socket(IPPROTO_SCTP)");
  }
  auto set = [&](int level, int name, int value, const char* what) -> absl::Status {
    if (setsockopt(fd.get(), level, name, &value, sizeof(value)) == 0) return absl::OkStatus();
    return absl::ErrnoToStatus(errno, absl::StrCat("setsockopt(", what, ")"));
  };
  sctp_initmsg init{};
  init.sinit_num_ostreams = o.streams;
  init.sinit_max_instreams = o.streams;
  if (setsockopt(fd.get(), IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof(init)) != 0) {
    return absl::ErrnoToStatus(errno, "setsockopt(SCTP_INITMSG)");
  }
  if (absl::Status s = set(IPPROTO_SCTP, SCTP_NODELAY, o.nodelay, "SCTP_NODELAY"); !s.ok()) return s;
  if (o.rcvinfo) {
    if (absl::Status s = set(IPPROTO_SCTP, SCTP_RECVRCVINFO, 1, "SCTP_RECVRCVINFO"); !s.ok()) return s;
  }
  if (o.events) {
    if (absl::Status s = SubscribeEvents(fd.get()); !s.ok()) return s;
  }
  if (auto r = SetSocketBuffer(fd.get(), SO_RCVBUF, SO_RCVBUFFORCE, o.rcvbuf, "SO_RCVBUF"); !r.ok()) return r.status();
  if (auto r = SetSocketBuffer(fd.get(), SO_SNDBUF, SO_SNDBUFFORCE, o.sndbuf, "SO_SNDBUF"); !r.ok()) return r.status();
  return fd;
}

RecvResult RecvWithInfo(int fd, absl::Span<char> buf, int flags) {
  RecvResult r;
  alignas(cmsghdr) char control[kRecvControlBytes];
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  r.bytes = recvmsg(fd, &msg, flags);
  if (r.bytes < 0) {
    r.bytes = -errno;
    return r;
  }
  r.msg_flags = msg.msg_flags;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_SCTP && c->cmsg_type == SCTP_RCVINFO) {
      std::memcpy(&r.info, CMSG_DATA(c), sizeof(r.info));
      r.has_rcvinfo = true;
    }
  }
  return r;
}

ssize_t SendWithInfo(int fd, absl::Span<const char> payload, uint16_t stream, uint32_t ppid, sctp_assoc_t assoc_id,
                     int flags) {
  alignas(cmsghdr) char control[kSendControlBytes];
  iovec iov{const_cast<char*>(payload.data()), payload.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  FillSendControl(&msg, control, stream, ppid, 0, 0, assoc_id);
  return sendmsg(fd, &msg, flags | MSG_NOSIGNAL);
}

absl::Status SubscribeEvents(int fd) {
  const uint16_t types[] = {SCTP_ASSOC_CHANGE,     SCTP_SHUTDOWN_EVENT,         SCTP_SEND_FAILED_EVENT,
                            SCTP_PEER_ADDR_CHANGE, SCTP_PARTIAL_DELIVERY_EVENT, SCTP_REMOTE_ERROR};
  bool per_type = true;
  for (uint16_t type : types) {
    sctp_event ev{};
    ev.se_type = type;
    ev.se_on = 1;
    if (setsockopt(fd, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof(ev)) == 0) continue;
    if (errno != ENOPROTOOPT && errno != EINVAL) {
      return absl::ErrnoToStatus(errno, absl::StrCat("setsockopt(SCTP_EVENT ", type, ")"));
    }
    per_type = false;
    break;
  }
  if (per_type) return absl::OkStatus();
  // Legacy: the struct has grown over the years; pass only the prefix we set.
  sctp_event_subscribe sub{};
  sub.sctp_data_io_event = 1;
  sub.sctp_association_event = 1;
  sub.sctp_address_event = 1;
  sub.sctp_send_failure_event = 1;
  sub.sctp_peer_error_event = 1;
  sub.sctp_shutdown_event = 1;
  sub.sctp_partial_delivery_event = 1;
  const socklen_t len = offsetof(sctp_event_subscribe, sctp_partial_delivery_event) + 1;
  if (setsockopt(fd, IPPROTO_SCTP, SCTP_EVENTS, &sub, len) != 0) {
    return absl::ErrnoToStatus(errno, "setsockopt(SCTP_EVENTS)");
  }
  static std::atomic<bool> logged{false};
  if (!logged.exchange(true)) {
    Logf("SCTP_EVENT unsupported; subscribed with the legacy SCTP_EVENTS (%u bytes)", unsigned(len));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> GetSocketBuffer(int fd, int opt, const char* name) {
  int got = 0;
  socklen_t len = sizeof(got);
  if (getsockopt(fd, SOL_SOCKET, opt, &got, &len) != 0) return absl::ErrnoToStatus(errno, name);
  return got;
}

absl::StatusOr<int> SetSocketBuffer(int fd, int opt, int force_opt, int bytes, const char* name) {
  if (bytes > 0 && setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes)) != 0) {
    return absl::ErrnoToStatus(errno, name);
  }
  absl::StatusOr<int> got = GetSocketBuffer(fd, opt, name);
  if (!got.ok() || *got / 2 >= bytes) return got;
  if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof(bytes)) != 0) return got;
  return GetSocketBuffer(fd, opt, name);
}

int SendSctpFlag(int fd, uint16_t sctp_flag, sctp_assoc_t assoc_id) {
  alignas(cmsghdr) char control[kSendControlBytes];
  msghdr msg{};
  FillSendControl(&msg, control, 0, 0, sctp_flag, 0, assoc_id);
  return sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ? -errno : 0;
}

bool ReceiveQueueEmpty(int fd) {
  int next = 0;
  return ioctl(fd, SIOCINQ, &next) != 0 || next == 0;
}

}  // namespace sctpdp
