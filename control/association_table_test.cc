// AssociationTable on the host: limits, the move states, the loads the
// worker choice reads, and that every access is counted.
#include "control/association_table.h"

#include <gtest/gtest.h>

namespace sctpdp {
namespace {

AssociationInfo Info(sctp_assoc_t id) {
  AssociationInfo i;
  i.id = id;
  return i;
}

using AddResult = AssociationTable::AddResult;

AssociationInfo From(sctp_assoc_t id, const std::string& address) {
  AssociationInfo i = Info(id);
  i.peer.address = address;
  return i;
}

TEST(AssociationTableTest, AddGetRemoveAndTheLimit) {
  AssociationTable t(2);
  EXPECT_EQ(t.Add(Info(1)), AddResult::kAdded);
  EXPECT_EQ(t.Add(Info(1)), AddResult::kKnown);
  EXPECT_EQ(t.Add(Info(2)), AddResult::kAdded);
  EXPECT_EQ(t.Add(Info(3)), AddResult::kFull);
  EXPECT_EQ(t.Get(2)->id, 2);
  EXPECT_FALSE(t.Get(3).has_value());
  EXPECT_TRUE(t.Remove(1).has_value());
  EXPECT_FALSE(t.Remove(1).has_value());
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.Add(Info(3)), AddResult::kAdded);
}

TEST(AssociationTableTest, OnePeerAddressCannotTakeMoreThanItsShare) {
  AssociationTable t(10, /*max_per_peer=*/2);
  EXPECT_EQ(t.Add(From(1, "10.0.0.1")), AddResult::kAdded);
  EXPECT_EQ(t.Add(From(2, "10.0.0.1")), AddResult::kAdded);
  EXPECT_EQ(t.Add(From(3, "10.0.0.1")), AddResult::kPeerFull);
  EXPECT_EQ(t.Add(From(4, "10.0.0.2")), AddResult::kAdded);  // another peer: its own share
  EXPECT_TRUE(t.Remove(1).has_value());
  EXPECT_EQ(t.Add(From(3, "10.0.0.1")), AddResult::kAdded);  // one ended: room again
  EXPECT_EQ(t.size(), 3u);
}

TEST(AssociationTableTest, MovesGoControlMovingWorkerAndCarryThePauseWish) {
  AssociationTable t(10);
  t.Add(Info(1));
  t.Add(Info(2));
  EXPECT_FALSE(t.FinishMove(1, absl::Now()).has_value());  // not moving
  ASSERT_TRUE(t.SetReceivePaused(1, true).has_value());
  EXPECT_TRUE(t.StartMove(1, 1, 250.0, absl::Now()));
  EXPECT_FALSE(t.StartMove(1, 0, 1.0, absl::Now()));  // already moving
  EXPECT_EQ(t.Get(1)->location, Location::kMoving);
  const std::optional<bool> paused = t.FinishMove(1, absl::Now());
  ASSERT_TRUE(paused.has_value());
  EXPECT_TRUE(*paused);
  EXPECT_EQ(t.Get(1)->location, Location::kWorker);
  EXPECT_EQ(t.Get(1)->worker, 1);
  const AssociationTable::Counts c = t.CountByLocation();
  EXPECT_EQ(c.on_control, 1u);
  EXPECT_EQ(c.elsewhere, 1u);
  std::vector<WorkerLoad> loads = t.Loads(2);
  EXPECT_EQ(loads[0].peeled, 0u);
  EXPECT_EQ(loads[1].peeled, 1u);
  EXPECT_DOUBLE_EQ(loads[1].messages_per_sec, 250.0);
  EXPECT_EQ(LocationName(Location::kMoving), std::string("moving"));
}

TEST(AssociationTableTest, EveryAccessIsACountedLockAcquisition) {
  AssociationTable t(10);
  const uint64_t before = t.lock_acquisitions();
  t.Add(Info(1));
  t.Get(1);
  t.List();
  t.CountByLocation();
  EXPECT_EQ(t.lock_acquisitions(), before + 4);
}

}  // namespace
}  // namespace sctpdp
