// Host tests of regress's parts that need no guest: the guest output parser,
// the console scan, the guest script, side flags, kernel lookup, and the
// analysis of fixed boot results.
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tools/sctpdp/regress_boot.h"
#include "tools/sctpdp/regress_report.h"
#include "tools/sctpdp/regress_side.h"

namespace sctpdp {
namespace {

TEST(ParseGuestOutputTest, ReadsKnownLinesAndSkipsTheRest) {
  const std::string text =
      "{\"type\":\"uname\",\"release\":\"6.12.117+deb12-amd64\"}\n"
      "not json at all\n"
      "{\"type\":\"features\",\"release\":\"x\",\"io_uring\":\"defer_taskrun=1\",\"ring_flags\":\"SINGLE_ISSUER\"}\n"
      "{\"type\":\"test\",\"name\":\"peeloff_test\",\"exit\":0}\n"
      "{\"type\":\"test\",\"name\":\"data_plane_test\",\"exit\":1}\n"
      "{\"type\":\"cell\",\"engine\":\"uring\",\"mode\":\"echo\",\"size\":1024,\"hot\":8,\"associations\":64,"
      "\"repeat\":1,\"messages_per_s\":18000.5,\"rtt_p50_us\":14000,\"a_field_from_the_future\":[1,2],"
      "\"syscalls_per_message\":\"not a number\"}\n"
      "{\"type\":\"ratio\",\"mode\":\"echo\",\"messages_per_s\":2.5}\n"
      "{\"type\":\"something_new\"}\n"
      "{\"type\":\"cell\",\"broken\n"
      "[1,2,3]\n"
      "{\"type\":\"bench_exit\",\"exit\":0}\n";
  BootResult r;
  ParseGuestOutput(text, &r);
  EXPECT_EQ(r.release, "6.12.117+deb12-amd64");
  EXPECT_EQ(r.io_uring_features, "defer_taskrun=1");
  EXPECT_EQ(r.ring_flags, "SINGLE_ISSUER");
  ASSERT_EQ(r.tests.size(), 2u);
  EXPECT_EQ(r.tests[1], std::make_pair(std::string("data_plane_test"), 1));
  ASSERT_EQ(r.cells.size(), 1u);  // the ratio line is not a cell
  EXPECT_EQ(r.cells[0].Key(), "uring echo 1024 8/64");
  EXPECT_EQ(r.cells[0].repeat, 1);
  EXPECT_EQ(r.cells[0].metrics.at("messages_per_s"), 18000.5);
  EXPECT_EQ(r.cells[0].metrics.at("rtt_p50_us"), 14000);
  EXPECT_EQ(r.cells[0].metrics.count("syscalls_per_message"), 0u);  // not a number: left out
  EXPECT_EQ(r.bench_exit, 0);
  EXPECT_TRUE(r.why.empty());
}

TEST(ParseGuestOutputTest, SetupFailureSaysWhat) {
  BootResult r;
  ParseGuestOutput("{\"type\":\"setup_failed\",\"what\":\"sysctl net.sctp.nope\"}\n", &r);
  EXPECT_EQ(r.why, "in the guest: sysctl net.sctp.nope failed");
}

// Found by //fuzz:guest_output_fuzz: a known field with a value of another
// type ("exit":"SINGLE_ISSUER") threw nlohmann's type_error out of regress.
TEST(ParseGuestOutputTest, FieldsOfAnotherTypeAreReadAsMissing) {
  BootResult r;
  ParseGuestOutput(
      "{\"type\":\"bench_exit\",\"exit\":\"SINGLE_ISSUER\"}\n"
      "{\"type\":7}\n"
      "{\"type\":\"uname\",\"release\":[1]}\n"
      "{\"type\":\"test\",\"name\":null,\"exit\":1.5}\n"
      "{\"type\":\"cell\",\"engine\":{},\"size\":-3,\"hot\":99999999999,\"repeat\":2}\n",
      &r);
  EXPECT_EQ(r.bench_exit, -1);
  EXPECT_EQ(r.release, "");
  ASSERT_EQ(r.tests.size(), 1u);
  EXPECT_EQ(r.tests[0], std::make_pair(std::string("?"), -1));
  ASSERT_EQ(r.cells.size(), 1u);
  EXPECT_EQ(r.cells[0].engine, "");
  EXPECT_EQ(r.cells[0].size, 0u);
  EXPECT_EQ(r.cells[0].hot, 0);
  EXPECT_EQ(r.cells[0].repeat, 2);
}

TEST(ScanConsoleTest, FindsKernelProblemsOnly) {
  const std::string console =
      "[    0.94] acpi PNP0A03:00: fail to add MMCONFIG information\n"
      "[   12.10] ------------[ cut here ]------------\n"
      "[   12.10] WARNING: CPU: 1 PID: 77 at net/sctp/outqueue.c:123 sctp_outq_flush+0x1/0x2\n"
      "[   12.11] Call Trace:\n"
      "[   13.00] BUG: KASAN: use-after-free in sctp_chunk_put\n"
      "[   14.00] WARNING: possible circular locking dependency detected\n"
      "[   15.00] reboot: Restarting system\n";
  const std::vector<std::string> found = ScanConsole(console);
  ASSERT_EQ(found.size(), 4u);
  EXPECT_TRUE(absl::StrContains(found[0], "sctp_outq_flush"));
  EXPECT_TRUE(absl::StrContains(found[2], "KASAN"));
  EXPECT_EQ(ScanConsole(console, 2).size(), 2u);
  EXPECT_TRUE(ScanConsole("[ 1.0] sctp: Hash tables configured\n[ 2.0] reboot: Restarting system\n").empty());
}

TEST(GuestScriptTest, SysctlsSetupSuiteAndBench) {
  Side side{.name = "B", .kernel = "6.12", .sysctls = {"net.sctp.rto_min=100"}, .setup = "tc qdisc add dev lo root netem delay 5ms"};
  BootPlan plan;
  plan.sctpdp = "/x/sctpdp";
  plan.suite = {"/x/bazel-bin/tests/peeloff_test_bin"};
  plan.bench = {"--modes=echo", "--repeats=4"};
  const std::string s = GuestScript(side, plan, "/out/boot-0-B");
  EXPECT_TRUE(absl::StrContains(s, "echo '100' > '/proc/sys/net/sctp/rto_min'")) << s;
  EXPECT_TRUE(absl::StrContains(s, "bash -c 'tc qdisc add dev lo root netem delay 5ms'")) << s;
  EXPECT_TRUE(absl::StrContains(s, "'/x/sctpdp' features")) << s;
  EXPECT_TRUE(absl::StrContains(s, "'/x/bazel-bin/tests/peeloff_test_bin' >test-peeloff_test.log")) << s;
  EXPECT_TRUE(absl::StrContains(s, "\\\"name\\\":\\\"peeloff_test\\\"") || absl::StrContains(s, "\"name\":\"peeloff_test\""))
      << s;
  EXPECT_TRUE(absl::StrContains(s, "'/x/sctpdp' bench --json '--modes=echo' '--repeats=4'")) << s;
  plan.bench.clear();
  EXPECT_FALSE(absl::StrContains(GuestScript(side, plan, "/o"), "bench")) << "--runs=0: no bench";
}

TEST(ShellQuoteTest, QuotesSingleQuotes) {
  EXPECT_EQ(ShellQuote("a b"), "'a b'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
}

TEST(ParseSidesTest, DefaultsToTheTwoKernelsSetupInstalled) {
  bool help = false;
  auto sides = ParseSides({}, &help);
  ASSERT_TRUE(sides.ok());
  ASSERT_EQ(sides->size(), 2u);
  EXPECT_EQ((*sides)[0].kernel, "6.1");
  EXPECT_EQ((*sides)[1].kernel, "6.12");
}

TEST(ParseSidesTest, FlagsBelongToTheSideBeforeThem) {
  bool help = false;
  auto sides = ParseSides({"--side=A", "--kernel=6.1", "--side", "B", "--kernel", "6.1", "--setup=tc qdisc add",
                           "--sysctl=net.sctp.rto_min=100,net.core.rmem_max=4194304", "--append=mitigations=off"},
                          &help);
  ASSERT_TRUE(sides.ok()) << sides.status();
  EXPECT_TRUE((*sides)[0].setup.empty());
  EXPECT_EQ((*sides)[1].setup, "tc qdisc add");
  EXPECT_EQ((*sides)[1].sysctls.size(), 2u);
  EXPECT_EQ((*sides)[1].append, "mitigations=off");
}

TEST(ParseSidesTest, BadInputIsOneLineNamingTheSide) {
  bool help = false;
  EXPECT_FALSE(ParseSides({"--side=A", "--kernel=6.1"}, &help).ok());  // one side
  EXPECT_FALSE(ParseSides({"--side=A", "--side=B", "--kernel=6.1"}, &help).ok());  // A has no kernel
  EXPECT_FALSE(ParseSides({"--side=A", "--kernel=x", "--side=A", "--kernel=y"}, &help).ok());  // same name
  EXPECT_FALSE(ParseSides({"--side=a b", "--kernel=x", "--side=B", "--kernel=y"}, &help).ok());
  auto bad = ParseSides({"--side=A", "--kernel=x", "--sysctl=novalue", "--side=B", "--kernel=y"}, &help);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "side A")) << bad.status();
  EXPECT_FALSE(ParseSides({"--side=A", "--kernel=x", "--bogus=1", "--side=B", "--kernel=y"}, &help).ok());
}

class ResolveKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/regress_cache.XXXXXX";
    cache_ = mkdtemp(tmpl);
    const std::string pkg = cache_ + "/linux-image-9.9.9-amd64";
    for (const std::string& d : {pkg, pkg + "/boot", pkg + "/lib", pkg + "/lib/modules", pkg + "/lib/modules/9.9.9-amd64"}) {
      mkdir(d.c_str(), 0755);
    }
    std::ofstream(pkg + "/boot/vmlinuz-9.9.9-amd64") << "image";
    symlink("linux-image-9.9.9-amd64/boot/vmlinuz-9.9.9-amd64", (cache_ + "/vmlinuz-9.9").c_str());
    symlink("linux-image-9.9.9-amd64/lib/modules/9.9.9-amd64", (cache_ + "/modules-9.9").c_str());
  }
  std::string cache_;
};

