// The sctpdp flag layer: every bad value is a clear one-line error naming
// the flag; good values parse in every documented form.
#include "tools/sctpdp/flags.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "tools/sctpdp/tuning_flags.h"

namespace sctpdp {
namespace {

struct Args {
  std::vector<std::string> v;
  std::vector<char*> p;
  explicit Args(std::vector<std::string> a) : v(std::move(a)) {
    for (auto& s : v) p.push_back(s.data());
  }
  int argc() { return static_cast<int>(p.size()); }
  char** argv() { return p.data(); }
};

TEST(ParseSizeTest, UnitsAndErrors) {
  EXPECT_EQ(*ParseSize("1500"), 1500u);
  EXPECT_EQ(*ParseSize("16KiB"), 16384u);
  EXPECT_EQ(*ParseSize("1k"), 1024u);
  EXPECT_EQ(*ParseSize("2M"), 2u << 20);
  for (const char* bad : {"", "k", "-1", "12X", "1.5k", "99999999999999999999"}) EXPECT_FALSE(ParseSize(bad).ok()) << bad;
}

TEST(ParseEndpointTest, Ipv4Ipv6AndErrors) {
  auto a = ParseEndpoint("127.0.0.1:2905");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->address, "127.0.0.1");
  EXPECT_EQ(a->port, 2905);
  auto b = ParseEndpoint("[::1]:3868");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->address, "::1");
  for (const char* bad : {"127.0.0.1", "::1:80", "host:80", "1.2.3.4:70000", "[::1]80", "1.2.3.4:x"}) {
    EXPECT_FALSE(ParseEndpoint(bad).ok()) << bad;
  }
}

TEST(ParseAddressListTest, FamiliesMixedBracketsAndErrors) {
  EXPECT_EQ(*ParseAddressList("127.0.0.1"), (std::vector<std::string>{"127.0.0.1"}));
  EXPECT_EQ(*ParseAddressList("10.0.0.1,::1,[2001:db8::2]"),
            (std::vector<std::string>{"10.0.0.1", "::1", "2001:db8::2"}));
  std::string seventeen = "10.0.0.1";
  for (int i = 2; i <= 17; ++i) seventeen += ",10.0.0." + std::to_string(i);
  for (const std::string& bad :
       std::vector<std::string>{"", "host", "10.0.0.1,", "10.0.0.1,10.0.0.1", "10.0.0.300", "[::1", seventeen}) {
    EXPECT_FALSE(ParseAddressList(bad).ok()) << bad;
  }
}

TEST(ParseMultiEndpointTest, AddressesThenThePort) {
  auto a = ParseMultiEndpoint("127.0.0.1:2905");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->addresses, (std::vector<std::string>{"127.0.0.1"}));
  EXPECT_EQ(a->port, 2905);
  auto b = ParseMultiEndpoint("10.0.0.1,10.0.0.2:3868");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->addresses, (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
  EXPECT_EQ(b->port, 3868);
  auto c = ParseMultiEndpoint("[::1],127.0.0.1:38412");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->addresses, (std::vector<std::string>{"::1", "127.0.0.1"}));
  EXPECT_EQ(c->port, 38412);
  EXPECT_EQ(ParseMultiEndpoint("[2001:db8::1]:1")->addresses[0], "2001:db8::1");
  for (const char* bad : {"127.0.0.1", "::1:2905", "10.0.0.1,::1:2905", ":2905", "10.0.0.1:0", "10.0.0.1:65536",
                          "10.0.0.1:x", "host:2905", "10.0.0.1,10.0.0.1:2905"}) {
    EXPECT_FALSE(ParseMultiEndpoint(bad).ok()) << bad;
  }
  const absl::Status needs = ParseMultiEndpoint("::1:2905").status();
  EXPECT_NE(needs.message().find("brackets"), absl::string_view::npos) << needs;
}

