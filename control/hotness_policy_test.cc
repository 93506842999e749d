// HotnessPolicy with a fake clock: rates over the sliding window, the sustain
// interval, the hysteresis band, peer rules, peel-all and worker choice.
#include "control/hotness_policy.h"

#include <gtest/gtest.h>

namespace sctpdp {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'000'000);

HotnessPolicy Make(HotnessOptions o = {}) {
  auto p = HotnessPolicy::Create(o);
  EXPECT_TRUE(p.ok()) << p.status();
  return *std::move(p);
}

using Direction = HotnessPolicy::Direction;

// Feeds `rate` messages/s of `bytes` each to `id` from `from` for `d`.
void Feed(HotnessPolicy& p, sctp_assoc_t id, double rate, absl::Duration d, absl::Time from, uint64_t bytes = 100,
          Direction direction = Direction::kIn) {
  const int n = static_cast<int>(rate * absl::ToDoubleSeconds(d));
  for (int i = 0; i < n; ++i) p.Observe(id, bytes, from + d * i / n, direction);
}

TEST(HotnessPolicyTest, RateIsOverTheSlidingWindow) {
  HotnessPolicy p = Make({.peel_messages_per_sec = 1000});
  p.Add(1, {"10.0.0.1", 5000}, kT0);
  Feed(p, 1, 200, absl::Seconds(1), kT0, 50);
  EXPECT_NEAR(p.MessagesPerSec(1, kT0 + absl::Seconds(1)), 200, 25);
  EXPECT_NEAR(p.BytesPerSec(1, kT0 + absl::Seconds(1)), 200 * 50, 25 * 50);
  EXPECT_EQ(p.MessagesPerSec(1, kT0 + absl::Seconds(3)), 0);  // the window moved past it
  EXPECT_EQ(p.MessagesPerSec(99, kT0), 0);                    // unknown: zero, no crash
}

TEST(HotnessPolicyTest, PeelsOnlyAfterTheRateIsSustained) {
  HotnessPolicy p = Make({.peel_messages_per_sec = 100, .sustain = absl::Milliseconds(500)});
  p.Add(1, {"10.0.0.1", 1}, kT0);
  p.Add(2, {"10.0.0.2", 1}, kT0);
  // Time moves in 100 ms steps: traffic, then an evaluation.
  absl::Time t = kT0;
  std::vector<sctp_assoc_t> peeled;
  absl::Time hot_at, peeled_at;
  for (int step = 0; step < 20 && peeled.empty(); ++step) {
    Feed(p, 1, 1000, absl::Milliseconds(100), t);
    Feed(p, 2, 10, absl::Milliseconds(100), t);  // sporadic
    t += absl::Milliseconds(100);
    if (hot_at == absl::Time() && p.MessagesPerSec(1, t) > 100) hot_at = t;
    peeled = p.Evaluate(t);
    peeled_at = t;
  }
  EXPECT_EQ(peeled, std::vector<sctp_assoc_t>{1});
  EXPECT_EQ(peeled_at - hot_at, absl::Milliseconds(500));
}

// An association that only sends turns hot as one that only receives does;
// one that echoes (as much out as in) is as hot as either direction, not
// twice as hot.
TEST(HotnessPolicyTest, TheBusierDirectionCounts) {
  HotnessPolicy p = Make({.peel_messages_per_sec = 100, .sustain = absl::Milliseconds(200)});
  p.Add(1, {"10.0.0.1", 1}, kT0);  // sends 300/s
  p.Add(2, {"10.0.0.2", 1}, kT0);  // echoes 60/s: 60 in, 60 out
  Feed(p, 1, 300, absl::Seconds(1), kT0, 100, Direction::kOut);
  Feed(p, 2, 60, absl::Seconds(1), kT0, 100, Direction::kIn);
  Feed(p, 2, 60, absl::Seconds(1), kT0, 100, Direction::kOut);
  const absl::Time t = kT0 + absl::Seconds(1);
  EXPECT_NEAR(p.MessagesPerSec(1, t), 300, 30);
  EXPECT_NEAR(p.MessagesPerSec(2, t), 60, 10);
  EXPECT_NEAR(p.BytesPerSec(2, t), 60 * 100, 10 * 100);
  EXPECT_TRUE(p.Evaluate(t).empty());  // hot from now, not yet sustained
  EXPECT_EQ(p.Evaluate(t + absl::Milliseconds(200)), std::vector<sctp_assoc_t>{1});
}

