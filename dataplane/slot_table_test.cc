#include "dataplane/slot_table.h"

#include <gtest/gtest.h>

#include <set>

namespace sctpdp {
namespace {

TEST(SlotTableTest, AllocatesEverySlotOnceThenRefuses) {
  SlotTable<int> t(4);
  std::set<uint16_t> got;
  for (int i = 0; i < 4; ++i) {
    auto s = t.Allocate();
    ASSERT_TRUE(s.has_value());
    EXPECT_TRUE(got.insert(*s).second);
    EXPECT_TRUE(t.used(*s));
  }
  EXPECT_TRUE(t.full());
  EXPECT_EQ(t.in_use(), 4u);
  EXPECT_FALSE(t.Allocate().has_value());
}

TEST(SlotTableTest, AFreedSlotsOldGenerationIsStale) {
  SlotTable<int> t(2);
  const uint16_t s = *t.Allocate();
  const uint16_t g = t.generation(s);
  t[s] = 5;
  ASSERT_NE(t.Find(s, g), nullptr);
  EXPECT_EQ(*t.Find(s, g), 5);
  EXPECT_EQ(t.Find(s, g + 1), nullptr);
  t.Free(s);
  EXPECT_EQ(t.Find(s, g), nullptr);  // freed
  EXPECT_FALSE(t.used(s));
  const uint16_t again = *t.Allocate();
  ASSERT_EQ(again, s);  // the freed slot comes back first
  EXPECT_NE(t.generation(s), g);
  EXPECT_EQ(t.Find(s, g), nullptr);  // the earlier occupant's handle stays stale
  EXPECT_NE(t.Find(s, t.generation(s)), nullptr);
  EXPECT_EQ(t.Find(7, 1), nullptr);  // out of range
}

TEST(SlotTableTest, GenerationsWrapButNeverBecomeZero) {
  SlotTable<int> t(1);
  for (int i = 0; i < 70000; ++i) {
    const uint16_t s = *t.Allocate();
    ASSERT_NE(t.generation(s), 0);
    t.Free(s);
  }
}

}  // namespace
}  // namespace sctpdp
