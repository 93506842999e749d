#include "tools/sctpdp/tuning_flags.h"

#include <cstdint>
#include <tuple>

#include "absl/strings/str_cat.h"

namespace sctpdp {
namespace {

// Whole milliseconds of a duration flag, or why not.
absl::Status Millis(const char* flag, const std::optional<absl::Duration>& d, std::optional<uint32_t>* out) {
  if (!d) return absl::OkStatus();
  if (*d % absl::Milliseconds(1) != absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, "=", absl::FormatDuration(*d), ": the kernel takes whole milliseconds"));
  }
  *out = static_cast<uint32_t>(absl::ToInt64Milliseconds(*d));
  return absl::OkStatus();
}

template <typename T>
std::optional<T> Narrow(const std::optional<int64_t>& v) {
  if (!v) return std::nullopt;
  return static_cast<T>(*v);
}

}  // namespace

void TuningFlags::Define(FlagParser& p) {
  const absl::Duration day = absl::Hours(24);
  p.OptionalDuration("rto-initial", &rto_initial, absl::Milliseconds(1), day, "SCTP_RTOINFO: initial RTO");
  p.OptionalDuration("rto-min", &rto_min, absl::Milliseconds(1), day, "SCTP_RTOINFO: RTO.min");
  p.OptionalDuration("rto-max", &rto_max, absl::Milliseconds(1), day, "SCTP_RTOINFO: RTO.max");
  p.OptionalInt("max-retrans", &max_retrans, 1, 65535,
                "SCTP_ASSOCINFO: retransmissions before an association is declared down");
  p.OptionalDuration("hb-interval", &hb_interval, absl::ZeroDuration(), day,
                     "SCTP_PEER_ADDR_PARAMS: heartbeat interval on every path (0: heartbeats off)");
  p.OptionalInt("path-max-retrans", &path_max_retrans, 1, 65535,
                "SCTP_PEER_ADDR_PARAMS: retransmissions before a path is declared unreachable");
  p.OptionalDuration("sack-delay", &sack_delay, absl::ZeroDuration(), absl::Hours(1),
                     "SCTP_DELAYED_SACK: how long a SACK may wait (0: at once)");
  p.OptionalInt("sack-freq", &sack_freq, 1, UINT32_MAX, "SCTP_DELAYED_SACK: a SACK every N packets");
  p.OptionalInt("init-attempts", &init_attempts, 1, 65535, "SCTP_INITMSG: INIT attempts");
  p.OptionalDuration("init-timeout", &init_timeout, absl::Milliseconds(1), absl::Milliseconds(65535),
                     "SCTP_INITMSG: the largest INIT retransmission timeout");
  p.OptionalInt("default-stream", &default_stream, 0, 65535, "SCTP_DEFAULT_SNDINFO: stream of a send naming none");
  p.OptionalInt("default-ppid", &default_ppid, 0, UINT32_MAX, "SCTP_DEFAULT_SNDINFO: PPID of a send naming none");
  p.Choice("pr-policy", &pr_policy, {"none", "ttl", "rtx", "prio"},
           "SCTP_DEFAULT_PRINFO: partial reliability of a send naming none (default: unset)");
  p.OptionalInt("pr-value", &pr_value, 0, UINT32_MAX,
                "SCTP_DEFAULT_PRINFO: TTL in ms, retransmissions, or priority, by --pr-policy");
  p.OptionalInt("max-seg", &max_seg, 0, 65535, "SCTP_MAXSEG: largest DATA chunk payload in bytes (0: the path's)");
}

absl::StatusOr<SctpTuning> TuningFlags::Tuning() const {
  SctpTuning t;
  for (auto [flag, d, out] : {std::tuple{"rto-initial", &rto_initial, &t.rto_initial_ms},
                              std::tuple{"rto-min", &rto_min, &t.rto_min_ms},
                              std::tuple{"rto-max", &rto_max, &t.rto_max_ms},
                              std::tuple{"hb-interval", &hb_interval, &t.heartbeat_interval_ms},
                              std::tuple{"sack-delay", &sack_delay, &t.sack_delay_ms}}) {
    if (absl::Status s = Millis(flag, *d, out); !s.ok()) return s;
  }
  std::optional<uint32_t> init_ms;
  if (absl::Status s = Millis("init-timeout", init_timeout, &init_ms); !s.ok()) return s;
  t.init_max_timeout_ms = Narrow<uint16_t>(init_ms);
  t.max_retransmissions = Narrow<uint16_t>(max_retrans);
  t.path_max_retransmissions = Narrow<uint16_t>(path_max_retrans);
  t.sack_frequency = Narrow<uint32_t>(sack_freq);
  t.init_max_attempts = Narrow<uint16_t>(init_attempts);
  t.default_stream = Narrow<uint16_t>(default_stream);
  t.default_ppid = Narrow<uint32_t>(default_ppid);
  t.max_segment = Narrow<uint32_t>(max_seg);
  if (pr_value && pr_policy.empty()) return absl::InvalidArgumentError("--pr-value needs --pr-policy");
  if (!pr_policy.empty()) {
    for (PrPolicy p : {PrPolicy::kNone, PrPolicy::kTtl, PrPolicy::kRtx, PrPolicy::kPrio}) {
      if (pr_policy == PrPolicyName(p)) t.pr_policy = p;
    }
    t.pr_value = static_cast<uint32_t>(pr_value.value_or(0));
  }
  return t;
}

}  // namespace sctpdp
