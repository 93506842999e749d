// PeelOff against the real kernel (in the guest): the flags path, the
// fallback through the seam, and each error class, including a real EMFILE
// with RLIMIT_NOFILE lowered, after which the kernel has closed the
// association and the peer sees it end.
#include "control/peeloff.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <cerrno>

#include "tests/sctp_test_util.h"

namespace sctpdp {
namespace {

using testing::AwaitCommUp;
using testing::Connect;
using testing::MakeListener;

bool NonblockCloexec(int fd) {
  return (fcntl(fd, F_GETFL) & O_NONBLOCK) && (fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

TEST(PeeloffTest, FlagsPathGivesANonblockingCloexecDescriptorThatCarriesTheData) {
  auto l = MakeListener();
  Fd client = Connect(l.addr);
  sctp_assoc_t id = AwaitCommUp(l.fd.get());
  ASSERT_TRUE(testing::SendOn(client.get(), "before", 1, 11));
  auto fd = PeelOff(l.fd.get(), id);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_TRUE(NonblockCloexec(fd->get()));
  EXPECT_EQ(testing::Recv(fd->get()).data, "before");
}

// A kernel without SCTP_SOCKOPT_PEELOFF_FLAGS answers ENOPROTOOPT: the
// fallback takes the plain peeloff (real kernel) and sets the flags itself.
TEST(PeeloffTest, FallsBackWhereTheFlagsVariantIsMissing) {
  auto l = MakeListener();
  Fd client = Connect(l.addr);
  sctp_assoc_t id = AwaitCommUp(l.fd.get());
  PeeloffOps ops = PeeloffOps::Kernel();
  ops.peeloff_flags = [](int, sctp_assoc_t, unsigned) { return -ENOPROTOOPT; };
  auto fd = PeelOff(l.fd.get(), id, ops);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_TRUE(NonblockCloexec(fd->get()));
  ASSERT_TRUE(testing::SendOn(client.get(), "after", 0, 1));
  EXPECT_EQ(testing::Recv(fd->get()).data, "after");
}

TEST(PeeloffTest, BusyIsRetryable) {
  auto l = MakeListener();
  PeeloffOps ops = PeeloffOps::Kernel();
  ops.peeloff_flags = [](int, sctp_assoc_t, unsigned) { return -EBUSY; };
  EXPECT_EQ(PeelOff(l.fd.get(), 1, ops).status().code(), absl::StatusCode::kUnavailable);
}

TEST(PeeloffTest, UnknownAssociationIsNotFound) {
  auto l = MakeListener();
  EXPECT_EQ(PeelOff(l.fd.get(), 424242).status().code(), absl::StatusCode::kNotFound);
  // And through the fallback path too.
  PeeloffOps ops = PeeloffOps::Kernel();
  ops.peeloff_flags = [](int, sctp_assoc_t, unsigned) { return -ENOPROTOOPT; };
  EXPECT_EQ(PeelOff(l.fd.get(), 424242, ops).status().code(), absl::StatusCode::kNotFound);
}

TEST(PeeloffTest, OutOfDescriptorsLosesTheAssociationAndSaysSo) {
  auto l = MakeListener();
  Fd client = Connect(l.addr);
  sctp_assoc_t id = AwaitCommUp(l.fd.get());
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  // The lowest free descriptor is the next one peeloff would take: cap below it.
  int probe = dup(0);
  ASSERT_GE(probe, 0);
  close(probe);
  rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(probe);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  auto fd = PeelOff(l.fd.get(), id);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
  ASSERT_EQ(fd.status().code(), absl::StatusCode::kResourceExhausted) << fd.status();
  // The association is gone: the peer's next read sees it end.
  pollfd p{client.get(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 30000), 1);
  char buf[8];
  EXPECT_LE(recv(client.get(), buf, sizeof(buf), 0), 0);
  // And the listener no longer knows it.
  EXPECT_EQ(PeelOff(l.fd.get(), id).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace sctpdp
