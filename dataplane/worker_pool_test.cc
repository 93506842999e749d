// WorkerPool on the host: one pinned worker per allowed CPU, handles name
// their owner, figures add up; and adoption woken through MSG_RING.
#include "dataplane/worker_pool.h"

#include <gtest/gtest.h>

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

// The handing thread's ring wakes the worker with IORING_OP_MSG_RING: no
// eventfd write, no eventfd read on the worker.
TEST(WorkerPoolTest, AdoptionThroughMsgRingSkipsTheEventfd) {
  RecordingHandler handler;
  auto worker = Worker::Create({.max_associations = 4, .buffer_count = 64, .retain_budget = 8, .send_buffer_count = 64}, &handler);
  ASSERT_TRUE(worker.ok());
  auto ring = Ring::Create({.sq_entries = 8, .cq_entries = 16});
  ASSERT_TRUE(ring.ok());
  const uint64_t before = (*worker)->Snapshot().other_syscalls;
  auto [mine, theirs] = SeqpacketPair();
  ASSERT_TRUE((*worker)->Adopt(std::move(mine), 1, 0, ring->get(), 77).ok());
  ASSERT_TRUE(handler.WaitAdopted(1));
  // The sender's own completion of the MSG_RING SQE.
  io_uring_cqe* cqe = nullptr;
  ASSERT_EQ(io_uring_wait_cqe((*ring)->raw(), &cqe), 0);
  EXPECT_EQ(cqe->user_data, 77u);
  EXPECT_EQ(cqe->res, 0);
  io_uring_cqe_seen((*ring)->raw(), cqe);
  // Adopting a non-SCTP socket costs 2 syscalls (getsockopt, fixed-file
  // update); the eventfd path would add a read.
  EXPECT_EQ((*worker)->Snapshot().other_syscalls - before, 2u);
  ASSERT_EQ(send(theirs.get(), "hi", 2, 0), 2);
  ASSERT_TRUE(handler.WaitMessages(1));
}

}  // namespace
}  // namespace sctpdp
