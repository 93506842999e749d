// The SCTP tuning flags `serve` takes (and any tool that opens associations
// can): RTO, retransmissions, heartbeats, SACK delay, INIT, default send
// parameters, PR-SCTP and the segment size. Unset flags leave the kernel's
// values; what the kernel refuses fails the start, naming the option.
#ifndef SCTPDP_TOOLS_SCTPDP_TUNING_FLAGS_H_
#define SCTPDP_TOOLS_SCTPDP_TUNING_FLAGS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dataplane/sctp_tuning.h"
#include "tools/sctpdp/flags.h"

namespace sctpdp {

struct TuningFlags {
  std::optional<absl::Duration> rto_initial, rto_min, rto_max, hb_interval, sack_delay, init_timeout;
  std::optional<int64_t> max_retrans, path_max_retrans, sack_freq, init_attempts, default_stream, default_ppid,
      pr_value, max_seg;
  std::string pr_policy;  // "": unset

  void Define(FlagParser& p);
  // The tuning asked for; a usage error (one line, naming the flag) where
  // flags disagree (--pr-value without --pr-policy, a sub-millisecond time).
  absl::StatusOr<SctpTuning> Tuning() const;
};

}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_TUNING_FLAGS_H_
