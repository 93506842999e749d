#include "handoff/directory.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <set>
#include <thread>
#include <vector>

namespace sctpdp {
namespace {

TEST(DirectoryTest, InsertFindRemoveAndTheLimit) {
  Directory d(3);
  Route* a = d.Insert(10, {0, RouteState::kLive}, 4);
  Route* b = d.Insert(20, {1, RouteState::kMoving}, 0);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(d.Insert(10, {0, RouteState::kLive}, 4), nullptr);  // already there
  EXPECT_EQ(d.Insert(0, {0, RouteState::kLive}, 4), nullptr);   // not an association id
  EXPECT_NE(d.Insert(30, {0, RouteState::kLive}, 4), nullptr);
  EXPECT_EQ(d.Insert(40, {0, RouteState::kLive}, 4), nullptr);  // full
  EXPECT_EQ(d.Find(10), a);
  EXPECT_EQ(d.Find(20), b);
  EXPECT_EQ(d.Find(20)->Owner().shard, 1);
  EXPECT_EQ(d.Find(20)->Owner().state, RouteState::kMoving);
  EXPECT_EQ(d.Find(10)->outbound_streams.load(), 4);
  EXPECT_EQ(d.Find(99), nullptr);
  d.Remove(a);
  EXPECT_EQ(d.Find(10), nullptr);
  EXPECT_EQ(a->Owner().state, RouteState::kGone);
  EXPECT_EQ(a->id.load(), 0);
  EXPECT_EQ(d.at(b->index), b);
  EXPECT_NE(d.Insert(40, {0, RouteState::kLive}, 4), nullptr);  // room again
}

// Churn past the first table's size, with removals from the middle of probe
// runs: every present id is found, every removed one is not.
TEST(DirectoryTest, ChurnAndGrowthKeepEveryLookupRight) {
  Directory d(100000);
  std::mt19937 rng(5);
  std::set<sctp_assoc_t> present;
  std::vector<Route*> by_id(60001, nullptr);
  for (int step = 0; step < 50000; ++step) {
    const sctp_assoc_t id = static_cast<sctp_assoc_t>(1 + rng() % 60000);
    if (present.count(id)) {
      d.Remove(by_id[id]);
      present.erase(id);
    } else {
      by_id[id] = d.Insert(id, {0, RouteState::kLive}, 0);
      ASSERT_NE(by_id[id], nullptr);
      present.insert(id);
    }
  }
  EXPECT_EQ(d.size(), present.size());
  for (sctp_assoc_t id = 1; id <= 60000; ++id) {
    Route* r = d.Find(id);
    if (present.count(id)) {
      ASSERT_EQ(r, by_id[id]) << id;
      ASSERT_EQ(r->id.load(), id);
    } else {
      ASSERT_EQ(r, nullptr) << id;
    }
  }
}

// Readers on other threads while the writer inserts, removes and grows: an
// id that stays present is always found, and a hit is never another
// association's route (a stable id's route is never reused).
TEST(DirectoryTest, ConcurrentReadersNeverMissAStableIdOrHitAWrongOne) {
  Directory d(200000);
  constexpr sctp_assoc_t kStable = 500;
  for (sctp_assoc_t id = 1; id <= kStable; ++id) ASSERT_NE(d.Insert(id, {0, RouteState::kLive}, 0), nullptr);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> misses{0}, wrong{0}, lookups{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937 rng(t);
      while (!stop.load(std::memory_order_relaxed)) {
        const sctp_assoc_t stable = static_cast<sctp_assoc_t>(1 + rng() % kStable);
        Route* r = d.Find(stable);
        if (r == nullptr) misses.fetch_add(1);
        else if (r->id.load() != stable) wrong.fetch_add(1);
        // A churned id's route may be reused by the time it is read (senders
        // guard against that with Route::senders); the lookup must only be safe.
        const sctp_assoc_t churned = static_cast<sctp_assoc_t>(kStable + 1 + rng() % 20000);
        if (Route* c = d.Find(churned)) (void)c->id.load();
        lookups.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  std::mt19937 rng(9);
  std::vector<Route*> churn(20000 + kStable + 1, nullptr);
  for (int step = 0; step < 200000; ++step) {
    const sctp_assoc_t id = static_cast<sctp_assoc_t>(kStable + 1 + rng() % 20000);
    if (churn[id] != nullptr) {
      d.Remove(churn[id]);
      churn[id] = nullptr;
    } else {
      churn[id] = d.Insert(id, {0, RouteState::kLive}, 0);
    }
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(misses.load(), 0u);
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_GT(lookups.load(), 1000u);
}

}  // namespace
}  // namespace sctpdp
