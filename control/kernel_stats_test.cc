#include "control/kernel_stats.h"

#include <map>

#include "gtest/gtest.h"

namespace sctpdp {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000);

// What the fake kernel says about each association (by fd).
struct FakeKernel {
  std::map<int, SctpStatus> by_fd;
  absl::StatusOr<SctpStatus> Read(int fd, sctp_assoc_t) {
    auto it = by_fd.find(fd);
    if (it == by_fd.end()) return absl::NotFoundError("gone");
    return it->second;
  }
};

SctpStatus Status(uint16_t unacked, uint32_t rwnd, uint64_t sacks_in, uint64_t packets = 0, uint64_t rtx = 0) {
  SctpStatus s;
  s.state = SCTP_ESTABLISHED;
  s.unacked_chunks = unacked;
  s.peer_rwnd = rwnd;
  s.has_counters = true;
  s.counters.sacks_in = sacks_in;
  s.counters.packets_in = packets;
  s.counters.retransmitted_chunks = rtx;
  s.syscalls = 3;
  return s;
}

KernelStatsSampler::Pass RunPass(KernelStatsSampler& s, FakeKernel& k, absl::Time now,
                                 const std::map<sctp_assoc_t, int>& assocs) {
  s.Begin(now);
  for (const auto& [id, fd] : assocs) {
    s.Read(id, fd, [&](int f, sctp_assoc_t i) { return k.Read(f, i); });
  }
  return s.Finish();
}

TEST(KernelStatsSamplerTest, DueEveryIntervalAndNeverWhenOff) {
  KernelStatsSampler s({.interval = absl::Seconds(1)}, 0);
  EXPECT_TRUE(s.Due(kT0));
  s.Begin(kT0);
  s.Finish();
  EXPECT_FALSE(s.Due(kT0 + absl::Milliseconds(999)));
  EXPECT_TRUE(s.Due(kT0 + absl::Seconds(1)));
  KernelStatsSampler off({.interval = absl::ZeroDuration()}, 0);
  EXPECT_FALSE(off.Due(kT0));
}

TEST(KernelStatsSamplerTest, CountsIncrementsBetweenReadsAndErrors) {
  FakeKernel k;
  KernelStatsSampler s({.interval = absl::Seconds(1)}, 2);
  k.by_fd[7] = Status(0, 1000, 10, /*packets=*/100, /*rtx=*/1);
  KernelStatsSampler::Pass p1 = RunPass(s, k, kT0, {{1, 7}, {2, 8}});
  ASSERT_EQ(p1.reads.size(), 1u);
  EXPECT_EQ(p1.reads[0].shard, 2);
  EXPECT_EQ(p1.reads[0].packets_in_interval, 100u);
  EXPECT_EQ(p1.increments.reads, 2u);
  EXPECT_EQ(p1.increments.read_errors, 1u);
  EXPECT_EQ(p1.increments.syscalls, 3u);
  EXPECT_EQ(p1.increments.retransmitted_chunks, 1u);
  k.by_fd[7] = Status(0, 1000, 12, /*packets=*/130, /*rtx=*/4);
  KernelStatsSampler::Pass p2 = RunPass(s, k, kT0 + absl::Seconds(1), {{1, 7}});
  EXPECT_EQ(p2.reads[0].packets_in_interval, 30u);
  EXPECT_EQ(p2.increments.packets_in, 30u);
  EXPECT_EQ(p2.increments.retransmitted_chunks, 3u);
  // A counter that went back (a restart) counts from zero.
  k.by_fd[7] = Status(0, 1000, 1, /*packets=*/5, /*rtx=*/0);
  EXPECT_EQ(RunPass(s, k, kT0 + absl::Seconds(2), {{1, 7}}).increments.packets_in, 5u);
}

