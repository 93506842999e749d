// Host tests: the ring sets up with the best flags this kernel accepts, and
// the opcodes and behaviours the data plane needs are probed and reported.
#include "dataplane/ring.h"

#include <gtest/gtest.h>
#include <liburing.h>

#include <cstdio>

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
  EXPECT_TRUE((*ring)->setup_flags() & IORING_SETUP_DEFER_TASKRUN);
  EXPECT_GE((*ring)->fd(), 0);
}

TEST(RingTest, FallsBackWhenSingleIssuerIsNotWanted) {
  auto ring = Ring::Create({.sq_entries = 8, .cq_entries = 16, .single_issuer = false});
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_FALSE((*ring)->setup_flags() & IORING_SETUP_SINGLE_ISSUER);
}

TEST(RingTest, RejectsBadSizes) {
  EXPECT_EQ(Ring::Create({.sq_entries = 0}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Ring::Create({.sq_entries = 64, .cq_entries = 8}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RingTest, NopRoundTripCountsOneEnter) {
  auto ring = Ring::Create({.sq_entries = 8, .cq_entries = 16});
  ASSERT_TRUE(ring.ok()) << ring.status();
  Ring& r = **ring;
  io_uring_sqe* sqe = r.GetSqe();
  ASSERT_NE(sqe, nullptr);
  io_uring_prep_nop(sqe);
  sqe->user_data = 42;
  ASSERT_EQ(r.SubmitAndWait(1, 0), 1);
  io_uring_cqe* cqe = nullptr;
  ASSERT_EQ(io_uring_peek_cqe(r.raw(), &cqe), 0);
  EXPECT_EQ(cqe->user_data, 42u);
  io_uring_cqe_seen(r.raw(), cqe);
  EXPECT_EQ(r.enter_calls(), 1u);
}

}  // namespace
}  // namespace sctpdp
