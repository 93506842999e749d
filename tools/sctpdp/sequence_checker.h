// SequenceChecker: what `sctpdp serve --mode verify` checks. `sctpdp load`
// numbers the messages of each (association, stream) 0, 1, 2, ..., in the
// PPID or (load --ppid=N) in the payload's first 4 bytes; the
// checker counts, per stream, messages that skip ahead (gaps: the skipped
// numbers), repeat one already seen (duplicates) or come back to an earlier
// one (reorders). Pure: no I/O, no threads (one per owning thread).
#ifndef SCTPDP_TOOLS_SCTPDP_SEQUENCE_CHECKER_H_
#define SCTPDP_TOOLS_SCTPDP_SEQUENCE_CHECKER_H_

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "absl/types/span.h"

namespace sctpdp {

struct SequenceCounts {
  uint64_t messages = 0;
  uint64_t gaps = 0;        // sequence numbers skipped (may still arrive late: then reorders)
  uint64_t duplicates = 0;
  uint64_t reorders = 0;    // arrived after a later one
  uint64_t malformed = 0;   // no sequence number where it should be (another PPID, a short payload)

  SequenceCounts& operator+=(const SequenceCounts& o) {
    messages += o.messages;
    gaps += o.gaps;
    duplicates += o.duplicates;
    reorders += o.reorders;
    malformed += o.malformed;
    return *this;
  }
  bool clean() const { return gaps == 0 && duplicates == 0 && reorders == 0 && malformed == 0; }
};

class SequenceChecker {
 public:
  // One message `seq` on (association, stream).
  void Observe(int32_t association, uint16_t stream, uint64_t seq);
  // One message as it arrived: its sequence number is its PPID when
  // `in_payload` is unset; else every message's PPID must be *in_payload
  // and the number is in its payload's first 4 bytes, network order
  // (a message that breaks this is counted malformed).
  void ObserveMessage(int32_t association, uint16_t stream, uint32_t ppid, absl::Span<const char> payload,
                      std::optional<uint32_t> in_payload);
  // Forgets the association: it ended (its entries would pile up under
  // churn), or its peer restarted (SCTP_RESTART: a new incarnation on the
  // same ports and association id, whose streams start again at 0).
  void Forget(int32_t association) { streams_.erase(association); }
  const SequenceCounts& counts() const { return counts_; }

 private:
  // Per association, the number expected next on each stream.
  std::unordered_map<int32_t, std::vector<uint64_t>> streams_;
  SequenceCounts counts_;
};

}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_SEQUENCE_CHECKER_H_