TEST(KernelStatsSamplerTest, StallIsDataOutstandingWithoutProgressForStallAfter) {
  FakeKernel k;
  KernelStatsSampler s({.interval = absl::Seconds(1), .stall_after = absl::Seconds(3)}, 0);
  const std::map<sctp_assoc_t, int> one = {{5, 3}};
  k.by_fd[3] = Status(4, 0, 10);
  EXPECT_TRUE(RunPass(s, k, kT0, one).stalled_now.empty());
  // Zero-window probes are SACKed (sacks_in moves) but the window stays shut.
  k.by_fd[3] = Status(4, 0, 11);
  EXPECT_TRUE(RunPass(s, k, kT0 + absl::Seconds(2), one).stalled_now.empty());
  k.by_fd[3] = Status(4, 0, 12);
  KernelStatsSampler::Pass p = RunPass(s, k, kT0 + absl::Seconds(3), one);
  ASSERT_EQ(p.stalled_now.size(), 1u);
  EXPECT_EQ(p.stalled_now[0].id, 5);
  EXPECT_EQ(p.increments.stalls, 1u);
  // Reported once: still stalled, no new onset.
  k.by_fd[3] = Status(4, 0, 13);
  p = RunPass(s, k, kT0 + absl::Seconds(4), one);
  EXPECT_TRUE(p.stalled_now.empty());
  EXPECT_TRUE(p.reads[0].stalled);
  // The window opens and a SACK comes: progress, the stall ends.
  k.by_fd[3] = Status(4, 5000, 14);
  p = RunPass(s, k, kT0 + absl::Seconds(5), one);
  EXPECT_FALSE(p.reads[0].stalled);
  // A silent peer (no SACK at all) stalls too; nothing outstanding never does.
  k.by_fd[3] = Status(4, 5000, 14);
  EXPECT_EQ(RunPass(s, k, kT0 + absl::Seconds(8), one).stalled_now.size(), 1u);
  k.by_fd[3] = Status(0, 5000, 14);
  EXPECT_FALSE(RunPass(s, k, kT0 + absl::Seconds(20), one).reads[0].stalled);
}

TEST(KernelStatsSamplerTest, NoStallDetectionWhenStallAfterIsZero) {
  FakeKernel k;
  KernelStatsSampler s({.interval = absl::Seconds(1), .stall_after = absl::ZeroDuration()}, 0);
  k.by_fd[3] = Status(4, 0, 10);
  RunPass(s, k, kT0, {{5, 3}});
  EXPECT_TRUE(RunPass(s, k, kT0 + absl::Hours(1), {{5, 3}}).stalled_now.empty());
}

TEST(KernelStatsBoardTest, LatestReadWinsAndBusiestFirst) {
  KernelStatsBoard board(3);
  KernelStatsSampler::Pass control, worker;
  control.reads.push_back({.id = 1, .shard = 2, .sampled = kT0, .packets_in_interval = 50});
  control.reads.push_back({.id = 2, .shard = 2, .sampled = kT0, .packets_in_interval = 10});
  control.increments.retransmitted_chunks = 7;
  worker.reads.push_back({.id = 1, .shard = 0, .sampled = kT0 + absl::Seconds(1), .packets_in_interval = 80});
  worker.reads.back().status.unacked_chunks = 3;
  worker.reads.back().status.paths = {SctpPathStatus{.address = "10.0.0.1", .state = SCTP_ACTIVE},
                                      SctpPathStatus{.address = "10.0.1.1", .state = SCTP_INACTIVE}};
  worker.increments.retransmitted_chunks = 2;
  board.Publish(2, control);
  board.Publish(0, worker);
  // Association 1 moved: the worker's read is the latest.
  std::optional<AssociationKernelStats> one = board.Get(1);
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->shard, 0);
  EXPECT_FALSE(board.Get(3).has_value());
  const KernelTotals t = board.Totals();
  EXPECT_EQ(t.associations, 2u);
  EXPECT_EQ(t.unacked_chunks, 3u);
  EXPECT_EQ(t.paths, 2u);
  EXPECT_EQ(t.paths_unreachable, 1u);
  EXPECT_EQ(t.retransmitted_chunks, 9u);
  const std::vector<AssociationKernelStats> top = board.Busiest(1);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].id, 1);
  EXPECT_EQ(top[0].packets_in_interval, 80u);
  EXPECT_EQ(board.Busiest(10).size(), 2u);
  // A later pass without association 2 forgets it.
  board.Publish(2, KernelStatsSampler::Pass{});
  EXPECT_EQ(board.Totals().associations, 1u);
}

}  // namespace
}  // namespace sctpdp
