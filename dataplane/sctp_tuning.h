// SCTP protocol tuning an appliance sets once, at start, on the socket its
// associations come from: retransmission timers, heartbeats, SACK delay,
// INIT retries, the default send parameters and the fragment size. Set on a
// one-to-many socket (association id SCTP_FUTURE_ASSOC) they are the
// endpoint's defaults, taken by every association it accepts or starts;
// a peeled socket keeps its association's values (the kernel moves the
// association with them, and copies the endpoint's defaults to the new
// socket), which ReadTuning on it shows.
//
// Every field is optional: unset leaves the kernel's value (its sysctls).
// A value the kernel refuses is an error naming the socket option and the
// values, never a silent default.
#ifndef SCTPDP_DATAPLANE_SCTP_TUNING_H_
#define SCTPDP_DATAPLANE_SCTP_TUNING_H_

#include <netinet/in.h>
#include <netinet/sctp.h>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sctpdp {

// Partial reliability (RFC 3758 / RFC 7496) for sends that name none.
enum class PrPolicy : uint16_t { kNone, kTtl, kRtx, kPrio };
const char* PrPolicyName(PrPolicy p);

struct SctpTuning {
  // SCTP_RTOINFO, milliseconds.
  std::optional<uint32_t> rto_initial_ms, rto_min_ms, rto_max_ms;
  // SCTP_ASSOCINFO: retransmissions before the association is declared down.
  std::optional<uint16_t> max_retransmissions;
  // SCTP_PEER_ADDR_PARAMS, every path: heartbeat interval (0: heartbeats
  // off) and retransmissions before a path is declared unreachable.
  std::optional<uint32_t> heartbeat_interval_ms;
  std::optional<uint16_t> path_max_retransmissions;
  // SCTP_DELAYED_SACK: how long a SACK may wait (0 or a frequency of 1:
  // every packet is acknowledged at once) and after how many packets.
  std::optional<uint32_t> sack_delay_ms;
  std::optional<uint32_t> sack_frequency;
  // SCTP_INITMSG (the stream counts come with the socket): INIT attempts
  // and the cap on the INIT retransmission timeout.
  std::optional<uint16_t> init_max_attempts;
  std::optional<uint16_t> init_max_timeout_ms;
  // SCTP_DEFAULT_SNDINFO: stream and PPID (host order) of a send that
  // carries none.
  std::optional<uint16_t> default_stream;
  std::optional<uint32_t> default_ppid;
  // SCTP_DEFAULT_PRINFO: the policy and its value (TTL: milliseconds;
  // RTX: retransmissions; PRIO: priority) of a send that names none.
  std::optional<PrPolicy> pr_policy;
  uint32_t pr_value = 0;
  // SCTP_MAXSEG: the largest DATA chunk payload (0: the path MTU's).
  std::optional<uint32_t> max_segment;

  bool empty() const;
  // "rto 1000/200/5000 ms, hb 5000 ms, ..." for the log: the fields set.
  std::string Describe() const;
};

// Sets every field of `t` that has a value on `fd` (association id
// SCTP_FUTURE_ASSOC: on a one-to-many socket, the endpoint's defaults).
// Stops at the first option the kernel refuses: InvalidArgument (or the
// errno's code) naming the option and the values asked for.
absl::Status ApplyTuning(int fd, const SctpTuning& t);

// Every field as the kernel reports it for `fd`: a one-to-many socket's
// defaults, or a one-to-one (peeled, connected) socket's association.
absl::StatusOr<SctpTuning> ReadTuning(int fd);

// The PR-SCTP policy bits (SCTP_PR_SCTP_TTL, _RTX, _PRIO; 0: none) of the
// default SCTP_DEFAULT_PRINFO of `fd` (the endpoint's for
// SCTP_FUTURE_ASSOC, or an association's): what a send that carries
// SCTP_SNDINFO must name in its flags to get the default policy, whose
// value the kernel then takes from the default (a send with SCTP_SNDINFO
// and no policy bits is fully reliable, whatever the default). 0 when
// unreadable.
uint16_t DefaultPrFlags(int fd, sctp_assoc_t id);
// `flags` with `default_pr` applied: a send naming no policy (no PR bits,
// no ttl_ms of its own) takes the default.
inline uint16_t WithDefaultPr(uint16_t flags, uint32_t ttl_ms, uint16_t default_pr) {
  return (ttl_ms == 0 && (flags & SCTP_PR_SCTP_MASK) == 0) ? static_cast<uint16_t>(flags | default_pr) : flags;
}

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_SCTP_TUNING_H_