TEST(FlagParserTest, MultiEndpointAddressesAndWhatWasGiven) {
  MultiEndpoint connect;
  std::vector<std::string> local;
  bool reconnect = true;
  FlagParser p("usage: test");
  p.MultiEndpoint("connect", &connect, "peer");
  p.Addresses("local", &local, "local addresses");
  p.Bool("reconnect", &reconnect, "again");
  Args args({"x", "--connect=10.0.0.1,[::1]:2905", "--local", "127.0.0.1,::1", "--no-reconnect"});
  ASSERT_TRUE(p.Parse(args.argc(), args.argv()).ok());
  EXPECT_EQ(connect.addresses, (std::vector<std::string>{"10.0.0.1", "::1"}));
  EXPECT_EQ(connect.port, 2905);
  EXPECT_EQ(local, (std::vector<std::string>{"127.0.0.1", "::1"}));
  EXPECT_FALSE(reconnect);
  EXPECT_TRUE(p.given("connect"));
  EXPECT_TRUE(p.given("reconnect"));
  EXPECT_FALSE(p.given("listen"));
  Args bad({"x", "--connect=::1:2905"});
  FlagParser q("usage: test");
  q.MultiEndpoint("connect", &connect, "peer");
  const absl::Status e = q.Parse(bad.argc(), bad.argv());
  EXPECT_EQ(e.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(e.message().find("--connect=::1:2905"), absl::string_view::npos) << e;
}

TEST(ParseCpuListTest, RangesAndErrors) {
  EXPECT_EQ(*ParseCpuList("0-3,6"), (std::vector<int>{0, 1, 2, 3, 6}));
  for (const char* bad : {"", "a", "3-1", "-1", "0-5000", "1-2-3"}) EXPECT_FALSE(ParseCpuList(bad).ok()) << bad;
}

TEST(FlagParserTest, ParsesEveryKind) {
  std::string mode = "sink", name;
  int64_t n = 1;
  uint64_t size = 1024;
  double rate = 0;
  bool nodelay = true;
  absl::Duration d = absl::Seconds(10);
  std::vector<Endpoint> listen;
  std::vector<int> cpus;
  FlagParser p("usage: test");
  p.Choice("mode", &mode, {"sink", "echo", "verify"}, "what to do");
  p.String("name", &name, "a name");
  p.Int("associations", &n, 1, 100000, "how many");
  p.Size("size", &size, 1, 1 << 20, "message size");
  p.Double("rate", &rate, 0, 1e9, "msg/s");
  p.Bool("nodelay", &nodelay, "SCTP_NODELAY");
  p.Duration("duration", &d, "how long");
  p.Endpoints("listen", &listen, "where");
  p.Cpus("cpus", &cpus, "which CPUs");
  Args a({"x", "--mode=echo", "--name", "n1", "--associations=64", "--size=16KiB", "--rate", "2.5", "--no-nodelay",
          "--duration=250ms", "--listen=127.0.0.1:0,[::1]:2905", "--cpus=0-1"});
  ASSERT_TRUE(p.Parse(a.argc(), a.argv()).ok());
  EXPECT_EQ(mode, "echo");
  EXPECT_EQ(name, "n1");
  EXPECT_EQ(n, 64);
  EXPECT_EQ(size, 16384u);
  EXPECT_EQ(rate, 2.5);
  EXPECT_FALSE(nodelay);
  EXPECT_EQ(d, absl::Milliseconds(250));
  ASSERT_EQ(listen.size(), 2u);
  EXPECT_EQ(listen[1].port, 2905);
  EXPECT_EQ(cpus, (std::vector<int>{0, 1}));
  EXPECT_FALSE(p.help_requested());
}

TEST(FlagParserTest, EveryBadInputIsAOneLineErrorNamingTheFlag) {
  std::string mode = "sink";
  int64_t n = 1;
  uint64_t size = 1024;
  double rate = 0;
  absl::Duration d = absl::Seconds(1);
  FlagParser p("usage: test");
  p.Choice("mode", &mode, {"sink", "echo"}, "m");
  p.Int("associations", &n, 1, 100, "n");
  p.Size("size", &size, 1, 65536, "s");
  p.Double("rate", &rate, 0.001, 1e9, "r");
  p.Duration("duration", &d, "d");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--mode=fast"}, "--mode=fast"},         {{"--associations=0"}, "--associations=0"},
      {{"--associations=x"}, "--associations"}, {{"--size=1M"}, "--size=1M"},
      {{"--rate=-5"}, "--rate=-5"},             {{"--duration=0s"}, "--duration"},
      {{"--bogus=1"}, "--bogus"},               {{"--associations"}, "needs a value"},
      {{"stray"}, "stray"},
  };
  for (const auto& [args, expect] : cases) {
    std::vector<std::string> full = {"x"};
    full.insert(full.end(), args.begin(), args.end());
    Args a(full);
    absl::Status s = p.Parse(a.argc(), a.argv());
    ASSERT_FALSE(s.ok()) << args[0];
    EXPECT_NE(s.message().find(expect), absl::string_view::npos) << s;
    EXPECT_EQ(s.message().find('\n'), absl::string_view::npos) << s;
  }
}

TEST(FlagParserTest, RangedDurationTakesZeroAndRejectsOutOfRange) {
  absl::Duration d = absl::Milliseconds(1);
  FlagParser p("usage: test");
  p.Duration("coalesce", &d, absl::ZeroDuration(), absl::Milliseconds(100), "c");
  Args zero({"x", "--coalesce=0"});
  ASSERT_TRUE(p.Parse(zero.argc(), zero.argv()).ok());
  EXPECT_EQ(d, absl::ZeroDuration());
  Args us({"x", "--coalesce=500us"});
  ASSERT_TRUE(p.Parse(us.argc(), us.argv()).ok());
  EXPECT_EQ(d, absl::Microseconds(500));
  for (const char* bad : {"--coalesce=101ms", "--coalesce=-1ms", "--coalesce=soon"}) {
    Args a({"x", bad});
    absl::Status s = p.Parse(a.argc(), a.argv());
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.message().find("want a duration from 0 to 100ms"), absl::string_view::npos) << s;
  }
}

