#include "tests/sctp_test_util.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include "dataplane/sctp_parse.h"
#include "dataplane/sctp_socket.h"

#include <cerrno>
#include <cstring>

namespace sctpdp::testing {
namespace {

// An SCTP socket as the tests' ends need it; a failure is the test's.
Fd Open(int type, int streams, int rcvbuf) {
  absl::StatusOr<Fd> fd = OpenSctpSocket(
      {.type = type, .streams = static_cast<uint16_t>(streams), .events = false, .rcvbuf = rcvbuf});
  if (!fd.ok()) {
    ADD_FAILURE() << fd.status() << ": no kernel SCTP here";
    return Fd();
  }
  return *std::move(fd);
}

}  // namespace

Listener MakeListener(int streams) {
  Listener l;
  l.fd = Open(SOCK_SEQPACKET, streams, 0);
  if (!l.fd) return l;
  l.addr.sin_family = AF_INET;
  l.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(l.fd.get(), reinterpret_cast<sockaddr*>(&l.addr), sizeof(l.addr)), 0) << std::strerror(errno);
  socklen_t len = sizeof(l.addr);
  EXPECT_EQ(getsockname(l.fd.get(), reinterpret_cast<sockaddr*>(&l.addr), &len), 0);
  sctp_event ev{};
  ev.se_type = SCTP_ASSOC_CHANGE;
  ev.se_on = 1;
  EXPECT_EQ(setsockopt(l.fd.get(), IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof(ev)), 0) << std::strerror(errno);
  EXPECT_EQ(listen(l.fd.get(), 128), 0) << std::strerror(errno);
  return l;
}

Fd Connect(const sockaddr_in& to, int streams, int rcvbuf) {
  Fd c = Open(SOCK_STREAM, streams, rcvbuf);
  if (!c) return c;
  EXPECT_EQ(connect(c.get(), reinterpret_cast<const sockaddr*>(&to), sizeof(to)), 0) << std::strerror(errno);
  return c;
}

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

uint16_t LocalPort(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

Received Recv(int fd) {
  Received r;
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 30000) != 1) {
    ADD_FAILURE() << "nothing to read within 30 s";
    return r;
  }
  static thread_local char buf[1 << 20];
  const RecvResult got = RecvWithInfo(fd, absl::MakeSpan(buf, sizeof(buf)), 0);
  if (got.bytes < 0) {
    ADD_FAILURE() << "recvmsg: " << std::strerror(static_cast<int>(-got.bytes));
    return r;
  }
  r.data.assign(buf, static_cast<size_t>(got.bytes));
  r.flags = got.msg_flags;
  r.has_rcvinfo = got.has_rcvinfo;
  r.info = got.info;
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
  return SendWithInfo(fd, payload, stream, ppid, 0, flags);
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
