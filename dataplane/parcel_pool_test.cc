#include "dataplane/parcel_pool.h"

#include "dataplane/free_list.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace sctpdp {
namespace {

// More threads than cores, so some are preempted mid-operation: every
// index stays exactly once in the list or in one thread's hands.
TEST(FreeListTest, ThreadsPopAndPushWithoutLosingOrDuplicating) {
  constexpr uint32_t kCount = 64;
  FreeList list(kCount);
  std::vector<std::atomic<int>> held(kCount);
  std::atomic<int> duplicates{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100000; ++i) {
        uint32_t v;
        if (!list.Pop(&v)) continue;
        if (held[v].fetch_add(1) != 0) duplicates.fetch_add(1);
        held[v].fetch_sub(1);
        list.Push(v);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(duplicates.load(), 0);
  std::vector<bool> seen(kCount, false);
  uint32_t v;
  for (uint32_t i = 0; i < kCount; ++i) {
    ASSERT_TRUE(list.Pop(&v)) << i;
    ASSERT_FALSE(seen[v]);
    seen[v] = true;
  }
  EXPECT_FALSE(list.Pop(&v));
}

TEST(ParcelPoolTest, RejectsBadSizes) {
  EXPECT_FALSE(ParcelPool::Create(0, 1024).ok());
  EXPECT_FALSE(ParcelPool::Create(4, 16).ok());
}

TEST(ParcelPoolTest, BuffersSpanSegmentsAndComeBack) {
  auto pool = ParcelPool::Create(8, 256);
  ASSERT_TRUE(pool.ok());
  SendBuffer b = (*pool)->Acquire(600);  // three segments
  ASSERT_TRUE(b.valid());
  EXPECT_EQ(b.segments(), 3u);
  EXPECT_EQ(b.segment(2).size(), 600u - 512u);
  std::string payload(600, 'x');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = char('a' + i % 26);
  b.Write(0, payload);
  iovec iov[kMaxSendSegments];
  const unsigned n = (*pool)->Iovecs(b.id(), iov);
  std::string back;
  for (unsigned i = 0; i < n; ++i) back.append(static_cast<char*>(iov[i].iov_base), iov[i].iov_len);
  EXPECT_EQ(back, payload);
  EXPECT_EQ((*pool)->buffers_in_use(), 3u);
  EXPECT_FALSE((*pool)->Acquire(kMaxSendSegments * 256 + 1).valid());  // too big
  (*pool)->Release(std::move(b));
  EXPECT_EQ((*pool)->buffers_in_use(), 0u);
}

TEST(ParcelPoolTest, SpentPoolSaysSoAndCallsBackWhenBuffersReturn) {
  auto pool = ParcelPool::Create(4, 256);
  ASSERT_TRUE(pool.ok());
  int available = 0;
  (*pool)->set_on_available([&] { ++available; });
  std::vector<SendBuffer> held;
  for (int i = 0; i < 4; ++i) held.push_back((*pool)->Acquire(10));
  EXPECT_FALSE((*pool)->Acquire(10).valid());
  EXPECT_EQ((*pool)->exhausted(), 1u);
  (*pool)->Release(std::move(held[0]));
  EXPECT_EQ(available, 1);
  (*pool)->Release(std::move(held[1]));
  EXPECT_EQ(available, 1);  // once per starvation
  EXPECT_TRUE((*pool)->Acquire(10).valid());
}

TEST(ParcelPoolTest, ThreadsAcquireAndReleaseWithoutLosingBuffers) {
  auto pool = ParcelPool::Create(64, 256);
  ASSERT_TRUE(pool.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        SendBuffer b = (*pool)->Acquire(1 + i % 700);
        if (b.valid()) (*pool)->Release(std::move(b));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ((*pool)->buffers_in_use(), 0u);
  std::vector<SendBuffer> all;
  for (int i = 0; i < 64; ++i) {
    all.push_back((*pool)->Acquire(100));
    ASSERT_TRUE(all.back().valid()) << i;
  }
}

}  // namespace
}  // namespace sctpdp