TEST(HotnessPolicyTest, ShortBurstDoesNotPeel) {
  HotnessPolicy p = Make({.peel_messages_per_sec = 100, .sustain = absl::Seconds(1)});
  p.Add(1, {"10.0.0.1", 1}, kT0);
  Feed(p, 1, 2000, absl::Milliseconds(200), kT0);  // 400 messages in 200 ms
  for (int ms = 100; ms <= 3000; ms += 100) {
    EXPECT_TRUE(p.Evaluate(kT0 + absl::Milliseconds(ms)).empty()) << ms;
  }
}

TEST(HotnessPolicyTest, HysteresisBandKeepsItHotThroughADip) {
  HotnessPolicy p = Make({.peel_messages_per_sec = 100, .sustain = absl::Seconds(2), .hysteresis = 0.8});
  p.Add(1, {"a", 1}, kT0);
  absl::Time t = kT0;
  Feed(p, 1, 150, absl::Seconds(1), t);
  EXPECT_TRUE(p.Evaluate(t += absl::Seconds(1)).empty());  // hot from here
  Feed(p, 1, 90, absl::Seconds(1), t);                     // dip to 0.9x: inside the band
  EXPECT_TRUE(p.Evaluate(t += absl::Seconds(1)).empty());
  Feed(p, 1, 150, absl::Seconds(1), t);
  EXPECT_EQ(p.Evaluate(t += absl::Seconds(1)).size(), 1u);  // 2 s hot, the dip did not reset it

  HotnessPolicy q = Make({.peel_messages_per_sec = 100, .sustain = absl::Seconds(2), .hysteresis = 0.8});
  q.Add(1, {"a", 1}, kT0);
  t = kT0;
  Feed(q, 1, 150, absl::Seconds(1), t);
  q.Evaluate(t += absl::Seconds(1));
  Feed(q, 1, 50, absl::Seconds(1), t);  // dip to 0.5x: out of the band, starts over
  EXPECT_TRUE(q.Evaluate(t += absl::Seconds(1)).empty());
  Feed(q, 1, 150, absl::Seconds(1), t);
  EXPECT_TRUE(q.Evaluate(t += absl::Seconds(1)).empty());
}

TEST(HotnessPolicyTest, BytesThresholdAlone) {
  HotnessPolicy p = Make({.peel_messages_per_sec = 0, .peel_bytes_per_sec = 1e6, .sustain = absl::ZeroDuration()});
  p.Add(1, {"a", 1}, kT0);
  p.Add(2, {"b", 1}, kT0);
  Feed(p, 1, 100, absl::Seconds(1), kT0, 20000);  // 2 MB/s
  Feed(p, 2, 5000, absl::Seconds(1), kT0, 10);    // many tiny messages: 50 kB/s
  EXPECT_EQ(p.Evaluate(kT0 + absl::Seconds(1)), std::vector<sctp_assoc_t>{1});
}

TEST(HotnessPolicyTest, RulesFirstMatchWinsThenPeelAll) {
  auto always = PeerRule::Parse("always:10.0.0.9");
  auto never_port = PeerRule::Parse("never:*:2905");
  ASSERT_TRUE(always.ok() && never_port.ok());
  HotnessPolicy p = Make({.peel_messages_per_sec = 100, .sustain = absl::ZeroDuration(),
                          .rules = {*never_port, *always}});
  p.Add(1, {"10.0.0.9", 1000}, kT0);  // always, at zero rate
  p.Add(2, {"10.0.0.9", 2905}, kT0);  // never wins (first)
  p.Add(3, {"10.0.0.3", 2905}, kT0);  // never, however hot
  Feed(p, 2, 1000, absl::Seconds(1), kT0);
  Feed(p, 3, 1000, absl::Seconds(1), kT0);
  EXPECT_EQ(p.Evaluate(kT0 + absl::Seconds(1)), std::vector<sctp_assoc_t>{1});

  HotnessPolicy all = Make({.peel_all = true, .rules = {*never_port}});
  all.Add(1, {"10.0.0.1", 1}, kT0);
  all.Add(2, {"10.0.0.1", 2905}, kT0);
  EXPECT_EQ(all.Evaluate(kT0), std::vector<sctp_assoc_t>{1});
}

