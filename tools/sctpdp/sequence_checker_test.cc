#include "tools/sctpdp/sequence_checker.h"

#include <gtest/gtest.h>

namespace sctpdp {
namespace {

TEST(SequenceCheckerTest, InOrderPerStreamIsClean) {
  SequenceChecker c;
  for (uint64_t i = 0; i < 100; ++i) {
    c.Observe(1, 0, i);
    c.Observe(1, 1, i);  // streams are independent
    c.Observe(2, 0, i);  // so are associations
  }
  EXPECT_TRUE(c.counts().clean());
  EXPECT_EQ(c.counts().messages, 300u);
}

TEST(SequenceCheckerTest, GapsDuplicatesAndReorders) {
  SequenceChecker c;
  c.Observe(1, 0, 0);
  c.Observe(1, 0, 3);  // 1 and 2 missing
  EXPECT_EQ(c.counts().gaps, 2u);
  c.Observe(1, 0, 3);  // again
  EXPECT_EQ(c.counts().duplicates, 1u);
  c.Observe(1, 0, 1);  // late
  EXPECT_EQ(c.counts().reorders, 1u);
  EXPECT_EQ(c.counts().gaps, 1u);
  EXPECT_FALSE(c.counts().clean());
}

TEST(SequenceCheckerTest, ARestartedAssociationStartsAgain) {
  SequenceChecker c;
  for (uint64_t i = 0; i < 5; ++i) c.Observe(7, 1, i);
  c.Observe(8, 0, 0);
  c.Forget(7);
  for (uint64_t i = 0; i < 3; ++i) c.Observe(7, 1, i);  // the new incarnation's
  c.Observe(8, 0, 1);                                   // others go on
  EXPECT_TRUE(c.counts().clean());
  EXPECT_EQ(c.counts().messages, 10u);
}

TEST(SequenceCheckerTest, CountsAdd) {
  SequenceCounts a{10, 1, 2, 3}, b{5, 0, 0, 1};
  a += b;
  EXPECT_EQ(a.messages, 15u);
  EXPECT_EQ(a.reorders, 4u);
}

}  // namespace
}  // namespace sctpdp
