#include "control/paths.h"

#include <netinet/in.h>
#include <netinet/sctp.h>

#include "gtest/gtest.h"

namespace sctpdp {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(100);

std::vector<PathInfo> TwoPaths() {
  SctpStatus s;
  s.paths = {SctpPathStatus{.address = "10.1.0.2", .state = SCTP_ACTIVE, .primary = true},
             SctpPathStatus{.address = "10.2.0.2", .state = SCTP_UNCONFIRMED}};
  return PathsOf(s, kT0);
}

TEST(PathsTest, FromTheKernelsRead) {
  const std::vector<PathInfo> p = TwoPaths();
  ASSERT_EQ(p.size(), 2u);
  EXPECT_TRUE(p[0].primary);
  EXPECT_EQ(p[0].state, SCTP_ACTIVE);
  EXPECT_EQ(p[1].state, SCTP_UNCONFIRMED);
  EXPECT_EQ(p[1].since, kT0);
}

TEST(PathsTest, EachChangeMovesItsPath) {
  std::vector<PathInfo> p = TwoPaths();
  const absl::Time t1 = kT0 + absl::Seconds(1);
  EXPECT_EQ(ApplyPathChange(p, "10.2.0.2", SCTP_ADDR_CONFIRMED, t1)->state, SCTP_ACTIVE);
  EXPECT_EQ(ApplyPathChange(p, "10.1.0.2", SCTP_ADDR_POTENTIALLY_FAILED, t1)->state, SCTP_PF);
  std::optional<PathInfo> down = ApplyPathChange(p, "10.1.0.2", SCTP_ADDR_UNREACHABLE, t1);
  ASSERT_TRUE(down.has_value());
  EXPECT_EQ(down->state, SCTP_INACTIVE);
  EXPECT_TRUE(down->primary);  // still the primary: the kernel sends elsewhere meanwhile
  EXPECT_EQ(down->since, t1);
  EXPECT_EQ(ApplyPathChange(p, "10.1.0.2", SCTP_ADDR_AVAILABLE, t1)->state, SCTP_ACTIVE);
  // Made primary: the flag moves, states stay.
  std::optional<PathInfo> prim = ApplyPathChange(p, "10.2.0.2", SCTP_ADDR_MADE_PRIM, kT0 + absl::Seconds(9));
  ASSERT_TRUE(prim.has_value());
  EXPECT_TRUE(prim->primary);
  EXPECT_EQ(prim->since, t1);
  EXPECT_FALSE(p[0].primary);
  EXPECT_TRUE(p[1].primary);
}

TEST(PathsTest, AddedAndRemovedAndUnknownOnes) {
  std::vector<PathInfo> p = TwoPaths();
  std::optional<PathInfo> added = ApplyPathChange(p, "10.3.0.2", SCTP_ADDR_ADDED, kT0);
  ASSERT_TRUE(added.has_value());
  EXPECT_EQ(added->state, SCTP_UNCONFIRMED);
  EXPECT_EQ(p.size(), 3u);
  std::optional<PathInfo> removed = ApplyPathChange(p, "10.2.0.2", SCTP_ADDR_REMOVED, kT0);
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(removed->address, "10.2.0.2");
  EXPECT_EQ(p.size(), 2u);
  EXPECT_FALSE(ApplyPathChange(p, "10.9.9.9", SCTP_ADDR_UNREACHABLE, kT0).has_value());
  EXPECT_FALSE(ApplyPathChange(p, "10.1.0.2", 77, kT0).has_value());
  EXPECT_STREQ(PathChangeName(SCTP_ADDR_MADE_PRIM), "made-primary");
  EXPECT_STREQ(PathChangeName(77), "unknown");
}

}  // namespace
}  // namespace sctpdp
