#include "tests/sctp_test_util.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include "dataplane/sctp_parse.h"

#include <cerrno>
#include <cstring>

namespace sctpdp::testing {
namespace {

Fd MakeSocket(int type) {
  Fd fd(socket(AF_INET, type, IPPROTO_SCTP));
  if (!fd) ADD_FAILURE() << "socket(SCTP): " << std::strerror(errno) << ": no kernel SCTP here";
  return fd;
}

void SetInitStreams(int fd, int streams) {
  sctp_initmsg init{};
  init.sinit_num_ostreams = streams;
  init.sinit_max_instreams = streams;
  EXPECT_EQ(setsockopt(fd, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof(init)), 0) << std::strerror(errno);
}

}  // namespace

Listener MakeListener(int streams) {
  Listener l;
  l.fd = MakeSocket(SOCK_SEQPACKET);
  if (!l.fd) return l;
  SetInitStreams(l.fd.get(), streams);
  l.addr.sin_family = AF_INET;
  l.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(l.fd.get(), reinterpret_cast<sockaddr*>(&l.addr), sizeof(l.addr)), 0) << std::strerror(errno);
  socklen_t len = sizeof(l.addr);
  EXPECT_EQ(getsockname(l.fd.get(), reinterpret_cast<sockaddr*>(&l.addr), &len), 0);
  sctp_event ev{};
  ev.se_type = SCTP_ASSOC_CHANGE;
  ev.se_on = 1;
  EXPECT_EQ(setsockopt(l.fd.get(), IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof(ev)), 0) << std::strerror(errno);
  int on = 1;
  EXPECT_EQ(setsockopt(l.fd.get(), IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof(on)), 0);
  EXPECT_EQ(listen(l.fd.get(), 128), 0) << std::strerror(errno);
  return l;
}

Fd Connect(const sockaddr_in& to, int streams, int rcvbuf) {
  Fd c = MakeSocket(SOCK_STREAM);
  if (!c) return c;
  SetInitStreams(c.get(), streams);
  int on = 1;
  EXPECT_EQ(setsockopt(c.get(), IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof(on)), 0);
  EXPECT_EQ(setsockopt(c.get(), IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof(on)), 0);
  if (rcvbuf > 0) {
    EXPECT_EQ(setsockopt(c.get(), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)), 0) << std::strerror(errno);
  }
  EXPECT_EQ(connect(c.get(), reinterpret_cast<const sockaddr*>(&to), sizeof(to)), 0) << std::strerror(errno);
  return c;
}

Received Recv(int fd) {
  Received r;
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 30000) != 1) {
    ADD_FAILURE() << "nothing to read within 30 s";
    return r;
  }
  static thread_local char buf[1 << 20];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(sctp_rcvinfo))];
  iovec iov{buf, sizeof(buf)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n = recvmsg(fd, &msg, 0);
  if (n < 0) {
    ADD_FAILURE() << "recvmsg: " << std::strerror(errno);
    return r;
  }
  r.data.assign(buf, n);
  r.flags = msg.msg_flags;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_SCTP && c->cmsg_type == SCTP_RCVINFO) {
      std::memcpy(&r.info, CMSG_DATA(c), sizeof(r.info));
      r.has_rcvinfo = true;
    }
  }
  return r;
}

sctp_assoc_t AwaitCommUp(int listener) {
  for (int i = 0; i < 16; ++i) {
    Received r = Recv(listener);
    if (!(r.flags & MSG_NOTIFICATION)) continue;
    const auto* sn = reinterpret_cast<const sctp_notification*>(r.data.data());
    if (sn->sn_header.sn_type != SCTP_ASSOC_CHANGE) continue;
    EXPECT_EQ(sn->sn_assoc_change.sac_state, SCTP_COMM_UP);
    return sn->sn_assoc_change.sac_assoc_id;
  }
  ADD_FAILURE() << "no SCTP_ASSOC_CHANGE/COMM_UP";
  return 0;
}

ssize_t TrySendOn(int fd, const std::string& payload, uint16_t stream, uint32_t ppid, int flags) {
  alignas(cmsghdr) char control[kSendControlBytes];
  iovec iov{const_cast<char*>(payload.data()), payload.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  FillSendControl(&msg, control, stream, ppid, 0, 0, 0);
  return sendmsg(fd, &msg, flags | MSG_NOSIGNAL);
}

bool SendOn(int fd, const std::string& payload, uint16_t stream, uint32_t ppid) {
  const ssize_t n = TrySendOn(fd, payload, stream, ppid, 0);
  EXPECT_EQ(n, static_cast<ssize_t>(payload.size())) << std::strerror(errno);
  return n == static_cast<ssize_t>(payload.size());
}

std::string Pattern(uint32_t seq, size_t size) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>((seq * 131 + i * 7) & 0xff);
  std::memcpy(s.data(), &seq, std::min(size, sizeof(seq)));
  return s;
}

}  // namespace sctpdp::testing

namespace sctpdp::testing {
uint32_t SeqOf(const std::string& payload) {
  uint32_t seq = ~0u;
  if (payload.size() >= sizeof(seq)) std::memcpy(&seq, payload.data(), sizeof(seq));
  return seq;
}
}  // namespace sctpdp::testing
