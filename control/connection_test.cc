// ConnectPlan and ConnectionMachine on the host: which family the socket
// needs for IPv4, IPv6 and mixed address sets, what is refused, and a
// connection's life with a fake clock: attempts, timeouts, stale ids, the
// backoff between, giving up, and the application's end.
#include "control/connection.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>

namespace sctpdp {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'000'000);

ConnectOptions To(std::vector<std::string> remote, std::vector<std::string> local = {}) {
  ConnectOptions o;
  o.remote = std::move(remote);
  o.port = 2905;
  o.local = std::move(local);
  return o;
}

TEST(PlanConnectTest, IPv4OnlyIsAnIPv4Socket) {
  auto p = PlanConnect(To({"10.0.0.1", "10.0.0.2"}, {"127.0.0.1"}));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->family, AF_INET);
  ASSERT_EQ(p->remote.size(), 2u);
  EXPECT_EQ(p->remote[1].family(), AF_INET);
  EXPECT_EQ(PortOf(p->remote[0].get()), 2905);
  EXPECT_EQ(PortOf(p->local[0].get()), 0);  // ephemeral
  EXPECT_EQ(p->packed_remote.size(), 2 * sizeof(sockaddr_in));
  EXPECT_EQ(p->Describe(), "127.0.0.1 -> 10.0.0.1,10.0.0.2:2905");
}

TEST(PlanConnectTest, AnyIPv6AddressMakesAnIPv6SocketAndIPv4KeepsItsFamily) {
  // Mixed remote.
  auto p = PlanConnect(To({"::1", "127.0.0.1"}));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->family, AF_INET6);
  EXPECT_EQ(p->remote[0].family(), AF_INET6);
  EXPECT_EQ(p->remote[1].family(), AF_INET);
  EXPECT_EQ(p->packed_remote.size(), sizeof(sockaddr_in6) + sizeof(sockaddr_in));
  // The packed form is the sockaddrs one after the other.
  sockaddr_in second;
  std::memcpy(&second, p->packed_remote.data() + sizeof(sockaddr_in6), sizeof(second));
  EXPECT_EQ(second.sin_family, AF_INET);
  EXPECT_EQ(ntohs(second.sin_port), 2905);
  EXPECT_EQ(p->Describe(), "* -> ::1,127.0.0.1:2905");
  // Mixed local, IPv4 remote.
  ConnectOptions o = To({"127.0.0.1"}, {"127.0.0.1", "::1"});
  o.local_port = 3868;
  p = PlanConnect(o);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->family, AF_INET6);
  EXPECT_EQ(PortOf(p->local[1].get()), 3868);
  EXPECT_EQ(p->Describe(), "127.0.0.1,::1:3868 -> 127.0.0.1:2905");
}

TEST(PlanConnectTest, RefusesWhatCannotBeConnected) {
  EXPECT_FALSE(PlanConnect(To({})).ok());                            // no peer
  EXPECT_FALSE(PlanConnect(To({"example.org"})).ok());               // not a literal
  EXPECT_FALSE(PlanConnect(To({"10.0.0.1"}, {"10.0.0.300"})).ok());  // bad local
  EXPECT_FALSE(PlanConnect(To({"10.0.0.1", "10.0.0.1"})).ok());      // twice
  ConnectOptions o = To({"10.0.0.1"});
  o.port = 0;
  EXPECT_FALSE(PlanConnect(o).ok());
  o = To({"10.0.0.1"});
  o.connect_timeout = absl::ZeroDuration();
  EXPECT_FALSE(PlanConnect(o).ok());
  o = To({"10.0.0.1"});
  o.reconnect.jitter = 2;
  EXPECT_FALSE(PlanConnect(o).ok());
  std::vector<std::string> many;
  for (int i = 1; i <= 17; ++i) many.push_back("10.0.0." + std::to_string(i));
  EXPECT_FALSE(PlanConnect(To(many)).ok());
}

ConnectOptions Reconnecting(unsigned max_attempts = 0) {
  ConnectOptions o = To({"10.0.0.1"});
  o.connect_timeout = absl::Seconds(2);
  o.reconnect.initial = absl::Milliseconds(100);
  o.reconnect.max = absl::Seconds(1);
  o.reconnect.jitter = 0;
  o.reconnect.max_attempts = max_attempts;
  o.reconnect.reset_after = absl::Seconds(5);
  return o;
}

TEST(ConnectionMachineTest, FirstAttemptAtOnceThenUp) {
  ConnectionMachine m(Reconnecting(), 1);
  EXPECT_EQ(m.Poll(kT0), ConnectionMachine::Due::kStart);
  m.Started(7, kT0);
  EXPECT_EQ(m.state(), ConnectionState::kConnecting);
  EXPECT_EQ(m.deadline(), kT0 + absl::Seconds(2));
  EXPECT_EQ(m.Poll(kT0 + absl::Seconds(1)), ConnectionMachine::Due::kNothing);
  EXPECT_FALSE(m.Up(8, kT0));  // someone else's id
  EXPECT_TRUE(m.Up(7, kT0 + absl::Milliseconds(3)));
  EXPECT_EQ(m.state(), ConnectionState::kUp);
  EXPECT_EQ(m.Poll(kT0 + absl::Hours(1)), ConnectionMachine::Due::kNothing);  // no timeout once up
  EXPECT_FALSE(m.Up(7, kT0));                                                 // once
  EXPECT_EQ(m.ups(), 1u);
}