TEST_F(ResolveKernelTest, CachedNamePackageAndPath) {
  for (const std::string& k : {std::string("9.9"), std::string("linux-image-9.9.9-amd64"),
                              cache_ + "/linux-image-9.9.9-amd64/boot/vmlinuz-9.9.9-amd64"}) {
    Side side{.name = "A", .kernel = k};
    ASSERT_TRUE(ResolveKernel(cache_, &side).ok()) << k;
    EXPECT_EQ(side.release, "9.9.9-amd64") << k;
    EXPECT_TRUE(absl::EndsWith(side.image, "/boot/vmlinuz-9.9.9-amd64")) << side.image;
  }
}

TEST_F(ResolveKernelTest, MissingKernelOrModulesSayWhy) {
  Side none{.name = "B", .kernel = "7.0"};
  absl::Status s = ResolveKernel(cache_, &none);
  EXPECT_TRUE(absl::IsNotFound(s));
  EXPECT_TRUE(absl::StrContains(s.message(), "side B")) << s;
  Side no_modules{.name = "C", .kernel = "/etc/hostname"};
  EXPECT_TRUE(absl::StrContains(ResolveKernel(cache_, &no_modules).message(), "module tree")) << "needs --modules";
}

BootResult Boot(const std::string& side, const std::vector<double>& rates, double rtt) {
  BootResult b;
  b.side = side;
  for (size_t i = 0; i < rates.size(); ++i) {
    BenchCell c{"uring", "sink", 1024, 8, 64, static_cast<int>(i)};
    c.metrics = {{"messages_per_s", rates[i]}, {"rtt_p50_us", rtt}};
    b.cells.push_back(c);
  }
  b.tests = {{"peeloff_test", 0}};
  return b;
}

