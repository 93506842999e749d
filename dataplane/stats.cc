#include "dataplane/stats.h"

#include <utility>

namespace sctpdp {

WorkerStats& WorkerStats::operator+=(const WorkerStats& o) {
  totals += o.totals;
  for (auto [mine, theirs] :
       {std::pair{&enter_calls, o.enter_calls}, {&cqes, o.cqes},
        {&cq_overflows, o.cq_overflows}, {&cq_dropped, o.cq_dropped}, {&enobufs, o.enobufs},
        {&recv_rearms, o.recv_rearms}, {&recv_errors, o.recv_errors}, {&oversize_messages, o.oversize_messages},
        {&reassembly_refused, o.reassembly_refused}, {&reassembly_bytes, o.reassembly_bytes},
        {&partials_dropped, o.partials_dropped},
        {&associations_adopted, o.associations_adopted}, {&associations_closed, o.associations_closed},
        {&associations_detached, o.associations_detached}, {&associations_active, o.associations_active},
        {&retained_buffers, o.retained_buffers}, {&retain_refused, o.retain_refused},
        {&send_buffers_in_use, o.send_buffers_in_use},
        {&inbox_commands, o.inbox_commands}, {&mail, o.mail}, {&eventfd_wakes, o.eventfd_wakes},
        {&msg_ring_wakes, o.msg_ring_wakes}, {&inbox_locks, o.inbox_locks}, {&zc_sends, o.zc_sends},
        {&other_syscalls, o.other_syscalls}, {&naps, o.naps}, {&gathers, o.gathers}, {&recv_pauses, o.recv_pauses},
        {&held_flushes, o.held_flushes}, {&chains_in_flight, o.chains_in_flight}}) {
    *mine += theirs;
  }
  return *this;
}

}  // namespace sctpdp
