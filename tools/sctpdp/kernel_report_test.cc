#include "tools/sctpdp/kernel_report.h"

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "gtest/gtest.h"

namespace sctpdp {
namespace {

AssociationKernelStats Assoc(sctp_assoc_t id, const char* peer, uint64_t rtx) {
  AssociationKernelStats k;
  k.id = id;
  k.status.state = SCTP_ESTABLISHED;
  k.status.peer_rwnd = 65536;
  k.status.primary.address = peer;
  k.status.counters.retransmitted_chunks = rtx;
  k.status.paths = {SctpPathStatus{.address = peer, .state = SCTP_ACTIVE, .srtt_ms = 3, .primary = true},
                    SctpPathStatus{.address = "10.9.9.9", .state = SCTP_INACTIVE}};
  return k;
}

KernelReport Report() {
  KernelReport r;
  r.totals.associations = 40;
  r.totals.retransmitted_chunks = 17;
  r.totals.stalls = 2;
  r.busiest = {Assoc(7, "10.0.0.1", 11), Assoc(9, "fd00::2", 6)};
  r.move_latency_us.Record(1500);
  r.peel_no_fds = 3;
  return r;
}

TEST(KernelReportTest, JsonHasTotalsBusiestAndMoves) {
  const Json j = KernelReportJson(Report());
  EXPECT_EQ(j["associations"], 40);
  EXPECT_EQ(j["retransmitted_chunks"], 17);
  EXPECT_EQ(j["stalls"], 2);
  ASSERT_EQ(j["busiest"].size(), 2u);
  EXPECT_EQ(j["busiest"][0]["assoc"], 7);
  EXPECT_EQ(j["busiest"][0]["state"], "ESTABLISHED");
  EXPECT_EQ(j["busiest"][0]["retransmitted_chunks"], 11);
  ASSERT_EQ(j["busiest"][1]["paths"].size(), 2u);
  EXPECT_EQ(j["busiest"][1]["paths"][1]["state"], "inactive");
  EXPECT_EQ(j["move_latency_us"]["count"], 1);
  EXPECT_EQ(j["move_latency_us"]["max"], 1500);
  EXPECT_EQ(j["peel_failures"]["no_fds"], 3);
}

// Every line is a comment or a well-formed sample; each family is declared
// once, before its samples; the per-association series are the busiest
// ones only.
TEST(KernelReportTest, PrometheusTextIsWellFormedAndBounded) {
  std::string text;
  AppendKernelMetrics(Report(), "uring", text);
  const std::regex sample(R"(^(sctpdp_[a-z_]+)\{([^}]*)\} (-?[0-9.e+]+)$)");
  const std::regex type(R"(^# TYPE (sctpdp_[a-z_]+) (gauge|counter)$)");
  std::set<std::string> declared;
  std::map<std::string, int> series;
  std::set<std::string> assocs;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, type)) {
      EXPECT_TRUE(declared.insert(m[1]).second) << "declared twice: " << line;
    } else if (std::regex_match(line, m, sample)) {
      EXPECT_TRUE(declared.count(m[1])) << "undeclared: " << line;
      EXPECT_NE(m[2].str().find("engine=\"uring\""), std::string::npos) << line;
      ++series[m[1]];
      const std::string labels = m[2];
      if (auto at = labels.find("assoc=\""); at != std::string::npos) assocs.insert(labels.substr(at + 7, 1));
    } else {
      EXPECT_EQ(line.rfind("# HELP sctpdp_", 0), 0u) << "not a sample: " << line;
    }
  }
  EXPECT_EQ(series["sctpdp_kernel_retransmitted_chunks_total"], 1);
  EXPECT_EQ(series["sctpdp_assoc_retransmitted_chunks_total"], 2);
  EXPECT_EQ(series["sctpdp_path_srtt_ms"], 4);
  EXPECT_EQ(series["sctpdp_peel_failures_total"], 4);
  EXPECT_EQ(assocs, (std::set<std::string>{"7", "9"}));
  EXPECT_NE(text.find("sctpdp_kernel_retransmitted_chunks_total{engine=\"uring\"} 17\n"), std::string::npos);
  EXPECT_NE(text.find("path=\"10.9.9.9\",state=\"inactive\"} 0\n"), std::string::npos);
}

}  // namespace
}  // namespace sctpdp
