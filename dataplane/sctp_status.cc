#include "dataplane/sctp_status.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "dataplane/sctp_socket.h"

namespace sctpdp {
namespace {

absl::Status OptionError(const char* option, sctp_assoc_t id) {
  if (errno == EINVAL) return absl::NotFoundError(absl::StrCat(option, ": no association ", id, " on this socket"));
  return absl::ErrnoToStatus(errno, absl::StrCat("getsockopt ", option, " of association ", id));
}

SctpPathStatus PathOf(const sctp_paddrinfo& p) {
  return SctpPathStatus{.address = AddressString(reinterpret_cast<const sockaddr*>(&p.spinfo_address)),
                        .state = p.spinfo_state,
                        .cwnd = p.spinfo_cwnd,
                        .srtt_ms = p.spinfo_srtt,
                        .rto_ms = p.spinfo_rto,
                        .mtu = p.spinfo_mtu};
}

// SCTP_GET_ASSOC_STATS; false where the kernel has no such option.
absl::StatusOr<bool> ReadCounters(int fd, sctp_assoc_t id, SctpAssocCounters* out) {
  sctp_assoc_stats s{};
  s.sas_assoc_id = id;
  socklen_t len = sizeof(s);
  if (getsockopt(fd, IPPROTO_SCTP, SCTP_GET_ASSOC_STATS, &s, &len) != 0) {
    if (errno == ENOPROTOOPT) return false;
    return OptionError("SCTP_GET_ASSOC_STATS", id);
  }
  *out = SctpAssocCounters{.packets_in = s.sas_ipackets,
                           .packets_out = s.sas_opackets,
                           .sacks_in = s.sas_isacks,
                           .sacks_out = s.sas_osacks,
                           .data_chunks_in = s.sas_iodchunks + s.sas_iuodchunks,
                           .data_chunks_out = s.sas_oodchunks + s.sas_ouodchunks,
                           .retransmitted_chunks = s.sas_rtxchunks,
                           .gap_acks_in = s.sas_gapcnt,
                           .out_of_sequence_tsns = s.sas_outofseqtsns,
                           .duplicate_chunks_in = s.sas_idupchunks,
                           .max_rto_ms = s.sas_maxrto};
  return true;
}

// SCTP_PR_ASSOC_STATUS summed over the policies (a kernel without it: 0s).
void ReadAbandoned(int fd, sctp_assoc_t id, SctpAssocCounters* out) {
  sctp_prstatus pr{};
  pr.sprstat_assoc_id = id;
  pr.sprstat_policy = SCTP_PR_SCTP_ALL;
  socklen_t len = sizeof(pr);
  if (getsockopt(fd, IPPROTO_SCTP, SCTP_PR_ASSOC_STATUS, &pr, &len) != 0) return;
  out->abandoned_unsent = pr.sprstat_abandoned_unsent;
  out->abandoned_sent = pr.sprstat_abandoned_sent;
}

// Every peer address, and SCTP_GET_PEER_ADDR_INFO for each.
absl::Status ReadPaths(int fd, sctp_assoc_t id, SctpStatus* out) {
  absl::StatusOr<std::vector<SocketAddress>> addrs = AssociationAddresses(fd, id, /*peer=*/true);
  ++out->syscalls;
  if (!addrs.ok()) return OptionError("SCTP_GET_PEER_ADDRS", id);  // errno is still the call's
  absl::Status status;
  for (size_t i = 0; i < addrs->size() && status.ok(); ++i) {
    const SocketAddress& a = (*addrs)[i];
    sctp_paddrinfo info{};
    info.spinfo_assoc_id = id;
    std::memcpy(&info.spinfo_address, &a.storage, a.length);
    socklen_t len = sizeof(info);
    ++out->syscalls;
    if (getsockopt(fd, IPPROTO_SCTP, SCTP_GET_PEER_ADDR_INFO, &info, &len) != 0) {
      // A path removed between the two calls (ASCONF): not an error.
      if (errno != EINVAL) status = OptionError("SCTP_GET_PEER_ADDR_INFO", id);
    } else {
      SctpPathStatus path = PathOf(info);
      path.primary = path.address == out->primary.address;
      out->paths.push_back(std::move(path));
    }
  }
  return status;
}

}  // namespace

absl::StatusOr<SctpStatus> ReadSctpStatus(int fd, sctp_assoc_t id) {
  SctpStatus out;
  sctp_status s{};
  s.sstat_assoc_id = id;
  socklen_t len = sizeof(s);
  out.syscalls = 1;
  if (getsockopt(fd, IPPROTO_SCTP, SCTP_STATUS, &s, &len) != 0) return OptionError("SCTP_STATUS", id);
  out.state = s.sstat_state;
  out.peer_rwnd = s.sstat_rwnd;
  out.unacked_chunks = s.sstat_unackdata;
  out.pending_chunks = s.sstat_penddata;
  out.inbound_streams = s.sstat_instrms;
  out.outbound_streams = s.sstat_outstrms;
  out.fragmentation_point = s.sstat_fragmentation_point;
  out.primary = PathOf(s.sstat_primary);
  out.primary.primary = true;
  ++out.syscalls;
  absl::StatusOr<bool> counters = ReadCounters(fd, id, &out.counters);
  if (!counters.ok()) return counters.status();
  out.has_counters = *counters;
  ++out.syscalls;
  ReadAbandoned(fd, id, &out.counters);
  if (absl::Status st = ReadPaths(fd, id, &out); !st.ok()) return st;
  return out;
}

const char* SctpStateName(int state) {
  switch (state) {
    case SCTP_EMPTY: return "EMPTY";
    case SCTP_CLOSED: return "CLOSED";
    case SCTP_COOKIE_WAIT: return "COOKIE_WAIT";
    case SCTP_COOKIE_ECHOED: return "COOKIE_ECHOED";
    case SCTP_ESTABLISHED: return "ESTABLISHED";
    case SCTP_SHUTDOWN_PENDING: return "SHUTDOWN_PENDING";
    case SCTP_SHUTDOWN_SENT: return "SHUTDOWN_SENT";
    case SCTP_SHUTDOWN_RECEIVED: return "SHUTDOWN_RECEIVED";
    case SCTP_SHUTDOWN_ACK_SENT: return "SHUTDOWN_ACK_SENT";
  }
  return "UNKNOWN";
}

const char* SctpPathStateName(int state) {
  switch (state) {
    case SCTP_ACTIVE: return "active";
    case SCTP_INACTIVE: return "inactive";
    case SCTP_PF: return "potentially-failed";
    case SCTP_UNCONFIRMED: return "unconfirmed";
  }
  return "unknown";
}

}  // namespace sctpdp
