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
  Reassembler r(100, 8);
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

}  // namespace
}  // namespace sctpdp
