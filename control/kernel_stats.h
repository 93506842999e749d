// The kernel's per-association statistics (SCTP_STATUS, SCTP_GET_ASSOC_STATS,
// SCTP_GET_PEER_ADDR_INFO: dataplane/sctp_status.h), read at an interval by
// the thread that owns each association, never per message, and the stall
// detector that watches them.
//
//  - KernelStatsSampler: one per shard (the control thread, each worker), on
//    that thread. At each pass it reads every association the shard serves,
//    works out what changed since its previous read there, and finds the
//    stalled ones.
//  - KernelStatsBoard: what the samplers publish (one lock per shard per
//    pass) and the queries read (DataPlane::KernelStats, Snapshot, the
//    busiest associations).
//
// A stall: an association stuck at every read for stall_after. Stuck is
//  - the peer's window shut (peer_rwnd 0: its application stopped reading;
//    the kernel's zero-window probes are SACKed, but nothing moves), or
//  - data unacknowledged and no SACK since the previous read (the peer or
//    every path gone silent; on a kernel without SCTP_GET_ASSOC_STATS: the
//    unacknowledged count unchanged).
// Reported once at its onset; it ends at the first read not stuck. An
// association that moves starts its watch again on its new shard.
#ifndef SCTPDP_CONTROL_KERNEL_STATS_H_
#define SCTPDP_CONTROL_KERNEL_STATS_H_

#include <netinet/in.h>
#include <netinet/sctp.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dataplane/sctp_status.h"

namespace sctpdp {

struct KernelStatsOptions {
  absl::Duration interval = absl::Seconds(1);      // 0: never read
  absl::Duration stall_after = absl::Seconds(30);  // 0: no stall detection
};

struct AssociationKernelStats {
  sctp_assoc_t id = 0;
  int shard = -1;  // the thread that read it (workers 0..n-1, then the control thread)
  absl::Time sampled;
  SctpStatus status;
  uint64_t packets_in_interval = 0;  // in + out since the previous read on this shard
  bool stalled = false;
  absl::Time progress_at;  // the last read not stuck (or the first read)
};

// Summed over every association (counters: the increments each read saw;
// gauges: the latest reads).
struct KernelTotals {
  size_t associations = 0;      // gauge: associations with a current read
  size_t unacked_chunks = 0;    // gauge
  size_t pending_chunks = 0;    // gauge
  size_t paths = 0;             // gauge
  size_t paths_unreachable = 0; // gauge: inactive or potentially failed
  size_t stalled = 0;           // gauge
  uint64_t stalls = 0;          // onsets
  uint64_t reads = 0;           // associations read
  uint64_t read_errors = 0;     // reads that failed (the association mostly went meanwhile)
  uint64_t syscalls = 0;        // the reads' getsockopt calls
  uint64_t packets_in = 0, packets_out = 0, data_chunks_in = 0, data_chunks_out = 0;
  uint64_t retransmitted_chunks = 0, gap_acks_in = 0, out_of_sequence_tsns = 0, duplicate_chunks_in = 0;
  uint64_t abandoned_unsent = 0, abandoned_sent = 0;  // PR-SCTP
};

using SctpStatusReader = absl::FunctionRef<absl::StatusOr<SctpStatus>(int fd, sctp_assoc_t id)>;

class KernelStatsSampler {
 public:
  KernelStatsSampler(const KernelStatsOptions& options, int shard) : options_(options), shard_(shard) {}

  // Whether a pass is due (never when the interval is 0).
  bool Due(absl::Time now) const;
  // One pass: `begin` starts it; `Read` each association the shard serves
  // (what `read` returns, or its error, counted); `Finish` returns the
  // pass's reads, the associations whose stall began in it, and the
  // counters' increments. Associations not read in a pass are forgotten.
  void Begin(absl::Time now);
  void Read(sctp_assoc_t id, int fd, SctpStatusReader read);
  struct Pass {
    std::vector<AssociationKernelStats> reads;
    std::vector<AssociationKernelStats> stalled_now;  // onsets
    KernelTotals increments;                          // counters only
  };
  Pass Finish();

 private:
  void Account(const AssociationKernelStats* previous, AssociationKernelStats& cur);

  const KernelStatsOptions options_;
  const int shard_;
  absl::Time next_ = absl::InfinitePast();
  absl::Time now_;
  std::unordered_map<sctp_assoc_t, AssociationKernelStats> last_;  // the previous pass's reads
  Pass pass_;
};

class KernelStatsBoard {
 public:
  explicit KernelStatsBoard(size_t shards) : reads_(shards) {}
  // Replaces shard `shard`'s reads with a pass's, and adds its increments.
  void Publish(int shard, const KernelStatsSampler::Pass& pass);
  std::optional<AssociationKernelStats> Get(sctp_assoc_t id) const;
  // The `n` associations with the most packets in their last interval.
  std::vector<AssociationKernelStats> Busiest(size_t n) const;
  KernelTotals Totals() const;

 private:
  // Each association's latest read (two shards may both hold one during a
  // move, until the old one's next pass).
  std::unordered_map<sctp_assoc_t, const AssociationKernelStats*> LatestLocked() const;

  mutable std::mutex mu_;
  std::vector<std::vector<AssociationKernelStats>> reads_;  // per shard; guarded by mu_
  KernelTotals counters_;                                   // guarded by mu_
};

}  // namespace sctpdp

#endif  // SCTPDP_CONTROL_KERNEL_STATS_H_
