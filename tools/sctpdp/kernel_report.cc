#include "tools/sctpdp/kernel_report.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sctpdp {
namespace {

// The totals, by name: (JSON key and metric name, Prometheus type, help, value).
struct Total {
  const char* name;
  const char* type;
  const char* help;
  uint64_t value;
};

std::vector<Total> Totals(const KernelReport& r) {
  const KernelTotals& t = r.totals;
  return {
      {"associations", "gauge", "Associations with a current kernel read.", t.associations},
      {"unacked_chunks", "gauge", "DATA chunks sent and not acknowledged, over every association.",
       t.unacked_chunks},
      {"pending_chunks", "gauge", "Inbound TSNs missing below the highest received.", t.pending_chunks},
      {"paths", "gauge", "Peer addresses of every association.", t.paths},
      {"paths_unreachable", "gauge", "Peer addresses inactive or potentially failed.", t.paths_unreachable},
      {"stalled", "gauge", "Associations stalled now (peer window shut, or unacknowledged data and no SACK).",
       t.stalled},
      {"stalls_total", "counter", "Stalls begun.", t.stalls},
      {"reads_total", "counter", "Associations read (SCTP_STATUS and the rest).", t.reads},
      {"read_errors_total", "counter", "Reads that failed.", t.read_errors},
      {"syscalls_total", "counter", "getsockopt calls of the reads.", t.syscalls},
      {"packets_in_total", "counter", "SCTP packets received.", t.packets_in},
      {"packets_out_total", "counter", "SCTP packets sent.", t.packets_out},
      {"data_chunks_in_total", "counter", "DATA chunks received.", t.data_chunks_in},
      {"data_chunks_out_total", "counter", "DATA chunks sent (first transmissions).", t.data_chunks_out},
      {"retransmitted_chunks_total", "counter", "DATA chunks retransmitted.", t.retransmitted_chunks},
      {"gap_acks_in_total", "counter", "SACKs received with gap blocks.", t.gap_acks_in},
      {"out_of_sequence_tsns_total", "counter", "TSNs received past the next expected.",
       t.out_of_sequence_tsns},
      {"duplicate_chunks_in_total", "counter", "Duplicate DATA chunks received.", t.duplicate_chunks_in},
      {"abandoned_unsent_total", "counter", "Messages PR-SCTP abandoned before they were sent.", t.abandoned_unsent},
      {"abandoned_sent_total", "counter", "Messages PR-SCTP abandoned after they were sent.", t.abandoned_sent},
  };
}

Json PathJson(const SctpPathStatus& p) {
  return Json{{"address", p.address}, {"state", SctpPathStateName(p.state)}, {"primary", p.primary},
              {"srtt_ms", p.srtt_ms}, {"rto_ms", p.rto_ms},                    {"cwnd", p.cwnd},
              {"mtu", p.mtu}};
}

Json AssociationJson(const AssociationKernelStats& k) {
  const SctpStatus& s = k.status;
  Json paths = Json::array();
  for (const SctpPathStatus& p : s.paths) paths.push_back(PathJson(p));
  return Json{{"assoc", k.id},
              {"state", SctpStateName(s.state)},
              {"stalled", k.stalled},
              {"peer_rwnd", s.peer_rwnd},
              {"unacked_chunks", s.unacked_chunks},
              {"pending_chunks", s.pending_chunks},
              {"inbound_streams", s.inbound_streams},
              {"outbound_streams", s.outbound_streams},
              {"packets_in_interval", k.packets_in_interval},
              {"retransmitted_chunks", s.counters.retransmitted_chunks},
              {"gap_acks_in", s.counters.gap_acks_in},
              {"max_rto_ms", s.counters.max_rto_ms},
              {"abandoned", s.counters.abandoned_unsent + s.counters.abandoned_sent},
              {"paths", std::move(paths)}};
}

// One sample line: sctpdp_NAME{LABELS} VALUE.
void Sample(std::string& out, const char* name, const std::string& labels, double value) {
  absl::StrAppendFormat(&out, "sctpdp_%s{%s} %.17g\n", name, labels, value);
}

void Header(std::string& out, const char* name, const char* type, const char* help) {
  absl::StrAppendFormat(&out, "# HELP sctpdp_%s %s\n# TYPE sctpdp_%s %s\n", name, help, name, type);
}

// The busiest associations, one series each (and one per path).
void AppendPerAssociation(const KernelReport& r, const std::string& engine, std::string& out) {
  struct Field {
    const char* name;
    const char* type;
    const char* help;
    double (*value)(const AssociationKernelStats&);
  };
  static const Field kFields[] = {
      {"assoc_peer_rwnd_bytes", "gauge", "The peer's receive window as this end sees it (busiest associations).",
       [](const AssociationKernelStats& k) { return double(k.status.peer_rwnd); }},
      {"assoc_unacked_chunks", "gauge", "DATA chunks not acknowledged (busiest associations).",
       [](const AssociationKernelStats& k) { return double(k.status.unacked_chunks); }},
      {"assoc_retransmitted_chunks_total", "counter", "DATA chunks retransmitted (busiest associations).",
       [](const AssociationKernelStats& k) { return double(k.status.counters.retransmitted_chunks); }},
      {"assoc_stalled", "gauge", "1 while the association is stalled (busiest associations).",
       [](const AssociationKernelStats& k) { return k.stalled ? 1.0 : 0.0; }},
  };
  for (const Field& f : kFields) {
    Header(out, f.name, f.type, f.help);
    for (const AssociationKernelStats& k : r.busiest) {
      Sample(out, f.name,
             absl::StrFormat("engine=\"%s\",assoc=\"%d\",peer=\"%s\"", engine, k.id, k.status.primary.address),
             f.value(k));
    }
  }
  Header(out, "path_srtt_ms", "gauge", "Smoothed round-trip time per path (busiest associations).");
  for (const AssociationKernelStats& k : r.busiest) {
    for (const SctpPathStatus& p : k.status.paths) {
      Sample(out, "path_srtt_ms",
             absl::StrFormat("engine=\"%s\",assoc=\"%d\",path=\"%s\",state=\"%s\"", engine, k.id, p.address,
                             SctpPathStateName(p.state)),
             p.srtt_ms);
    }
  }
}

}  // namespace

