// Host tests: the ring sets up with the best flags this kernel accepts, and
// the opcodes and behaviours the data plane needs are probed and reported.
#include "dataplane/ring.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "dataplane/ring_features.h"

namespace sctpdp {
namespace {

TEST(RingFeaturesTest, ProbesAndReportsTheDataPlaneFeatures) {
  const RingFeatures& f = ProbeRingFeatures();
  std::printf("io_uring features: %s\n", f.ToString().c_str());
  // The data plane's floor: recvmsg/sendmsg, buffer rings and multishot recvmsg
  // (kernel 6.0). The build hosts (6.18) and the guest (6.1) have all of them.
  EXPECT_TRUE(f.op_recvmsg);
  EXPECT_TRUE(f.op_sendmsg);
  EXPECT_TRUE(f.op_async_cancel);
  EXPECT_TRUE(f.buf_ring);
  EXPECT_TRUE(f.recvmsg_multishot);
  EXPECT_TRUE(f.msg_ring_send_fd);
  EXPECT_TRUE(f.single_issuer);
  EXPECT_TRUE(f.defer_taskrun);
  // Cached: a second call is the same object.
  EXPECT_EQ(&f, &ProbeRingFeatures());
}

TEST(RingTest, CreatesWithTheBestFlagsAndAFixedFileTable) {
  auto ring = Ring::Create({.sq_entries = 64, .cq_entries = 256, .fixed_files = 16});
  ASSERT_TRUE(ring.ok()) << ring.status();
  std::printf("ring setup flags: %s\n", (*ring)->SetupFlagsString().c_str());
  EXPECT_TRUE((*ring)->defers_taskrun());
  EXPECT_GE((*ring)->fd(), 0);
}

TEST(RingTest, FallsBackWhenSingleIssuerIsNotWanted) {
  auto ring = Ring::Create({.sq_entries = 8, .cq_entries = 16, .single_issuer = false});
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_FALSE((*ring)->defers_taskrun());
  EXPECT_EQ((*ring)->SetupFlagsString().find("SINGLE_ISSUER"), std::string::npos);
}

TEST(RingTest, RejectsBadSizes) {
  EXPECT_EQ(Ring::Create({.sq_entries = 0}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Ring::Create({.sq_entries = 64, .cq_entries = 8}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// More completions than the CQ holds: the rest wait in the kernel's
// overflow list (IORING_FEAT_NODROP), the reap that finds it so counts it,
// and the next enter flushes them in order. None is dropped.
TEST(RingTest, AnOverflowedCqLosesNothingAndIsCounted) {
  auto ring = Ring::Create({.sq_entries = 8, .cq_entries = 16});
  ASSERT_TRUE(ring.ok()) << ring.status();
  Ring& r = **ring;
  for (uint64_t i = 0; i < 24; ++i) {
    r.PrepNop(i);
    if (r.SqReady() == 8) {
      ASSERT_EQ(r.Submit(), 8);
    }
  }
  Completion out[32];
  uint64_t next = 0;
  EXPECT_EQ(r.Reap(absl::MakeSpan(out)), 16u);
  for (unsigned i = 0; i < 16; ++i) EXPECT_EQ(out[i].user_data, next++);
  EXPECT_EQ(r.cq_overflows(), 1u);
  ASSERT_GE(r.SubmitAndWait(1, 0), 0);  // the enter flushes the overflow list
  EXPECT_EQ(r.Reap(absl::MakeSpan(out)), 8u);
  for (unsigned i = 0; i < 8; ++i) EXPECT_EQ(out[i].user_data, next++);
  EXPECT_EQ(r.cq_overflows(), 1u);
  EXPECT_EQ(r.cq_dropped(), 0u);
}

// 6.12's minimum-timeout wait (the build hosts run 6.18): one NOP done and
// eight asked for, the enter returns once the minimum has passed with what
// came (the submit count), not at the ten-second timeout (-ETIME). Around
// the SQ three times: each SQE goes out once, in order.
TEST(RingTest, AGatheringWaitReturnsWhatCameOnceTheMinimumPassed) {
  auto ring = Ring::Create({.sq_entries = 8, .cq_entries = 16});
  ASSERT_TRUE(ring.ok()) << ring.status();
  Ring& r = **ring;
  ASSERT_TRUE(r.min_timeout()) << "IORING_FEAT_MIN_TIMEOUT (6.12) missing";
  Completion out[16];
  for (uint64_t i = 0; i < 24; ++i) {
    r.PrepNop(i);
    ASSERT_EQ(r.SubmitAndGather(8, 2'000'000, 10'000'000'000), 1) << i;
    ASSERT_EQ(r.Reap(absl::MakeSpan(out)), 1u) << i;
    EXPECT_EQ(out[0].user_data, i);
  }
  EXPECT_EQ(r.enter_calls(), 24u);
}

TEST(RingTest, NopRoundTripCountsOneEnter) {
  auto ring = Ring::Create({.sq_entries = 8, .cq_entries = 16});
  ASSERT_TRUE(ring.ok()) << ring.status();
  Ring& r = **ring;
  r.PrepNop(42);
  EXPECT_EQ(r.SqReady(), 1u);
  ASSERT_EQ(r.SubmitAndWait(1, 0), 1);
  Completion c[4];
  ASSERT_EQ(r.Reap(absl::MakeSpan(c)), 1u);
  EXPECT_EQ(c[0].user_data, 42u);
  EXPECT_EQ(c[0].res, 0);
  EXPECT_EQ(r.Reap(absl::MakeSpan(c)), 0u);
  EXPECT_EQ(r.enter_calls(), 1u);
}

// A planned fault replaces the submission: the kernel runs a NOP and the
// completion carries the planned result.
TEST(RingTest, AFaultPlanReplacesASubmissionByItsResult) {
  auto ring = Ring::Create({.sq_entries = 8, .cq_entries = 16});
  ASSERT_TRUE(ring.ok()) << ring.status();
  FaultPlan plan;
  (*ring)->set_fault_plan(&plan);
  plan.Plan(Op::kSend, 3, -EAGAIN);
  const uint64_t ud = Tag{Op::kSend, 1, 3, 5}.Pack();
  (*ring)->PrepSendmsg(3, nullptr, 0, 0, ud);  // never reaches the kernel
  ASSERT_EQ((*ring)->SubmitAndWait(1, 0), 1);
  Completion c[2];
  ASSERT_EQ((*ring)->Reap(absl::MakeSpan(c)), 1u);
  EXPECT_EQ(c[0].user_data, ud);
  EXPECT_EQ(c[0].res, -EAGAIN);
  EXPECT_EQ(plan.injected(), 1u);
}

}  // namespace
}  // namespace sctpdp
