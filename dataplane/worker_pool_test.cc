// WorkerPool on the host: one pinned worker per allowed CPU, handles name
// their owner, figures add up; and adoption woken through MSG_RING.
#include "dataplane/worker_pool.h"

#include <gtest/gtest.h>

#include "dataplane/ring_features.h"
#include "dataplane/worker_test_util.h"

namespace sctpdp {
namespace {

TEST(WorkerPoolTest, OneWorkerPerCpuEachOwningItsAssociations) {
  RecordingHandler handler;
  std::vector<int> cpus = WorkerPool::AllowedCpus();
  ASSERT_FALSE(cpus.empty());
  auto pool = WorkerPool::Create({.max_associations = 8, .buffer_count = 64, .retain_budget = 8, .send_buffer_count = 64}, cpus, &handler);
  ASSERT_TRUE(pool.ok()) << pool.status();
  std::vector<Fd> peers;
  for (size_t i = 0; i < (*pool)->size(); ++i) {
    auto [mine, theirs] = SeqpacketPair();
    ASSERT_TRUE((*pool)->worker(i).Adopt(std::move(mine), static_cast<sctp_assoc_t>(i), i).ok());
    peers.push_back(std::move(theirs));
  }
  ASSERT_TRUE(handler.WaitAdopted((*pool)->size()));
  for (size_t i = 0; i < peers.size(); ++i) {
    std::string m = "to worker " + std::to_string(i);
    ASSERT_EQ(send(peers[i].get(), m.data(), m.size(), 0), static_cast<ssize_t>(m.size()));
  }
  ASSERT_TRUE(handler.WaitMessages(peers.size()));
  for (const Received& r : handler.messages()) {
    EXPECT_EQ(r.payload, "to worker " + std::to_string(r.assoc.worker()));
    EXPECT_EQ(&(*pool)->owner(r.assoc), &(*pool)->worker(r.assoc.worker()));
  }
  EXPECT_EQ((*pool)->Snapshot().totals.messages_in, peers.size());
  EXPECT_EQ((*pool)->Snapshot().associations_active, peers.size());
  (*pool)->Stop();
  EXPECT_EQ((*pool)->Snapshot().associations_active, 0u);
}

TEST(WorkerPoolTest, RejectsNoCpusAndBadCpus) {
  RecordingHandler handler;
  EXPECT_FALSE(WorkerPool::Create({}, {}, &handler).ok());
  std::vector<int> bad = {4000};
  auto pool = WorkerPool::Create({.buffer_count = 64, .retain_budget = 8, .send_buffer_count = 64}, bad, &handler);
  ASSERT_FALSE(pool.ok());
  EXPECT_NE(pool.status().message().find("cpu 4000"), absl::string_view::npos) << pool.status();
}

// Adoption from another worker's thread (as the control thread hands a
// peeled association over) wakes the adopter ring to ring: a MSG_RING CQE,
// no eventfd write and no eventfd read.
TEST(WorkerPoolTest, AdoptionFromAnotherLoopComesThroughMsgRing) {
  ASSERT_TRUE(ProbeRingFeatures().op_msg_ring);  // the data plane's floor (ring_test)
  RecordingHandler handler;
  std::vector<int> two = {-1, -1};
  auto pool = WorkerPool::Create({.max_associations = 4, .buffer_count = 64, .retain_budget = 8, .send_buffer_count = 64},
                                 two, &handler);
  ASSERT_TRUE(pool.ok()) << pool.status();
  Worker& from = (*pool)->worker(0);
  Worker& to = (*pool)->worker(1);
  const WorkerStats before = to.Snapshot();
  auto [mine, theirs] = SeqpacketPair();
  Notification handed;
  ASSERT_TRUE(from.Post([&, fd = std::move(mine)](Worker&) mutable {
    ASSERT_TRUE(to.Adopt(std::move(fd), 1, 0).ok());
    handed.Notify();
  }).ok());
  ASSERT_TRUE(handed.WaitFor(absl::Seconds(10)));
  ASSERT_TRUE(handler.WaitAdopted(1));
  const WorkerStats after = to.Snapshot();
  EXPECT_EQ(after.msg_ring_wakes, before.msg_ring_wakes + 1);
  EXPECT_EQ(after.eventfd_wakes, before.eventfd_wakes);
  // Adopting a non-SCTP socket costs 2 syscalls (getsockopt, fixed-file
  // update); the eventfd path would add a read.
  EXPECT_EQ(after.other_syscalls - before.other_syscalls, 2u);
  ASSERT_EQ(send(theirs.get(), "hi", 2, 0), 2);
  ASSERT_TRUE(handler.WaitMessages(1));
}

}  // namespace
}  // namespace sctpdp
