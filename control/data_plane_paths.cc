// DataPlane: what the kernel knows of each association. Its paths (a
// multi-homed peer's addresses: their state from SCTP_PEER_ADDR_CHANGE, the
// primary set with SetPrimary), a peer's restart (SCTP_RESTART: streams and
// paths read again), and the kernel's statistics read at an interval with
// the stall detector (control/kernel_stats.h). Each is handled on the
// thread that owns the association, with its socket; the table and the
// board carry the results to the queries.
#include <netinet/in.h>
#include <netinet/sctp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "control/data_plane.h"
#include "dataplane/log.h"
#include "dataplane/sctp_socket.h"
#include "dataplane/sctp_status.h"

namespace sctpdp {

// --- Paths and restarts -----------------------------------------------------------

void DataPlane::TrackEvent(sctp_assoc_t id, int fd, Route* route, const AssociationEvent& ev) {
  if (ev.type == EventType::kPeerAddrChange) {
    const std::string address = AddressString(reinterpret_cast<const sockaddr*>(&ev.address));
    const std::optional<PathInfo> path = table_.ApplyPathChange(id, address, ev.state, absl::Now());
    if (!path) return;
    path_changes_.fetch_add(1, std::memory_order_relaxed);
    Logf("data plane: association %d: path %s %s", id, address, PathChangeName(ev.state));
    return app_->OnPathChange(*this, id, *path, ev.state);
  }
  if (ev.type != EventType::kAssocChange || ev.state != SCTP_RESTART) return;
  std::vector<PathInfo> paths;
  if (absl::StatusOr<SctpStatus> s = ReadSctpStatus(fd, id); s.ok()) paths = PathsOf(*s, absl::Now());
  table_.Restarted(id, ev.inbound_streams, ev.outbound_streams, std::move(paths));
  if (route != nullptr) route->outbound_streams.store(ev.outbound_streams, std::memory_order_release);
  restarts_.fetch_add(1, std::memory_order_relaxed);
  Logf("data plane: association %d restarted by its peer: %d inbound and %d outbound streams now", id,
       ev.inbound_streams, ev.outbound_streams);
}

absl::Status DataPlane::SetPrimary(sctp_assoc_t id, const std::string& address) {
  if (!running()) return absl::FailedPreconditionError("set primary: data plane not running");
  const std::optional<AssociationInfo> info = table_.Get(id);
  if (!info) return absl::NotFoundError(absl::StrCat("set primary: association ", id, ": unknown"));
  absl::StatusOr<SocketAddress> a = MakeAddress(address, info->peer.port);
  if (!a.ok()) return a.status();
  const std::string canonical = AddressString(a->get());
  bool known = false;
  for (const std::string& p : info->peer_addresses) known = known || p == canonical;
  if (!known) {
    return absl::InvalidArgumentError(absl::StrCat("set primary: ", address, " is not a peer address of association ",
                                                   id, " (", absl::StrJoin(info->peer_addresses, ","), ")"));
  }
  const bool found = router_->RunOnOwner(
      id, {.run = [this, a = *a](Shard& shard, Route& route) { SetPrimaryOn(shard, route, a); },
           .failed = [this, id](const absl::Status& why) { app_->OnError(*this, id, why); }});
  return found ? absl::OkStatus() : absl::NotFoundError(absl::StrCat("set primary: association ", id, ": gone"));
}

// On the owner's thread: the kernel's SCTP_PRIMARY_ADDR, then the table.
void DataPlane::SetPrimaryOn(Shard& shard, Route& route, const SocketAddress& address) {
  const sctp_assoc_t id = route.id.load(std::memory_order_relaxed);
  sctp_prim prim{};
  prim.ssp_assoc_id = id;
  std::memcpy(&prim.ssp_addr, &address.storage, address.length);
  if (setsockopt(shard.SocketOf(route), IPPROTO_SCTP, SCTP_PRIMARY_ADDR, &prim, sizeof(prim)) != 0) {
    return app_->OnError(*this, id, absl::ErrnoToStatus(errno, absl::StrCat("SCTP_PRIMARY_ADDR ",
                                                                            AddressString(address.get()),
                                                                            " for association ", id)));
  }
  // The kernel tells of it (SCTP_ADDR_MADE_PRIM) only on some versions.
  const std::string canonical = AddressString(address.get());
  if (table_.ApplyPathChange(id, canonical, SCTP_ADDR_MADE_PRIM, absl::Now())) {
    Logf("data plane: association %d: primary path now %s", id, canonical);
  }
}

// --- The kernel's statistics -------------------------------------------------------

void DataPlane::ReadKernelStats(Shard& shard, absl::Time now) {
  KernelStatsSampler& sampler = *kernel_samplers_[shard.index()];
  if (!sampler.Due(now)) return;
  sampler.Begin(now);
  shard.ForEachSocket(
      [&](Route& r, int fd) { sampler.Read(r.id.load(std::memory_order_relaxed), fd, ReadSctpStatus); });
  const KernelStatsSampler::Pass pass = sampler.Finish();
  kernel_board_->Publish(shard.index(), pass);  // first: the callbacks' queries see it
  app_->OnKernelStats(*this, pass.reads);
  for (const AssociationKernelStats& k : pass.stalled_now) {
    const SctpStatus& s = k.status;
    const std::string why = absl::StrCat(
        "association ", k.id, " stalled for ", absl::FormatDuration(now - k.progress_at), ": peer window ",
        s.peer_rwnd, " B, ", s.unacked_chunks, " chunks unacknowledged (primary path ", s.primary.address, " ",
        SctpPathStateName(s.primary.state), ", rto ", s.primary.rto_ms, " ms)");
    Logf("data plane: %s", why);
    app_->OnError(*this, k.id, absl::DeadlineExceededError(why));
  }
}

std::optional<AssociationKernelStats> DataPlane::KernelStats(sctp_assoc_t id) const {
  if (!kernel_board_) return std::nullopt;
  return kernel_board_->Get(id);
}

std::vector<AssociationKernelStats> DataPlane::BusiestKernelStats(size_t n) const {
  if (!kernel_board_) return {};
  return kernel_board_->Busiest(n);
}

}  // namespace sctpdp
