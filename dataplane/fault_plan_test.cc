// FaultPlan on its own: planned results, and delays that keep each
// (op, slot)'s order while interleaving the rest.
#include "dataplane/fault_plan.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <map>
#include <vector>

namespace sctpdp {
namespace {

Completion At(Op op, uint16_t slot, uint32_t seq) { return Completion{Tag{op, 1, slot, seq}.Pack(), 0, 0}; }

TEST(FaultPlanTest, APlannedFaultTakesTheNextMatchingSubmissionOnly) {
  FaultPlan plan;
  plan.Plan(Op::kRecv, 2, -ENOBUFS, 0);
  EXPECT_TRUE(plan.Planned(Op::kRecv, 2));
  EXPECT_FALSE(plan.Planned(Op::kRecv, 3));
  EXPECT_FALSE(plan.OnSubmit(Tag{Op::kRecv, 1, 3, 0}.Pack()));
  EXPECT_FALSE(plan.OnSubmit(Tag{Op::kSend, 1, 2, 0}.Pack()));
  const uint64_t ud = Tag{Op::kRecv, 1, 2, 0}.Pack();
  EXPECT_TRUE(plan.OnSubmit(ud));
  EXPECT_FALSE(plan.OnSubmit(ud));  // once
  Completion c[1] = {{ud, 0, 0}};
  ASSERT_EQ(plan.OnReap(c, 1, 1), 1u);
  EXPECT_EQ(c[0].res, -ENOBUFS);
}

// Thousands of completions through a plan that holds 40% of them: every
// one comes out exactly once, each (op, slot) in its order, and some come
// out of order across (op, slot)s.
TEST(FaultPlanTest, DelaysKeepOrderWithinAnOpAndSlotAndReorderAcross) {
  FaultPlan plan({.seed = 42, .delay_probability = 0.4, .max_delay_reaps = 6});
  std::map<uint32_t, uint32_t> next_in, next_out;  // per (op, slot): next sequence
  uint32_t produced = 0, consumed = 0, crossings = 0;
  uint64_t last_key = 0;
  std::vector<Completion> buf(32);
  for (int reap = 0; reap < 2000 || plan.holding(); ++reap) {
    size_t n = 0;
    for (; reap < 2000 && n < 8; ++n) {
      const Op op = n % 2 ? Op::kRecv : Op::kSend;
      const uint16_t slot = static_cast<uint16_t>((reap + n) % 5);
      const uint32_t key = (uint32_t(op) << 16) | slot;
      buf[n] = At(op, slot, next_in[key]++);
      ++produced;
    }
    const size_t out = plan.OnReap(buf.data(), n, buf.size());
    for (size_t i = 0; i < out; ++i) {
      const Tag t = Tag::Unpack(buf[i].user_data);
      const uint32_t key = (uint32_t(t.op) << 16) | t.slot;
      ASSERT_EQ(t.aux, next_out[key]++) << "op " << int(t.op) << " slot " << t.slot;
      crossings += key < last_key;
      last_key = key;
      ++consumed;
    }
  }
  EXPECT_EQ(consumed, produced);
  EXPECT_GT(plan.delayed(), 1000u);
  EXPECT_GT(crossings, 100u);
}

}  // namespace
}  // namespace sctpdp
