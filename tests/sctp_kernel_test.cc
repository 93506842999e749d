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
#include "tests/sctp_test_util.h"

namespace sctpdp {
namespace {

using testing::AwaitCommUp;
using testing::Connect;
using testing::kStreams;
using testing::Listener;
using testing::MakeListener;
using testing::Received;
using testing::Recv;

void SendOn(int fd, const std::string& payload, uint16_t stream, uint32_t ppid) {
  ASSERT_TRUE(testing::SendOn(fd, payload, stream, ppid));
}

bool WaitReadable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 10000) == 1;
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
