// Real kernel SCTP (in the guest when the host has none): the behaviours the
// whole design stands on. A one-to-many listener sees COMM_UP for a one-to-one
// client; sctp_peeloff_flags gives a non-blocking close-on-exec descriptor that
// carries the association's queued and later messages, in order, with stream
// and PPID; peeloff refuses unknown associations and one-to-one sockets.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/sctp.h>
#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "dataplane/fd.h"

namespace sctpdp {
namespace {

constexpr int kStreams = 4;

Fd MakeSocket(int type) {
  Fd fd(socket(AF_INET, type, IPPROTO_SCTP));
  if (!fd) ADD_FAILURE() << "socket(SCTP): " << std::strerror(errno) << " — no kernel SCTP here";
  return fd;
}

void SetInitStreams(int fd) {
  sctp_initmsg init{};
  init.sinit_num_ostreams = kStreams;
  init.sinit_max_instreams = kStreams;
  ASSERT_EQ(setsockopt(fd, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof(init)), 0) << std::strerror(errno);
}

// A one-to-many listener on 127.0.0.1, an ephemeral port, with association
// change events and SCTP_RCVINFO on every message.
struct Listener {
  Fd fd;
  sockaddr_in addr{};
};

Listener MakeListener() {
  Listener l;
  l.fd = MakeSocket(SOCK_SEQPACKET);
  if (!l.fd) return l;
  SetInitStreams(l.fd.get());
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
  EXPECT_EQ(listen(l.fd.get(), 16), 0) << std::strerror(errno);
  return l;
}

Fd Connect(const sockaddr_in& to) {
  Fd c = MakeSocket(SOCK_STREAM);
  if (!c) return c;
  SetInitStreams(c.get());
  int on = 1;
  EXPECT_EQ(setsockopt(c.get(), IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof(on)), 0);
  EXPECT_EQ(connect(c.get(), reinterpret_cast<const sockaddr*>(&to), sizeof(to)), 0) << std::strerror(errno);
  return c;
}

bool WaitReadable(int fd, int timeout_ms = 10000) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1;
}

struct Received {
  std::string data;
  int flags = 0;
  bool has_rcvinfo = false;
  sctp_rcvinfo info{};
};

// One recvmsg (waiting for readability first, so it works on O_NONBLOCK fds).
Received Recv(int fd) {
  Received r;
  if (!WaitReadable(fd)) {
    ADD_FAILURE() << "nothing to read within 10 s";
    return r;
  }
  char buf[65536];
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

// Waits for COMM_UP on the listener and returns the association id.
sctp_assoc_t AwaitCommUp(int listener) {
  for (int i = 0; i < 8; ++i) {
    Received r = Recv(listener);
    if (!(r.flags & MSG_NOTIFICATION)) continue;
    const auto* sn = reinterpret_cast<const sctp_notification*>(r.data.data());
    if (sn->sn_header.sn_type != SCTP_ASSOC_CHANGE) continue;
    const sctp_assoc_change& ac = sn->sn_assoc_change;
    EXPECT_EQ(ac.sac_state, SCTP_COMM_UP);
    EXPECT_EQ(ac.sac_inbound_streams, kStreams);
    EXPECT_EQ(ac.sac_outbound_streams, kStreams);
    return ac.sac_assoc_id;
  }
  ADD_FAILURE() << "no SCTP_ASSOC_CHANGE/COMM_UP";
  return 0;
}

void SendOn(int fd, const std::string& payload, uint16_t stream, uint32_t ppid) {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(sctp_sndinfo))] = {};
  iovec iov{const_cast<char*>(payload.data()), payload.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = IPPROTO_SCTP;
  c->cmsg_type = SCTP_SNDINFO;
  c->cmsg_len = CMSG_LEN(sizeof(sctp_sndinfo));
  sctp_sndinfo info{};
  info.snd_sid = stream;
  info.snd_ppid = htonl(ppid);
  std::memcpy(CMSG_DATA(c), &info, sizeof(info));
  ASSERT_EQ(sendmsg(fd, &msg, 0), static_cast<ssize_t>(payload.size())) << std::strerror(errno);
}

TEST(SctpKernelTest, OneToManyListenerSeesCommUpFromOneToOneClient) {
  Listener l = MakeListener();
  ASSERT_TRUE(l.fd);
  Fd client = Connect(l.addr);
  ASSERT_TRUE(client);
  EXPECT_NE(AwaitCommUp(l.fd.get()), 0);
}

TEST(SctpKernelTest, PeeloffFlagsGivesNonBlockingCloexecFd) {
  Listener l = MakeListener();
  ASSERT_TRUE(l.fd);
  Fd client = Connect(l.addr);
  sctp_assoc_t id = AwaitCommUp(l.fd.get());
  Fd peeled(sctp_peeloff_flags(l.fd.get(), id, SOCK_NONBLOCK | SOCK_CLOEXEC));
  ASSERT_TRUE(peeled) << "sctp_peeloff_flags: " << std::strerror(errno);
  EXPECT_TRUE(fcntl(peeled.get(), F_GETFL) & O_NONBLOCK);
  EXPECT_TRUE(fcntl(peeled.get(), F_GETFD) & FD_CLOEXEC);
  // Without the flags, neither is set: the flags variant is what sets them.
  Fd client2 = Connect(l.addr);
  sctp_assoc_t id2 = AwaitCommUp(l.fd.get());
  Fd plain(sctp_peeloff(l.fd.get(), id2));
  ASSERT_TRUE(plain) << std::strerror(errno);
  EXPECT_FALSE(fcntl(plain.get(), F_GETFL) & O_NONBLOCK);
  EXPECT_FALSE(fcntl(plain.get(), F_GETFD) & FD_CLOEXEC);
}

// Messages queued on the one-to-many socket before the peeloff move with the
// association (sctp_sock_migrate); later ones arrive on the new fd directly.
TEST(SctpKernelTest, MessagesBeforeAndAfterPeeloffArriveInOrderWithStreamAndPpid) {
  Listener l = MakeListener();
  ASSERT_TRUE(l.fd);
  Fd client = Connect(l.addr);
  sctp_assoc_t id = AwaitCommUp(l.fd.get());
  constexpr int kPerPhase = 40;
  auto payload = [](int i) { return "msg-" + std::to_string(i) + std::string(i * 7 % 300, 'x'); };
  for (int i = 0; i < kPerPhase; ++i) SendOn(client.get(), payload(i), i % kStreams, 1000 + i);
  // Let the first phase reach the listener's queue before the move.
  ASSERT_TRUE(WaitReadable(l.fd.get()));
  Fd peeled(sctp_peeloff_flags(l.fd.get(), id, SOCK_NONBLOCK | SOCK_CLOEXEC));
  ASSERT_TRUE(peeled) << std::strerror(errno);
  int on = 1;
  ASSERT_EQ(setsockopt(peeled.get(), IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof(on)), 0);
  for (int i = kPerPhase; i < 2 * kPerPhase; ++i) SendOn(client.get(), payload(i), i % kStreams, 1000 + i);

  for (int i = 0; i < 2 * kPerPhase; ++i) {
    Received r = Recv(peeled.get());
    ASSERT_FALSE(r.flags & MSG_NOTIFICATION) << "message " << i;
    EXPECT_TRUE(r.flags & MSG_EOR) << "message " << i;
    EXPECT_EQ(r.data, payload(i));
    ASSERT_TRUE(r.has_rcvinfo) << "message " << i;
    EXPECT_EQ(r.info.rcv_sid, i % kStreams);
    EXPECT_EQ(ntohl(r.info.rcv_ppid), 1000u + i);
  }
  // Nothing for this association is left on the one-to-many socket.
  pollfd p{l.fd.get(), POLLIN, 0};
  EXPECT_EQ(poll(&p, 1, 0), 0);
}

TEST(SctpKernelTest, PeeloffOfUnknownAssociationFailsWithEinval) {
  Listener l = MakeListener();
  ASSERT_TRUE(l.fd);
  errno = 0;
  EXPECT_EQ(sctp_peeloff_flags(l.fd.get(), 12345, SOCK_NONBLOCK | SOCK_CLOEXEC), -1);
  EXPECT_EQ(errno, EINVAL);
}

TEST(SctpKernelTest, PeeloffOfOneToOneSocketFailsWithEinval) {
  Listener l = MakeListener();
  ASSERT_TRUE(l.fd);
  Fd client = Connect(l.addr);
  ASSERT_TRUE(client);
  sctp_assoc_t id = AwaitCommUp(l.fd.get());
  (void)id;
  sctp_status status{};
  socklen_t len = sizeof(status);
  ASSERT_EQ(getsockopt(client.get(), IPPROTO_SCTP, SCTP_STATUS, &status, &len), 0);
  errno = 0;
  EXPECT_EQ(sctp_peeloff_flags(client.get(), status.sstat_assoc_id, SOCK_NONBLOCK | SOCK_CLOEXEC), -1);
  EXPECT_EQ(errno, EINVAL);
}

}  // namespace
}  // namespace sctpdp
