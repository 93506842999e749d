// A multi-homed association's paths (its peer's addresses) as the data
// plane tracks them: their state at COMM_UP from the kernel
// (SCTP_GET_PEER_ADDR_INFO), then every SCTP_PEER_ADDR_CHANGE applied
// (available, unreachable, potentially failed, confirmed, added, removed,
// made primary). Pure logic, host-tested (control/paths_test.cc).
#ifndef SCTPDP_CONTROL_PATHS_H_
#define SCTPDP_CONTROL_PATHS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "dataplane/sctp_status.h"

namespace sctpdp {

struct PathInfo {
  std::string address;  // the peer's, as AddressString writes it
  int state = 0;        // SCTP_ACTIVE, SCTP_INACTIVE, SCTP_PF, SCTP_UNCONFIRMED (SctpPathStateName)
  bool primary = false;
  absl::Time since;     // when it took this state (or was first seen)
};

// "available", "unreachable", "removed", "added", "made-primary",
// "confirmed", "potentially-failed" for an SCTP_ADDR_* change.
const char* PathChangeName(uint16_t change);

// The paths the kernel reports for an association.
std::vector<PathInfo> PathsOf(const SctpStatus& status, absl::Time now);

// Applies SCTP_PEER_ADDR_CHANGE `change` of `address` to `paths`: the path
// as it is after it (a removed one as it was), or nothing for a change no
// path takes (an unknown SCTP_ADDR_* value, or a change to an address not
// known, other than ADDED).
std::optional<PathInfo> ApplyPathChange(std::vector<PathInfo>& paths, const std::string& address, uint16_t change,
                                        absl::Time now);

}  // namespace sctpdp

#endif  // SCTPDP_CONTROL_PATHS_H_