TEST(FlagParserTest, HelpListsFlagsDefaultsAndExitCodes) {
  int64_t n = 7;
  FlagParser p("usage: sctpdp load [flags]");
  p.Int("associations", &n, 1, 10, "how many associations");
  Args a({"x", "--help"});
  ASSERT_TRUE(p.Parse(a.argc(), a.argv()).ok());
  EXPECT_TRUE(p.help_requested());
  const std::string h = p.Help();
  EXPECT_NE(h.find("usage: sctpdp load"), std::string::npos);
  EXPECT_NE(h.find("--associations=VALUE"), std::string::npos);
  EXPECT_NE(h.find("[default: 7]"), std::string::npos);
  EXPECT_NE(h.find("Exit codes"), std::string::npos);
}

// Tuning flags: unset leaves the kernel's value; the rest become SctpTuning.
SctpTuning ParseTuning(std::vector<std::string> args, absl::Status* error) {
  TuningFlags t;
  FlagParser p("usage: test");
  t.Define(p);
  args.insert(args.begin(), "x");
  Args a(args);
  *error = p.Parse(a.argc(), a.argv());
  if (!error->ok()) return {};
  absl::StatusOr<SctpTuning> tuning = t.Tuning();
  if (!tuning.ok()) *error = tuning.status();
  return tuning.value_or(SctpTuning{});
}

TEST(TuningFlagsTest, UnsetFlagsLeaveTheKernelsValues) {
  absl::Status error;
  const SctpTuning t = ParseTuning({}, &error);
  ASSERT_TRUE(error.ok()) << error;
  EXPECT_TRUE(t.empty());
}

TEST(TuningFlagsTest, EveryFlagReachesItsField) {
  absl::Status error;
  const SctpTuning t = ParseTuning({"--rto-initial=1s", "--rto-min=100ms", "--rto-max=5s", "--max-retrans=6",
                                    "--hb-interval=0", "--path-max-retrans=2", "--sack-delay=40ms", "--sack-freq=1",
                                    "--init-attempts=4", "--init-timeout=3s", "--default-stream=2",
                                    "--default-ppid=3", "--pr-policy=rtx", "--pr-value=2", "--max-seg=1400"},
                                   &error);
  ASSERT_TRUE(error.ok()) << error;
  EXPECT_EQ(t.rto_initial_ms, 1000u);
  EXPECT_EQ(t.rto_min_ms, 100u);
  EXPECT_EQ(t.rto_max_ms, 5000u);
  EXPECT_EQ(t.max_retransmissions, 6);
  EXPECT_EQ(t.heartbeat_interval_ms, 0u);
  EXPECT_EQ(t.path_max_retransmissions, 2);
  EXPECT_EQ(t.sack_delay_ms, 40u);
  EXPECT_EQ(t.sack_frequency, 1u);
  EXPECT_EQ(t.init_max_attempts, 4);
  EXPECT_EQ(t.init_max_timeout_ms, 3000);
  EXPECT_EQ(t.default_stream, 2);
  EXPECT_EQ(t.default_ppid, 3u);
  EXPECT_EQ(t.pr_policy, PrPolicy::kRtx);
  EXPECT_EQ(t.pr_value, 2u);
  EXPECT_EQ(t.max_segment, 1400u);
  EXPECT_EQ(t.Describe(),
            "rto initial 1000 ms, rto min 100 ms, rto max 5000 ms, heartbeat interval 0 ms, path max retransmissions "
            "2, sack delay 40 ms, sack frequency 1, init attempts 4, init max timeout 3000 ms, default stream 2, "
            "default ppid 3, pr rtx 2, max retransmissions 6, max segment 1400 B");
}

TEST(TuningFlagsTest, DisagreementsAreOneLineErrorsNamingTheFlag) {
  for (const auto& [args, expect] :
       std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--pr-value=3"}, "--pr-value needs --pr-policy"},
           {{"--rto-min=1500us"}, "--rto-min=1.5ms: the kernel takes whole milliseconds"},
           {{"--sack-freq=0"}, "--sack-freq=0: must be 1.."},
           {{"--init-timeout=70s"}, "--init-timeout=70s: want a duration from 1ms to 1m5.535s"},
           {{"--pr-policy=sometimes"}, "--pr-policy=sometimes: want one of none, ttl, rtx, prio"}}) {
    absl::Status error;
    ParseTuning(args, &error);
    ASSERT_FALSE(error.ok()) << args[0];
    EXPECT_NE(error.message().find(expect), absl::string_view::npos) << error;
    EXPECT_EQ(error.message().find('\n'), absl::string_view::npos) << error;
  }
}

}  // namespace
}  // namespace sctpdp
