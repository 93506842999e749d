// The one-to-many listener against the guest kernel: socket buffers beyond
// net.core.rmem_max (granted through the FORCE options, the guest runs as
// root), the buffer policies it reports, and bad input.
#include "control/listener.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "gtest/gtest.h"

namespace sctpdp {
namespace {

int ReadInt(const char* path) {
  int v = -1;
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return -1;
  if (std::fscanf(f, "%d", &v) != 1) v = -1;
  std::fclose(f);
  return v;
}

TEST(ListenerTest, BuffersAboveTheSysctlCapAreForcedAndReported) {
  const int rmem_max = ReadInt("/proc/sys/net/core/rmem_max");
  const int wmem_max = ReadInt("/proc/sys/net/core/wmem_max");
  ASSERT_GT(rmem_max, 0);
  ASSERT_GT(wmem_max, 0);
  ListenerOptions o;
  o.rcvbuf = rmem_max * 4;
  o.sndbuf = wmem_max * 4;
  auto l = OpenListener(o);
  ASSERT_TRUE(l.ok()) << l.status();
  // The kernel reports twice what it granted; a plain SO_RCVBUF would have
  // stopped at 2 * rmem_max.
  EXPECT_EQ(l->rcvbuf, 2 * o.rcvbuf);
  EXPECT_EQ(l->sndbuf, 2 * o.sndbuf);
  EXPECT_GT(l->port, 0);
  EXPECT_EQ(l->rcvbuf_policy, ReadInt("/proc/sys/net/sctp/rcvbuf_policy"));
  EXPECT_EQ(l->sndbuf_policy, ReadInt("/proc/sys/net/sctp/sndbuf_policy"));
  const std::string d = l->Describe();
  EXPECT_NE(d.find(std::to_string(l->rcvbuf)), std::string::npos) << d;
  EXPECT_NE(d.find(l->rcvbuf_policy == 0 ? "per socket" : "per association"), std::string::npos) << d;
}

TEST(ListenerTest, DefaultBuffersAreLeftAlone) {
  // Whatever a fresh SCTP socket starts with here.
  const int fd = socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP);
  ASSERT_GE(fd, 0);
  int fresh = 0;
  socklen_t len = sizeof(fresh);
  ASSERT_EQ(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &fresh, &len), 0);
  close(fd);
  auto l = OpenListener(ListenerOptions{});
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->rcvbuf, fresh);
}

TEST(ListenerTest, BadInputIsAnErrorNotACrash) {
  ListenerOptions bad_address;
  bad_address.addresses = {"not-an-address"};
  EXPECT_EQ(OpenListener(bad_address).status().code(), absl::StatusCode::kInvalidArgument);
  ListenerOptions none;
  none.addresses.clear();
  EXPECT_EQ(OpenListener(none).status().code(), absl::StatusCode::kInvalidArgument);
  ListenerOptions zero_streams;
  zero_streams.streams = 0;
  EXPECT_EQ(OpenListener(zero_streams).status().code(), absl::StatusCode::kInvalidArgument);
  auto first = OpenListener(ListenerOptions{});
  ASSERT_TRUE(first.ok()) << first.status();
  ListenerOptions same_port;
  same_port.port = first->port;
  auto second = OpenListener(same_port);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("bind"), std::string::npos) << second.status();
}

}  // namespace
}  // namespace sctpdp
