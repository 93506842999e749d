#include "control/association_table.h"

#include <netinet/in.h>
#include <netinet/sctp.h>

#include <algorithm>

namespace sctpdp {

const char* LocationName(Location location) {
  switch (location) {
    case Location::kControl: return "control";
    case Location::kMoving: return "moving";
    case Location::kWorker: return "worker";
  }
  return "unknown";
}

AssociationTable::AddResult AssociationTable::Add(const AssociationInfo& info) {
  auto l = Lock();
  if (entries_.count(info.id)) return AddResult::kKnown;
  if (entries_.size() >= max_) return AddResult::kFull;
  size_t& from_peer = per_peer_[info.peer.address];
  if (from_peer >= max_per_peer_) return AddResult::kPeerFull;
  ++from_peer;
  entries_[info.id] = info;
  return AddResult::kAdded;
}

std::optional<AssociationInfo> AssociationTable::Get(sctp_assoc_t id) const {
  auto l = Lock();
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

std::optional<AssociationInfo> AssociationTable::Remove(sctp_assoc_t id) {
  auto l = Lock();
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  AssociationInfo info = std::move(it->second);
  entries_.erase(it);
  auto peer = per_peer_.find(info.peer.address);
  if (peer != per_peer_.end() && --peer->second == 0) per_peer_.erase(peer);
  return info;
}

size_t AssociationTable::size() const {
  auto l = Lock();
  return entries_.size();
}

std::vector<AssociationInfo> AssociationTable::List() const {
  auto l = Lock();
  std::vector<AssociationInfo> out;
  out.reserve(entries_.size());
  for (const auto& [id, info] : entries_) out.push_back(info);
  return out;
}

AssociationTable::Counts AssociationTable::CountByLocation() const {
  auto l = Lock();
  Counts c;
  for (const auto& [id, info] : entries_) {
    if (info.location == Location::kControl) {
      ++c.on_control;
    } else {
      ++c.elsewhere;
    }
  }
  return c;
}

std::optional<AssociationInfo> AssociationTable::SetReceivePaused(sctp_assoc_t id, bool paused) {
  auto l = Lock();
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  it->second.receive_paused = paused;
  return it->second;
}

std::optional<PathInfo> AssociationTable::ApplyPathChange(sctp_assoc_t id, const std::string& address,
                                                          uint16_t change, absl::Time now) {
  auto l = Lock();
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  std::optional<PathInfo> path = sctpdp::ApplyPathChange(it->second.paths, address, change, now);
  if (path && change == SCTP_ADDR_MADE_PRIM) it->second.peer.address = address;
  if (path && (change == SCTP_ADDR_ADDED || change == SCTP_ADDR_REMOVED)) {
    it->second.peer_addresses.clear();
    for (const PathInfo& p : it->second.paths) it->second.peer_addresses.push_back(p.address);
  }
  return path;
}

bool AssociationTable::Restarted(sctp_assoc_t id, uint16_t inbound_streams, uint16_t outbound_streams,
                                 std::vector<PathInfo> paths) {
  auto l = Lock();
  auto it = entries_.find(id);
  if (it == entries_.end()) return false;
  AssociationInfo& info = it->second;
  info.inbound_streams = inbound_streams;
  info.outbound_streams = outbound_streams;
  ++info.restarts;
  if (!paths.empty()) {
    info.paths = std::move(paths);
    info.peer_addresses.clear();
    for (const PathInfo& p : info.paths) {
      info.peer_addresses.push_back(p.address);
      if (p.primary) info.peer.address = p.address;
    }
  }
  return true;
}

bool AssociationTable::StartMove(sctp_assoc_t id, int worker, double messages_per_sec, absl::Time now) {
  auto l = Lock();
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.location != Location::kControl) return false;
  it->second.location = Location::kMoving;
  it->second.worker = worker;
  it->second.messages_per_sec_at_move = messages_per_sec;
  it->second.move_decided_at = now;
  return true;
}

std::optional<bool> AssociationTable::FinishMove(sctp_assoc_t id, absl::Time now) {
  auto l = Lock();
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.location != Location::kMoving) return std::nullopt;
  it->second.location = Location::kWorker;
  it->second.moved_at = now;
  const int64_t took_us = absl::ToInt64Microseconds(now - it->second.move_decided_at);
  move_latency_us_.Record(static_cast<uint64_t>(std::max<int64_t>(0, took_us)));
  return it->second.receive_paused;
}

Histogram AssociationTable::MoveLatency() const {
  auto l = Lock();
  return move_latency_us_;
}

std::vector<WorkerLoad> AssociationTable::Loads(size_t workers) const {
  auto l = Lock();
  std::vector<WorkerLoad> out(workers);
  for (const auto& [id, info] : entries_) {
    if (info.location == Location::kControl || info.worker < 0 || size_t(info.worker) >= workers) continue;
    ++out[info.worker].peeled;
    out[info.worker].messages_per_sec += info.messages_per_sec_at_move;
  }
  return out;
}

}  // namespace sctpdp
