#include "tools/sctpdp/sequence_checker.h"

namespace sctpdp {

void SequenceChecker::Observe(int32_t association, uint16_t stream, uint64_t seq) {
  ++counts_.messages;
  Stream& s = streams_[Key(association, stream)];
  if (seq == s.next) {
    ++s.next;
  } else if (seq > s.next) {
    counts_.gaps += seq - s.next;
    s.next = seq + 1;
  } else if (seq + 1 == s.next) {
    ++counts_.duplicates;  // the one just seen, again
  } else {
    // Earlier than expected: a late one filling a gap (counted as a reorder,
    // and no longer a gap), or a repeat of an older one (cannot tell apart
    // without remembering every number; counted as a reorder).
    ++counts_.reorders;
    if (counts_.gaps > 0) --counts_.gaps;
  }
}

}  // namespace sctpdp
