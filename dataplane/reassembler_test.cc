#include "dataplane/reassembler.h"

#include <gtest/gtest.h>

#include <string>

namespace sctpdp {
namespace {

RecvParts Piece(const std::string& bytes, bool notification = false) {
  RecvParts p;
  p.payload = absl::MakeConstSpan(bytes.data(), bytes.size());
  p.msg_flags = notification ? MSG_NOTIFICATION : 0;
  return p;
}

TEST(ReassemblerTest, PiecesBecomeOneMessage) {
  Reassembler r(100, 16);
  const std::string a = "hello ", b = "big ", c = "world";
  EXPECT_EQ(r.Add(Piece(a), false, 1), Reassembler::Result::kPartial);
  EXPECT_TRUE(r.in_progress());
  EXPECT_EQ(r.key(), 1u);
  EXPECT_EQ(r.Add(Piece(b), false, 1), Reassembler::Result::kPartial);
  EXPECT_EQ(r.Add(Piece(c), true, 1), Reassembler::Result::kWhole);
  Reassembler::Whole w = r.Take();
  EXPECT_EQ(std::string(w.data.get(), w.length), "hello big world");
  EXPECT_FALSE(w.notification);
  EXPECT_FALSE(r.in_progress());
  r.Recycle(std::move(w));
  EXPECT_EQ(r.Add(Piece("x"), true, 2), Reassembler::Result::kWhole);  // reuses the storage
  EXPECT_EQ(r.Take().length, 1u);
}

TEST(ReassemblerTest, OverTheLimitIsDroppedWhole) {
  Reassembler r(10, 4);
  EXPECT_EQ(r.Add(Piece("123456"), false, 0), Reassembler::Result::kPartial);
  EXPECT_EQ(r.Add(Piece("789ab"), false, 0), Reassembler::Result::kOversize);
  EXPECT_FALSE(r.in_progress());
  EXPECT_EQ(r.Add(Piece("0123456789"), true, 0), Reassembler::Result::kWhole);  // exactly the limit
}

TEST(ReassemblerTest, AnotherMessagesPieceIsInterleavingAndDropsTheFirst) {
  Reassembler r(100, 4);
  EXPECT_EQ(r.Add(Piece("abc"), false, 1), Reassembler::Result::kPartial);
  EXPECT_EQ(r.Add(Piece("def"), false, 2), Reassembler::Result::kInterleaved);  // another association
  EXPECT_FALSE(r.in_progress());
  EXPECT_EQ(r.Add(Piece("abc"), false, 1), Reassembler::Result::kPartial);
  EXPECT_EQ(r.Add(Piece("ev", true), false, 1), Reassembler::Result::kInterleaved);  // a notification
}

TEST(ReassemblerTest, ReassembliesShareTheirThreadsBudget) {
  ReassemblyBudget budget;
  budget.limit = 64;
  Reassembler a(100, 16, &budget), b(100, 16, &budget);
  EXPECT_EQ(a.Add(Piece(std::string(40, 'a')), false, 1), Reassembler::Result::kPartial);
  EXPECT_EQ(budget.used, 40u);
  // b's message would take the two past 64 bytes: refused, nothing kept.
  EXPECT_EQ(b.Add(Piece(std::string(30, 'b')), false, 2), Reassembler::Result::kOverBudget);
  EXPECT_FALSE(b.in_progress());
  EXPECT_EQ(budget.used, 40u);
  // a's own growth is charged too: doubling to 80 bytes is past the limit,
  // and its message goes with its storage.
  EXPECT_EQ(a.Add(Piece("!"), true, 1), Reassembler::Result::kOverBudget);
  EXPECT_FALSE(a.in_progress());
  EXPECT_EQ(budget.used, 0u);
  EXPECT_EQ(b.Add(Piece(std::string(30, 'b')), true, 2), Reassembler::Result::kWhole);
  EXPECT_EQ(budget.used, 30u);
  Reassembler::Whole whole = b.Take();  // its storage leaves, and its charge
  EXPECT_EQ(budget.used, 0u);
}

TEST(ReassemblerTest, OnlySmallStorageIsKeptAndEveryChargeComesBack) {
  ReassemblyBudget budget;
  budget.limit = 1000;
  {
    Reassembler r(100, 16, &budget);
    EXPECT_EQ(r.Add(Piece("0123456789"), true, 0), Reassembler::Result::kWhole);
    r.Recycle(r.Take());
    EXPECT_EQ(budget.used, 16u);  // kept for the next message
    EXPECT_EQ(r.Add(Piece(std::string(50, 'x')), true, 0), Reassembler::Result::kWhole);
    EXPECT_EQ(budget.used, 50u);
    r.Recycle(r.Take());
    EXPECT_EQ(budget.used, 0u);  // a large message's storage is not kept
    EXPECT_EQ(r.Add(Piece(std::string(20, 'y')), false, 0), Reassembler::Result::kPartial);
    Reassembler moved = std::move(r);  // the charge moves with the storage
    EXPECT_EQ(budget.used, 20u);
    r = Reassembler(100, 16, &budget);
    EXPECT_EQ(budget.used, 20u);
  }
  EXPECT_EQ(budget.used, 0u);  // destroyed: given back
}

}  // namespace
}  // namespace sctpdp
