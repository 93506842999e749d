#include "tools/sctpdp/sequence_checker.h"

#include <gtest/gtest.h>

#include <string>

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

// load --ppid=N: the PPID is N on every message, the number in the payload.
TEST(SequenceCheckerTest, TheNumberInThePayload) {
  SequenceChecker c;
  auto message = [](uint32_t seq) {
    std::string p(16, 'L');
    p[0] = static_cast<char>(seq >> 24);
    p[1] = static_cast<char>(seq >> 16);
    p[2] = static_cast<char>(seq >> 8);
    p[3] = static_cast<char>(seq);
    return p;
  };
  for (uint32_t i = 0; i < 300; ++i) c.ObserveMessage(1, 0, 46, message(i), 46);  // 300: past one byte
  EXPECT_TRUE(c.counts().clean());
  c.ObserveMessage(1, 0, 46, message(301), 46);  // 300 skipped
  EXPECT_EQ(c.counts().gaps, 1u);
  c.ObserveMessage(1, 0, 3, message(302), 46);  // another PPID
  c.ObserveMessage(1, 0, 46, std::string("abc"), 46);        // too short to hold one
  EXPECT_EQ(c.counts().malformed, 2u);
  EXPECT_EQ(c.counts().messages, 303u);
  c.ObserveMessage(2, 0, 5, std::string(), std::nullopt);  // without: the PPID is the number
  EXPECT_EQ(c.counts().gaps, 6u);
}

TEST(SequenceCheckerTest, CountsAdd) {
  SequenceCounts a{10, 1, 2, 3}, b{5, 0, 0, 1};
  a += b;
  EXPECT_EQ(a.messages, 15u);
  EXPECT_EQ(a.reorders, 4u);
}

}  // namespace
}  // namespace sctpdp