Json KernelReportJson(const KernelReport& r) {
  Json j = Json::object();
  for (const Total& t : Totals(r)) {
    std::string key = t.name;  // a count, without the metric's suffix
    if (absl::EndsWith(key, "_total")) key.resize(key.size() - 6);
    j[key] = t.value;
  }
  Json busiest = Json::array();
  for (const AssociationKernelStats& k : r.busiest) busiest.push_back(AssociationJson(k));
  j["busiest"] = std::move(busiest);
  j["move_latency_us"] = Json{{"count", r.move_latency_us.count()},
                              {"p50", r.move_latency_us.Percentile(0.5)},
                              {"p99", r.move_latency_us.Percentile(0.99)},
                              {"max", r.move_latency_us.max()}};
  j["peel_failures"] = Json{{"busy", r.peel_busy},         {"gone", r.peel_gone},
                            {"no_fds", r.peel_no_fds},     {"errors", r.peel_errors},
                            {"deferred", r.peel_deferred}};
  return j;
}

void AppendKernelMetrics(const KernelReport& r, const std::string& engine, std::string& out) {
  const std::string labels = absl::StrFormat("engine=\"%s\"", engine);
  for (const Total& t : Totals(r)) {
    const std::string name = absl::StrCat("kernel_", t.name);
    Header(out, name.c_str(), t.type, t.help);
    Sample(out, name.c_str(), labels, double(t.value));
  }
  Header(out, "move_latency_us", "gauge", "Move latency percentiles, decision to adoption, microseconds.");
  for (const auto& [q, v] : {std::pair{"0.5", r.move_latency_us.Percentile(0.5)},
                             std::pair{"0.99", r.move_latency_us.Percentile(0.99)},
                             std::pair{"1", r.move_latency_us.max()}}) {
    Sample(out, "move_latency_us", absl::StrCat(labels, ",quantile=\"", q, "\""), double(v));
  }
  Header(out, "peel_failures_total", "counter", "Peeloffs that failed, by reason.");
  for (const auto& [why, n] : {std::pair{"busy", r.peel_busy}, std::pair{"gone", r.peel_gone},
                               std::pair{"no_fds", r.peel_no_fds}, std::pair{"error", r.peel_errors}}) {
    Sample(out, "peel_failures_total", absl::StrCat(labels, ",reason=\"", why, "\""), double(n));
  }
  AppendPerAssociation(r, engine, out);
}

}  // namespace sctpdp
