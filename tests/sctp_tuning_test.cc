// SCTP tuning against the real kernel (in the guest): every option read back
// with getsockopt on the listener, on a peeled socket and on a connected
// one-to-one client; a value the kernel refuses is an error naming the
// option, at the listener's start.
#include "dataplane/sctp_tuning.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include "control/listener.h"
#include "control/peeloff.h"
#include "dataplane/sctp_socket.h"
#include "tests/sctp_test_util.h"

namespace sctpdp {
namespace {

// Multiples of 4 ms: an association keeps its timers in jiffies (HZ 250 on
// Debian), so these come back exactly.
SctpTuning Appliance() {
  SctpTuning t;
  t.rto_initial_ms = 1000;
  t.rto_min_ms = 200;
  t.rto_max_ms = 8000;
  t.max_retransmissions = 7;
  t.heartbeat_interval_ms = 4000;
  t.path_max_retransmissions = 3;
  t.sack_delay_ms = 100;
  t.sack_frequency = 2;
  t.init_max_attempts = 5;
  t.init_max_timeout_ms = 2000;
  t.default_stream = 3;
  t.default_ppid = 46;  // Diameter
  t.pr_policy = PrPolicy::kTtl;
  t.pr_value = 5000;
  t.max_segment = 1200;
  return t;
}

void ExpectTuning(int fd, const char* where) {
  SCOPED_TRACE(where);
  absl::StatusOr<SctpTuning> got = ReadTuning(fd);
  ASSERT_TRUE(got.ok()) << got.status();
  const SctpTuning want = Appliance();
  EXPECT_EQ(got->rto_initial_ms, want.rto_initial_ms);
  EXPECT_EQ(got->rto_min_ms, want.rto_min_ms);
  EXPECT_EQ(got->rto_max_ms, want.rto_max_ms);
  EXPECT_EQ(got->max_retransmissions, want.max_retransmissions);
  EXPECT_EQ(got->heartbeat_interval_ms, want.heartbeat_interval_ms);
  EXPECT_EQ(got->path_max_retransmissions, want.path_max_retransmissions);
  EXPECT_EQ(got->sack_delay_ms, want.sack_delay_ms);
  EXPECT_EQ(got->sack_frequency, want.sack_frequency);
  EXPECT_EQ(got->init_max_attempts, want.init_max_attempts);
  EXPECT_EQ(got->init_max_timeout_ms, want.init_max_timeout_ms);
  EXPECT_EQ(got->default_stream, want.default_stream);
  EXPECT_EQ(got->default_ppid, want.default_ppid);
  EXPECT_EQ(got->pr_policy, want.pr_policy);
  EXPECT_EQ(got->pr_value, want.pr_value);
  EXPECT_EQ(got->max_segment, want.max_segment);
}

absl::StatusOr<Listener> TunedListener(const SctpTuning& t) {
  return OpenListener({.tuning = t});
}

TEST(SctpTuningTest, EveryOptionReadsBackOnTheListener) {
  absl::StatusOr<Listener> l = TunedListener(Appliance());
  ASSERT_TRUE(l.ok()) << l.status();
  ExpectTuning(l->fd.get(), "listener");
}

// The association takes the endpoint's defaults; peeled, its socket reads
// them back, as does a one-to-one client tuned before connect.
TEST(SctpTuningTest, PeeledAndConnectedSocketsKeepEveryOption) {
  absl::StatusOr<Listener> l = TunedListener(Appliance());
  ASSERT_TRUE(l.ok()) << l.status();
  absl::StatusOr<Fd> client = OpenSctpSocket({.family = AF_INET, .type = SOCK_STREAM, .events = false});
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE(ApplyTuning(client->get(), Appliance()).ok());
  absl::StatusOr<SocketAddress> to = MakeAddress("127.0.0.1", l->port);
  ASSERT_TRUE(to.ok());
  ASSERT_EQ(connect(client->get(), to->get(), to->length), 0) << strerror(errno);
  const sctp_assoc_t id = testing::AwaitCommUp(l->fd.get());
  absl::StatusOr<Fd> peeled = PeelOff(l->fd.get(), id);
  ASSERT_TRUE(peeled.ok()) << peeled.status();
  ExpectTuning(peeled->get(), "peeled");
  ExpectTuning(client->get(), "connected");
  // Still the endpoint's for the next association.
  ExpectTuning(l->fd.get(), "listener after the peel");
}

// Unset fields keep the kernel's values: an empty tuning changes nothing.
TEST(SctpTuningTest, UnsetFieldsKeepTheKernelsValues) {
  absl::StatusOr<Listener> plain = TunedListener({});
  ASSERT_TRUE(plain.ok()) << plain.status();
  absl::StatusOr<SctpTuning> before = ReadTuning(plain->fd.get());
  ASSERT_TRUE(before.ok()) << before.status();
  SctpTuning one;
  one.sack_frequency = 4;  // the delay must stay the kernel's
  ASSERT_TRUE(ApplyTuning(plain->fd.get(), one).ok());
  absl::StatusOr<SctpTuning> after = ReadTuning(plain->fd.get());
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->sack_frequency, 4u);
  EXPECT_EQ(after->sack_delay_ms, before->sack_delay_ms);
  EXPECT_EQ(after->rto_initial_ms, before->rto_initial_ms);
  EXPECT_EQ(after->heartbeat_interval_ms, before->heartbeat_interval_ms);
  EXPECT_TRUE(SctpTuning{}.empty());
  EXPECT_EQ(one.Describe(), "sack frequency 4");
}

TEST(SctpTuningTest, HeartbeatsTurnOff) {
  SctpTuning t;
  t.heartbeat_interval_ms = 0;
  absl::StatusOr<Listener> l = TunedListener(t);
  ASSERT_TRUE(l.ok()) << l.status();
  absl::StatusOr<SctpTuning> got = ReadTuning(l->fd.get());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->heartbeat_interval_ms, 0u);
}

struct Refused {
  const char* option;
  SctpTuning tuning;
};

TEST(SctpTuningTest, ARefusedValueIsAnErrorNamingTheOption) {
  SctpTuning rto;  // min above max
  rto.rto_min_ms = 5000;
  rto.rto_max_ms = 1000;
  SctpTuning sack;  // RFC 4960: at most 500 ms
  sack.sack_delay_ms = 1000;
  SctpTuning seg;  // below the smallest segment the kernel allows
  seg.max_segment = 100;
  SctpTuning pr;
  pr.pr_policy = PrPolicy::kPrio;
  pr.pr_value = 1;
  pr.max_segment = 100;  // PRIO is accepted: the segment is what fails
  for (const Refused& r : {Refused{"SCTP_RTOINFO", rto}, Refused{"SCTP_DELAYED_SACK", sack},
                           Refused{"SCTP_MAXSEG", seg}, Refused{"SCTP_MAXSEG", pr}}) {
    absl::StatusOr<Listener> l = TunedListener(r.tuning);
    ASSERT_FALSE(l.ok()) << r.option;
    EXPECT_NE(l.status().message().find(r.option), std::string::npos) << l.status();
    EXPECT_NE(l.status().message().find("refused by the kernel"), std::string::npos) << l.status();
  }
}

}  // namespace
}  // namespace sctpdp
