#include "control/paths.h"

#include <netinet/in.h>
#include <netinet/sctp.h>

#include <algorithm>

namespace sctpdp {

const char* PathChangeName(uint16_t change) {
  switch (change) {
    case SCTP_ADDR_AVAILABLE: return "available";
    case SCTP_ADDR_UNREACHABLE: return "unreachable";
    case SCTP_ADDR_REMOVED: return "removed";
    case SCTP_ADDR_ADDED: return "added";
    case SCTP_ADDR_MADE_PRIM: return "made-primary";
    case SCTP_ADDR_CONFIRMED: return "confirmed";
    case SCTP_ADDR_POTENTIALLY_FAILED: return "potentially-failed";
  }
  return "unknown";
}

std::vector<PathInfo> PathsOf(const SctpStatus& status, absl::Time now) {
  std::vector<PathInfo> out;
  for (const SctpPathStatus& p : status.paths) {
    out.push_back(PathInfo{.address = p.address, .state = p.state, .primary = p.primary, .since = now});
  }
  return out;
}

std::optional<PathInfo> ApplyPathChange(std::vector<PathInfo>& paths, const std::string& address, uint16_t change,
                                        absl::Time now) {
  auto it = std::find_if(paths.begin(), paths.end(), [&](const PathInfo& p) { return p.address == address; });
  if (change == SCTP_ADDR_ADDED) {
    if (it == paths.end()) it = paths.insert(paths.end(), PathInfo{.address = address, .state = SCTP_UNCONFIRMED});
    it->state = SCTP_UNCONFIRMED;
    it->since = now;
    return *it;
  }
  if (it == paths.end()) return std::nullopt;
  switch (change) {
    case SCTP_ADDR_AVAILABLE:
    case SCTP_ADDR_CONFIRMED:
      it->state = SCTP_ACTIVE;
      break;
    case SCTP_ADDR_UNREACHABLE:
      it->state = SCTP_INACTIVE;
      break;
    case SCTP_ADDR_POTENTIALLY_FAILED:
      it->state = SCTP_PF;
      break;
    case SCTP_ADDR_MADE_PRIM:
      for (PathInfo& p : paths) p.primary = false;
      it->primary = true;
      return *it;  // its state stays, and since
    case SCTP_ADDR_REMOVED: {
      PathInfo gone = *it;
      paths.erase(it);
      return gone;
    }
    default:
      return std::nullopt;
  }
  it->since = now;
  return *it;
}

}  // namespace sctpdp
