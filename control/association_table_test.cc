// AssociationTable on the host: limits, the handle index, and the outbox
// rules that keep sends in order across a move.
#include "control/association_table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sctpdp {
namespace {

AssociationInfo Info(sctp_assoc_t id) {
  AssociationInfo i;
  i.id = id;
  return i;
}

SendView View(const std::string& s) { return SendView{0, 0, 0, 0, absl::MakeConstSpan(s.data(), s.size())}; }

// Collects what a flush or direct send delivers.
struct Sink {
  std::vector<std::string> got;
  size_t accept = ~size_t{0};  // how many more to take before saying "not now"
  SendFn fn() {
    return [this](const AssociationInfo&, const SendView& v) {
      if (accept == 0) return false;
      --accept;
      got.emplace_back(v.payload.begin(), v.payload.end());
      return true;
    };
  }
};

TEST(AssociationTableTest, AddGetRemoveAndTheLimit) {
  AssociationTable t(2);
  EXPECT_TRUE(t.Add(Info(1)));
  EXPECT_FALSE(t.Add(Info(1)));  // duplicate
  EXPECT_TRUE(t.Add(Info(2)));
  EXPECT_TRUE(t.full());
  EXPECT_FALSE(t.Add(Info(3)));
  EXPECT_EQ(t.Get(2)->id, 2);
  EXPECT_FALSE(t.Get(3).has_value());
  EXPECT_TRUE(t.Remove(1).has_value());
  EXPECT_FALSE(t.Remove(1).has_value());
  EXPECT_EQ(t.size(), 1u);
}

TEST(AssociationTableTest, OwnerSendsDirectlyOthersQueue) {
  AssociationTable t(10);
  t.Add(Info(1));
  Sink direct;
  std::string a = "a", b = "b";
  auto r = t.RouteSend(1, View(a), 8, [](const AssociationInfo&) { return true; }, direct.fn());
  EXPECT_EQ(r.route, AssociationTable::Route::kSent);
  EXPECT_EQ(direct.got, std::vector<std::string>{"a"});
  r = t.RouteSend(1, View(b), 8, [](const AssociationInfo&) { return false; }, direct.fn());
  EXPECT_EQ(r.route, AssociationTable::Route::kQueued);
  EXPECT_EQ(r.location, Location::kControl);
  // With something queued, even the owner queues behind it.
  std::string c = "c";
  r = t.RouteSend(1, View(c), 8, [](const AssociationInfo&) { return true; }, direct.fn());
  EXPECT_EQ(r.route, AssociationTable::Route::kQueued);
  EXPECT_EQ(t.WithOutbox(Location::kControl, -1), std::vector<sctp_assoc_t>{1});
  Sink flushed;
  t.Flush(1, Location::kControl, -1, flushed.fn());
  EXPECT_EQ(flushed.got, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(t.RouteSend(9, View(a), 8, [](const AssociationInfo&) { return true; }, direct.fn()).route,
            AssociationTable::Route::kUnknown);
}

TEST(AssociationTableTest, StreamsPastTheOutboundCountAreRefused) {
  AssociationTable t(10);
  AssociationInfo info = Info(1);
  info.outbound_streams = 4;
  t.Add(info);
  t.Add(Info(2));  // outbound streams not known (yet): the kernel judges
  Sink s;
  std::string m = "m";
  auto yes = [](const AssociationInfo&) { return true; };
  auto on = [&](uint16_t stream) { return SendView{stream, 0, 0, 0, absl::MakeConstSpan(m.data(), m.size())}; };
  EXPECT_EQ(t.RouteSend(1, on(3), 8, yes, s.fn()).route, AssociationTable::Route::kSent);
  EXPECT_EQ(t.RouteSend(1, on(4), 8, yes, s.fn()).route, AssociationTable::Route::kBadStream);
  EXPECT_EQ(t.RouteSend(1, on(65535), 8, yes, s.fn()).route, AssociationTable::Route::kBadStream);
  EXPECT_EQ(t.RouteSend(2, on(4), 8, yes, s.fn()).route, AssociationTable::Route::kSent);
  EXPECT_EQ(s.got.size(), 2u);
}

TEST(AssociationTableTest, OutboxIsBoundedAndSaysWhenThereIsRoomAgain) {
  AssociationTable t(10);
  t.Add(Info(1));
  Sink s;
  std::string m1 = "1", m2 = "2", m3 = "3";
  auto no = [](const AssociationInfo&) { return false; };
  EXPECT_EQ(t.RouteSend(1, View(m1), 2, no, s.fn()).route, AssociationTable::Route::kQueued);
  EXPECT_EQ(t.RouteSend(1, View(m2), 2, no, s.fn()).route, AssociationTable::Route::kQueued);
  EXPECT_EQ(t.RouteSend(1, View(m3), 2, no, s.fn()).route, AssociationTable::Route::kFull);
  // The owner's queue takes one, then says "not now": the rest stays, in order.
  s.accept = 1;
  EXPECT_TRUE(t.Flush(1, Location::kControl, -1, s.fn()));  // room again: 1 of 2 left
  EXPECT_EQ(s.got, std::vector<std::string>{"1"});
  s.accept = 5;
  EXPECT_FALSE(t.Flush(1, Location::kControl, -1, s.fn()));  // already said
  EXPECT_EQ(s.got, (std::vector<std::string>{"1", "2"}));
}

// The move: messages taken back from the control thread's queue go first,
// then those that queued before and during the move, then the worker's own.
TEST(AssociationTableTest, MoveKeepsSendOrder) {
  AssociationTable t(10);
  t.Add(Info(1));
  Sink s;
  auto no = [](const AssociationInfo&) { return false; };
  auto yes = [](const AssociationInfo&) { return true; };
  std::string m2 = "2", m3 = "3", m4 = "4";
  t.RouteSend(1, View(m2), 8, no, s.fn());  // waiting in the outbox, from another thread
  std::vector<PendingSend> older = {{0, 0, 0, 0, "0"}, {0, 0, 0, 0, "1"}};
  t.Add(Info(2));
  ASSERT_TRUE(t.StartMove(1, 3, 42.0, std::move(older)));
  EXPECT_EQ(t.Get(1)->location, Location::kMoving);
  EXPECT_EQ(t.CountByLocation().on_control, 1u);
  EXPECT_EQ(t.CountByLocation().elsewhere, 1u);
  EXPECT_EQ(t.Loads(4)[3].peeled, 1u);
  EXPECT_EQ(t.Loads(4)[3].messages_per_sec, 42.0);
  // During the move, even a caller that says "mine" queues.
  EXPECT_EQ(t.RouteSend(1, View(m3), 8, yes, s.fn()).route, AssociationTable::Route::kQueued);
  const AssocHandle h = AssocHandle::Make(3, 5, 7);
  ASSERT_TRUE(t.FinishMove(1, h, absl::Now(), s.fn()).has_value());
  EXPECT_EQ(s.got, (std::vector<std::string>{"0", "1", "2", "3"}));
  EXPECT_EQ(t.Get(1)->location, Location::kWorker);
  EXPECT_EQ(t.FindByHandle(h), 1);
  EXPECT_EQ(t.RouteSend(1, View(m4), 8, yes, s.fn()).route, AssociationTable::Route::kSent);
  EXPECT_EQ(s.got.back(), "4");
  t.Remove(1);
  EXPECT_FALSE(t.FindByHandle(h).has_value());
}

TEST(AssociationTableTest, ASenderRefusedDuringTheMoveIsToldOnceItLands) {
  AssociationTable t(10);
  t.Add(Info(1));
  Sink s;
  auto yes = [](const AssociationInfo&) { return true; };
  ASSERT_TRUE(t.StartMove(1, 0, 0, {}));
  std::string m = "m";
  EXPECT_EQ(t.RouteSend(1, View(m), 2, yes, s.fn()).route, AssociationTable::Route::kQueued);
  EXPECT_EQ(t.RouteSend(1, View(m), 2, yes, s.fn()).route, AssociationTable::Route::kQueued);
  EXPECT_EQ(t.RouteSend(1, View(m), 2, yes, s.fn()).route, AssociationTable::Route::kFull);
  auto landed = t.FinishMove(1, AssocHandle::Make(0, 1, 1), absl::Now(), s.fn());
  ASSERT_TRUE(landed.has_value());
  EXPECT_TRUE(landed->writable);
  EXPECT_EQ(s.got.size(), 2u);
  // Nobody refused: nothing to tell.
  t.Add(Info(2));
  ASSERT_TRUE(t.StartMove(2, 0, 0, {}));
  EXPECT_EQ(t.RouteSend(2, View(m), 2, yes, s.fn()).route, AssociationTable::Route::kQueued);
  landed = t.FinishMove(2, AssocHandle::Make(0, 2, 1), absl::Now(), s.fn());
  ASSERT_TRUE(landed.has_value());
  EXPECT_FALSE(landed->writable);
  EXPECT_FALSE(landed->receive_paused);
  // A pause asked for during the move lands with it.
  t.Add(Info(3));
  ASSERT_TRUE(t.StartMove(3, 0, 0, {}));
  ASSERT_TRUE(t.SetReceivePaused(3, true).has_value());
  landed = t.FinishMove(3, AssocHandle::Make(0, 3, 1), absl::Now(), s.fn());
  ASSERT_TRUE(landed.has_value());
  EXPECT_TRUE(landed->receive_paused);
  EXPECT_FALSE(t.FinishMove(3, AssocHandle::Make(0, 3, 1), absl::Now(), s.fn()).has_value());  // not moving
}

TEST(AssociationTableTest, AbortedMoveGoesBackToControlWithItsOutbox) {
  AssociationTable t(10);
  t.Add(Info(1));
  std::vector<PendingSend> older = {{0, 0, 0, 0, "x"}};
  ASSERT_TRUE(t.StartMove(1, 0, 0, std::move(older)));
  t.AbortMove(1);
  EXPECT_EQ(t.Get(1)->location, Location::kControl);
  Sink s;
  t.Flush(1, Location::kControl, -1, s.fn());
  EXPECT_EQ(s.got, std::vector<std::string>{"x"});
  EXPECT_FALSE(t.StartMove(2, 0, 0, {}));  // unknown
}

}  // namespace
}  // namespace sctpdp
