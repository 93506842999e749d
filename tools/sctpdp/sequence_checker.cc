#include "tools/sctpdp/sequence_checker.h"

#include <arpa/inet.h>

#include <cstring>

namespace sctpdp {

void SequenceChecker::Observe(int32_t association, uint16_t stream, uint64_t seq) {
  ++counts_.messages;
  std::vector<uint64_t>& all = streams_[association];
  if (stream >= all.size()) all.resize(stream + 1, 0);
  uint64_t& next = all[stream];
  if (seq == next) {
    ++next;
  } else if (seq > next) {
    counts_.gaps += seq - next;
    next = seq + 1;
  } else if (seq + 1 == next) {
    ++counts_.duplicates;  // the one just seen, again
  } else {
    // Earlier than expected: a late one filling a gap (counted as a reorder,
    // and no longer a gap), or a repeat of an older one (cannot tell apart
    // without remembering every number; counted as a reorder).
    ++counts_.reorders;
    if (counts_.gaps > 0) --counts_.gaps;
  }
}

void SequenceChecker::ObserveMessage(int32_t association, uint16_t stream, uint32_t ppid,
                                     absl::Span<const char> payload, std::optional<uint32_t> in_payload) {
  if (!in_payload) return Observe(association, stream, ppid);
  uint32_t seq = 0;
  if (ppid != *in_payload || payload.size() < sizeof(seq)) {
    ++counts_.messages;
    ++counts_.malformed;
    return;
  }
  std::memcpy(&seq, payload.data(), sizeof(seq));
  Observe(association, stream, ntohl(seq));
}

}  // namespace sctpdp