TEST(AnalyzeTest, DropsWarmUpsAndAllZeroMetricsAndCountsTheSuite) {
  std::vector<Side> sides = {{.name = "A"}, {.name = "B"}};
  std::vector<BootResult> boots = {Boot("A", {1, 100, 100}, 0), Boot("B", {1, 80, 80}, 0), Boot("B", {1, 80, 80}, 0),
                                   Boot("A", {1, 100, 100}, 0), Boot("A", {1, 100, 100}, 0), Boot("B", {1, 80, 80}, 0)};
  boots[2].tests = {{"peeloff_test", 1}};
  const Report r = Analyze(sides, boots, {}, 2);
  ASSERT_EQ(r.rows.size(), 1u);  // rtt is 0 everywhere (sink): left out
  EXPECT_EQ(r.rows[0].metric, "messages_per_s");
  EXPECT_EQ(r.rows[0].a.boots.size(), 3u);
  EXPECT_EQ(r.rows[0].a.runs(), 6);  // the warm-up (1) of each boot dropped
  EXPECT_NEAR(r.rows[0].comparison.change, -0.2, 1e-12);
  EXPECT_EQ(r.rows[0].comparison.verdict, Verdict::kRegression);
  ASSERT_EQ(r.tests.size(), 2u);
  EXPECT_EQ(r.tests[1].side, "B");
  EXPECT_EQ(r.tests[1].failed, 1);
  EXPECT_EQ(r.tests[1].runs, 3);
  const nlohmann::json j = ReportJson(r);
  EXPECT_EQ(j["metrics"][0]["verdict"], "regression");
  EXPECT_EQ(j["metrics"][0]["a"]["samples"].size(), 3u);  // one list of runs per boot
}

}  // namespace
}  // namespace sctpdp