TEST(ConnectionMachineTest, FailuresBackOffAndTimeoutsCountAsFailures) {
  ConnectionMachine m(Reconnecting(), 1);
  absl::Time now = kT0;
  m.Started(1, now);
  ConnectionMachine::Next n = m.Failed(now);  // refused
  EXPECT_TRUE(n.retry);
  EXPECT_EQ(n.delay, absl::Milliseconds(100));
  EXPECT_EQ(m.state(), ConnectionState::kWaiting);
  EXPECT_EQ(m.assoc(), 0);
  EXPECT_EQ(m.Poll(now + absl::Milliseconds(99)), ConnectionMachine::Due::kNothing);
  now += absl::Milliseconds(100);
  EXPECT_EQ(m.Poll(now), ConnectionMachine::Due::kStart);
  m.Started(2, now);
  now += absl::Seconds(2);
  EXPECT_EQ(m.Poll(now), ConnectionMachine::Due::kTimeout);  // no answer
  n = m.Failed(now);
  EXPECT_EQ(n.delay, absl::Milliseconds(200));
  for (absl::Duration want : {absl::Milliseconds(400), absl::Milliseconds(800), absl::Seconds(1), absl::Seconds(1)}) {
    now = m.deadline();
    m.Started(3, now);
    EXPECT_EQ(m.Failed(now).delay, want);
  }
  EXPECT_EQ(m.attempts(), 6u);
  EXPECT_EQ(m.failures(), 6u);
}

TEST(ConnectionMachineTest, AnAssociationThatStayedUpStartsTheScheduleOver) {
  ConnectionMachine m(Reconnecting(), 1);
  m.Started(1, kT0);
  m.Failed(kT0);
  m.Started(2, kT0 + absl::Seconds(1));
  m.Failed(kT0 + absl::Seconds(1));  // two failures: the next would wait 400 ms
  m.Started(3, kT0 + absl::Seconds(2));
  ASSERT_TRUE(m.Up(3, kT0 + absl::Seconds(2)));
  ConnectionMachine::Next n = m.Down(kT0 + absl::Seconds(60));  // up a minute
  EXPECT_TRUE(n.retry);
  EXPECT_EQ(n.delay, absl::Milliseconds(100));
  // Up for a moment only: the schedule goes on.
  m.Started(4, kT0 + absl::Seconds(61));
  ASSERT_TRUE(m.Up(4, kT0 + absl::Seconds(61)));
  EXPECT_EQ(m.Down(kT0 + absl::Seconds(62)).delay, absl::Milliseconds(200));
}

TEST(ConnectionMachineTest, GivesUpAfterMaxAttemptsInARow) {
  ConnectionMachine m(Reconnecting(/*max_attempts=*/3), 1);
  for (int i = 0; i < 2; ++i) {
    m.Started(i + 1, kT0);
    EXPECT_TRUE(m.Failed(kT0).retry);
  }
  m.Started(3, kT0);
  const ConnectionMachine::Next n = m.Failed(kT0);
  EXPECT_FALSE(n.retry);
  EXPECT_EQ(n.delay, absl::InfiniteDuration());
  EXPECT_EQ(m.state(), ConnectionState::kClosed);
  EXPECT_EQ(m.Poll(kT0 + absl::Hours(1)), ConnectionMachine::Due::kNothing);
}

TEST(ConnectionMachineTest, ReconnectOffMeansOneAttemptAndOneAssociation) {
  ConnectOptions o = Reconnecting();
  o.reconnect.enabled = false;
  ConnectionMachine failed(o, 1);
  failed.Started(1, kT0);
  EXPECT_FALSE(failed.Failed(kT0).retry);
  EXPECT_EQ(failed.state(), ConnectionState::kClosed);
  ConnectionMachine ended(o, 1);
  ended.Started(1, kT0);
  ASSERT_TRUE(ended.Up(1, kT0));
  EXPECT_FALSE(ended.Down(kT0 + absl::Seconds(1)).retry);
  EXPECT_EQ(ended.state(), ConnectionState::kClosed);
}

TEST(ConnectionMachineTest, CloseStopsAttemptsAndAnUpAssociationClosesWhenItEnds) {
  ConnectionMachine waiting(Reconnecting(), 1);
  waiting.Started(1, kT0);
  waiting.Failed(kT0);
  waiting.Close();
  EXPECT_EQ(waiting.state(), ConnectionState::kClosed);
  EXPECT_EQ(waiting.Poll(kT0 + absl::Hours(1)), ConnectionMachine::Due::kNothing);

  ConnectionMachine up(Reconnecting(), 1);
  up.Started(1, kT0);
  ASSERT_TRUE(up.Up(1, kT0));
  up.Close();
  EXPECT_EQ(up.state(), ConnectionState::kUp);  // the application shuts it down
  EXPECT_TRUE(up.closing());
  EXPECT_FALSE(up.Down(kT0 + absl::Seconds(1)).retry);
  EXPECT_EQ(up.state(), ConnectionState::kClosed);
}

TEST(ConnectionMachineTest, TheSameSeedGivesTheSameJitteredSchedule) {
  ConnectOptions o = Reconnecting();
  o.reconnect.jitter = 0.3;
  ConnectionMachine a(o, 1234);
  Backoff expected(o.reconnect, 1234);
  for (int i = 0; i < 10; ++i) {
    a.Started(i + 1, kT0);
    EXPECT_EQ(a.Failed(kT0).delay, expected.Next()) << i;
  }
}

}  // namespace
}  // namespace sctpdp