TEST(HotnessPolicyTest, ForceMovesAColdOneButNotAPinnedOne) {
  auto never_port = PeerRule::Parse("never:*:2905");
  ASSERT_TRUE(never_port.ok());
  HotnessPolicy p = Make({.peel_messages_per_sec = 100, .rules = {*never_port}});
  p.Add(1, {"10.0.0.1", 1000}, kT0);
  p.Add(2, {"10.0.0.1", 2905}, kT0);
  EXPECT_TRUE(p.Evaluate(kT0).empty());
  EXPECT_TRUE(p.Force(1));
  EXPECT_FALSE(p.Force(2));  // pinned by the never rule
  EXPECT_FALSE(p.Force(3));  // unknown
  EXPECT_EQ(p.Evaluate(kT0), std::vector<sctp_assoc_t>{1});
}

TEST(HotnessPolicyTest, HottestFirstAndRemoved) {
  HotnessPolicy p = Make({.peel_messages_per_sec = 10, .sustain = absl::ZeroDuration()});
  for (sctp_assoc_t id : {1, 2, 3}) p.Add(id, {"x", 1}, kT0);
  Feed(p, 1, 100, absl::Seconds(1), kT0);
  Feed(p, 2, 300, absl::Seconds(1), kT0);
  Feed(p, 3, 200, absl::Seconds(1), kT0);
  EXPECT_EQ(p.Evaluate(kT0 + absl::Seconds(1)), (std::vector<sctp_assoc_t>{2, 3, 1}));
  p.Remove(2);
  EXPECT_EQ(p.Evaluate(kT0 + absl::Seconds(1)), (std::vector<sctp_assoc_t>{3, 1}));
  EXPECT_EQ(p.tracked(), 2u);
}

TEST(HotnessPolicyTest, BadOptionsAreRejected) {
  EXPECT_FALSE(HotnessPolicy::Create({.peel_messages_per_sec = 0}).ok());
  EXPECT_FALSE(HotnessPolicy::Create({.peel_messages_per_sec = -1}).ok());
  EXPECT_FALSE(HotnessPolicy::Create({.window = absl::ZeroDuration()}).ok());
  EXPECT_FALSE(HotnessPolicy::Create({.buckets = 0}).ok());
  EXPECT_FALSE(HotnessPolicy::Create({.hysteresis = 1.5}).ok());
  EXPECT_TRUE(HotnessPolicy::Create({.peel_messages_per_sec = 0, .peel_all = true}).ok());
}

TEST(PeerRuleTest, ParsesEveryForm) {
  auto a = PeerRule::Parse("always:192.168.1.5:3868");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->action, PeerRule::Action::kAlwaysPeel);
  EXPECT_EQ(a->address, "192.168.1.5");
  EXPECT_EQ(a->port, 3868);
  auto b = PeerRule::Parse("never:[2001:db8::1]:2905");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->address, "2001:db8::1");
  EXPECT_EQ(b->port, 2905);
  auto c = PeerRule::Parse("never:::1");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->address, "::1");
  EXPECT_EQ(c->port, 0);
  auto d = PeerRule::Parse("always:*:36412");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->address.empty());
  for (const char* bad : {"", "sometimes:1.2.3.4", "always", "always:not-an-ip", "always:1.2.3.4:0",
                          "always:1.2.3.4:70000", "never:[::1", "never:[::1]x"}) {
    EXPECT_FALSE(PeerRule::Parse(bad).ok()) << bad;
  }
}

TEST(PickWorkerTest, LeastLoadedStableAndCapped) {
  EXPECT_EQ(PickWorker({{0, 50}, {0, 10}, {0, 10}}, 10), 1);  // tie: lowest index
  EXPECT_EQ(PickWorker({{10, 0}, {3, 99}}, 10), 1);           // worker 0 at the cap
  EXPECT_EQ(PickWorker({{2, 0}, {2, 0}}, 2), -1);
  EXPECT_EQ(PickWorker({}, 1), -1);
}

}  // namespace
}  // namespace sctpdp
