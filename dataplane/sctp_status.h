// The kernel's own view of one SCTP association, read with getsockopt on
// the socket it lives on (the one-to-many socket with its id, or its peeled
// one-to-one socket): SCTP_STATUS (state, the peer's window, chunks not yet
// acknowledged or not yet sent, streams, the primary path),
// SCTP_GET_ASSOC_STATS (the kernel's per-association counters, Linux 3.10+;
// absent on older kernels, said so by has_counters) and, per peer address,
// SCTP_GET_PEER_ADDR_INFO, and SCTP_PR_ASSOC_STATUS (messages PR-SCTP
// abandoned). Several system calls each: read at an interval,
// never per message.
#ifndef SCTPDP_DATAPLANE_SCTP_STATUS_H_
#define SCTPDP_DATAPLANE_SCTP_STATUS_H_

#include <netinet/in.h>
#include <netinet/sctp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sctpdp {

struct SctpPathStatus {
  std::string address;  // "10.0.0.1" or "::1" (AddressString), no port
  int state = 0;        // SCTP_ACTIVE, SCTP_INACTIVE, SCTP_PF, SCTP_UNCONFIRMED
  uint32_t cwnd = 0;    // bytes
  uint32_t srtt_ms = 0;
  uint32_t rto_ms = 0;
  uint32_t mtu = 0;
  bool primary = false;
};

// Cumulative counts since the association came up (SCTP_GET_ASSOC_STATS),
// except max_rto_ms: the largest RTO seen since the previous read (reading
// starts a new observation period).
struct SctpAssocCounters {
  uint64_t packets_in = 0, packets_out = 0;
  uint64_t sacks_in = 0, sacks_out = 0;
  uint64_t data_chunks_in = 0, data_chunks_out = 0;  // ordered + unordered
  uint64_t retransmitted_chunks = 0;
  uint64_t gap_acks_in = 0;           // SACKs received with gap blocks
  uint64_t out_of_sequence_tsns = 0;  // TSNs received past the next expected
  uint64_t duplicate_chunks_in = 0;
  uint64_t max_rto_ms = 0;
  // PR-SCTP (SCTP_PR_ASSOC_STATUS, every policy): messages abandoned
  // before they were sent, and after.
  uint64_t abandoned_unsent = 0, abandoned_sent = 0;
};

struct SctpStatus {
  int state = 0;                 // SCTP_ESTABLISHED, ... (sstat_state)
  uint32_t peer_rwnd = 0;        // bytes
  // Sent, not acknowledged (cumulatively or in a gap block) as of the last
  // SACK received (sstat_unackdata).
  uint16_t unacked_chunks = 0;
  // Inbound: TSNs missing below the highest one received, the gaps the
  // receive side waits on (sstat_penddata).
  uint16_t pending_chunks = 0;
  uint16_t inbound_streams = 0;
  uint16_t outbound_streams = 0;
  uint32_t fragmentation_point = 0;
  SctpPathStatus primary;
  bool has_counters = false;     // SCTP_GET_ASSOC_STATS answered
  SctpAssocCounters counters;
  std::vector<SctpPathStatus> paths;  // every peer address, primary included
  unsigned syscalls = 0;         // what this read cost
};

// Reads association `id` on `fd` (a one-to-one socket ignores the id). An
// association the socket does not have: NotFound; any other refusal: the
// option's name and errno.
absl::StatusOr<SctpStatus> ReadSctpStatus(int fd, sctp_assoc_t id);

const char* SctpStateName(int state);      // "ESTABLISHED", "SHUTDOWN_SENT", ...
const char* SctpPathStateName(int state);  // "active", "inactive", "potentially-failed", "unconfirmed"

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_SCTP_STATUS_H_
