// Inbox and its lock-free queue: several producers, one consumer; each
// producer's items in order, nothing lost or duplicated, one wake-up per
// batch, and the mutex only for commands.
#include "dataplane/inbox.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "dataplane/mpmc_queue.h"

namespace sctpdp {
namespace {

TEST(MpmcQueueTest, FifoBoundedAndEmpty) {
  MpmcQueue<uint32_t> q(4);
  uint32_t v = 0;
  EXPECT_FALSE(q.TryPop(&v));
  for (uint32_t i = 0; i < 4; ++i) EXPECT_TRUE(q.TryPush(i));
  EXPECT_FALSE(q.TryPush(9));  // full
  for (uint32_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(q.TryPop(&v));
    EXPECT_EQ(v, i);
  }
  EXPECT_FALSE(q.TryPop(&v));
}

// The positions Router::PollMoves drains to: every push that returned lies
// below reserved(); taken() counts pops, and passes it once they are taken.
TEST(MpmcQueueTest, ReservedAndTakenPositions) {
  MpmcQueue<uint32_t> q(8);
  EXPECT_EQ(q.reserved(), 0u);
  EXPECT_EQ(q.taken(), 0u);
  for (uint32_t i = 0; i < 3; ++i) ASSERT_TRUE(q.TryPush(i));
  const size_t mark = q.reserved();
  EXPECT_EQ(mark, 3u);
  uint32_t v = 0;
  ASSERT_TRUE(q.TryPop(&v));
  EXPECT_LT(q.taken(), mark);
  ASSERT_TRUE(q.TryPush(7));  // after the mark
  ASSERT_TRUE(q.TryPop(&v));
  ASSERT_TRUE(q.TryPop(&v));
  EXPECT_EQ(q.taken(), mark);  // everything pushed before the mark is taken
  EXPECT_EQ(q.reserved(), 4u);
}

TEST(MpmcQueueTest, ManyProducersAndConsumersLoseAndDuplicateNothing) {
  constexpr int kThreads = 4, kEach = 50000;
  MpmcQueue<uint64_t> q(1024);
  std::vector<std::atomic<int>> seen(kThreads * kEach);
  std::atomic<int> popped{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < kThreads; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < kEach; ++i) {
        while (!q.TryPush(uint64_t(p) * kEach + i)) std::this_thread::yield();
      }
    });
    threads.emplace_back([&] {
      uint64_t v;
      while (popped.load() < kThreads * kEach) {
        if (q.TryPop(&v)) {
          seen[v].fetch_add(1);
          popped.fetch_add(1);
        } else {
          std::this_thread::yield();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& s : seen) ASSERT_EQ(s.load(), 1);
}

TEST(InboxTest, EachProducersMailInOrderAndOneWakeUpPerBatch) {
  constexpr int kProducers = 3, kEach = 20000;
  Inbox inbox(256);
  std::atomic<int> wakes{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kEach; ++i) {
        Inbox::Push r;
        while ((r = inbox.PushMail((uint64_t(p) << 32) | i)) == Inbox::Push::kFull) std::this_thread::yield();
        if (r == Inbox::Push::kWake) wakes.fetch_add(1);
      }
    });
  }
  std::vector<uint32_t> next(kProducers, 0);
  int taken = 0, drains = 0;
  uint64_t items[64];
  while (taken < kProducers * kEach) {
    inbox.BeginDrain();
    ++drains;
    while (size_t n = inbox.TakeMail(items, 64)) {
      for (size_t k = 0; k < n; ++k) {
        const int p = int(items[k] >> 32);
        ASSERT_EQ(uint32_t(items[k]), next[p]) << "producer " << p;
        ++next[p];
      }
      taken += int(n);
    }
  }
  for (auto& t : producers) t.join();
  done = true;
  EXPECT_LE(wakes.load(), drains + 1);  // never more wake-ups than drains that cleared the flag
  EXPECT_GE(wakes.load(), 1);
  EXPECT_EQ(inbox.lock_acquisitions(), 0u);  // mail never takes the mutex
}

TEST(InboxTest, CommandsRunOnceAndAClosedInboxRefusesEverything) {
  Inbox inbox(4);
  int ran = 0;
  EXPECT_EQ(inbox.PushCommand([&] { ++ran; }), Inbox::Push::kWake);
  EXPECT_EQ(inbox.PushCommand([&] { ++ran; }), Inbox::Push::kQueued);  // the first one's wake-up covers it
  inbox.BeginDrain();
  std::vector<absl::AnyInvocable<void()>> commands;
  inbox.TakeCommands(&commands);
  for (auto& c : commands) c();
  EXPECT_EQ(ran, 2);
  EXPECT_GT(inbox.lock_acquisitions(), 0u);
  commands.clear();
  inbox.BeginDrain();
  inbox.TakeCommands(&commands);  // nothing pending: no lock taken
  EXPECT_TRUE(commands.empty());
  inbox.Close();
  EXPECT_EQ(inbox.PushCommand([&] { ++ran; }), Inbox::Push::kClosed);
  EXPECT_EQ(inbox.PushMail(1), Inbox::Push::kClosed);
  EXPECT_EQ(ran, 2);
}

}  // namespace
}  // namespace sctpdp
