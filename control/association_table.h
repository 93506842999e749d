// AssociationTable: every association the data plane knows, as the control
// plane sees it: where it lives (the control thread's one-to-many socket,
// moving, or a worker), its peer and streams, when it came and moved. It is
// control state, not on the per-message path: it changes when an
// association comes, moves or goes, and is read by queries (DataPlane's
// Association, Associations, Snapshot) and the move decisions. Sends find
// their way through the lock-free Directory (handoff/), never through this.
//
// Thread-safe: one mutex, whose acquisitions are counted (Snapshot reports
// them, so "not on the per-message path" is measured).
#ifndef SCTPDP_CONTROL_ASSOCIATION_TABLE_H_
#define SCTPDP_CONTROL_ASSOCIATION_TABLE_H_

#include <netinet/in.h>
#include <netinet/sctp.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/time/time.h"
#include "control/hotness_policy.h"
#include "control/paths.h"
#include "dataplane/histogram.h"

namespace sctpdp {

enum class Location : uint8_t { kControl, kMoving, kWorker };
const char* LocationName(Location location);

struct AssociationInfo {
  sctp_assoc_t id = 0;
  uint32_t connection = 0;            // the Connect that set it up (ConnectionId); 0: accepted
  Peer peer;                          // primary peer address and port
  std::vector<std::string> peer_addresses;
  // Every peer address's path: state and primary as the kernel last said
  // (SCTP_PEER_ADDR_CHANGE, SetPrimary), from its read at COMM_UP.
  std::vector<PathInfo> paths;
  unsigned restarts = 0;              // the peer restarted it (SCTP_RESTART)
  std::vector<std::string> local_addresses;  // this end's, at COMM_UP (sctp_getladdrs)
  uint16_t inbound_streams = 0;
  uint16_t outbound_streams = 0;
  Location location = Location::kControl;
  int worker = -1;                    // when moving or on a worker
  absl::Time up_since;
  absl::Time move_decided_at;         // when the control thread chose to move it
  absl::Time moved_at;                // when its worker adopted it
  double messages_per_sec_at_move = 0;
  uint64_t messages_in_control = 0;   // received while on the control thread (DataPlane fills these)
  uint64_t bytes_in_control = 0;
  bool receive_paused = false;        // DataPlane::PauseReceive: applied once on a worker
};

class AssociationTable {
 public:
  // `max_per_peer`: associations from one primary peer address at once (a
  // peer cannot take the whole table by itself).
  explicit AssociationTable(size_t max_associations, size_t max_per_peer = SIZE_MAX)
      : max_(max_associations), max_per_peer_(max_per_peer) {}

  enum class AddResult : uint8_t { kAdded, kFull, kPeerFull, kKnown };
  // kFull: max_associations; kPeerFull: max_per_peer from its primary
  // address; kKnown: already in.
  AddResult Add(const AssociationInfo& info);
  std::optional<AssociationInfo> Get(sctp_assoc_t id) const;
  std::optional<AssociationInfo> Remove(sctp_assoc_t id);
  size_t size() const;
  std::vector<AssociationInfo> List() const;
  // Associations on the control thread, and elsewhere (moving or on a
  // worker), counted under one lock without copying any entry.
  struct Counts {
    size_t on_control = 0;
    size_t elsewhere = 0;
  };
  Counts CountByLocation() const;
  // Records the application's wish (DataPlane::PauseReceive) and returns the
  // association as it is now, atomically with the record.
  std::optional<AssociationInfo> SetReceivePaused(sctp_assoc_t id, bool paused);

  // A path changed (SCTP_PEER_ADDR_CHANGE, or SetPrimary's MADE_PRIM):
  // the path after it (paths.h), or nothing (unknown association or path).
  std::optional<PathInfo> ApplyPathChange(sctp_assoc_t id, const std::string& address, uint16_t change,
                                          absl::Time now);
  // The peer restarted the association (SCTP_RESTART): its streams and
  // paths as they are now. False: unknown.
  bool Restarted(sctp_assoc_t id, uint16_t inbound_streams, uint16_t outbound_streams, std::vector<PathInfo> paths);

  // Moves: control -> moving (false if it is not on the control thread),
  // moving -> worker (whether its receive is to be paused; nothing if it was
  // not moving).
  bool StartMove(sctp_assoc_t id, int worker, double messages_per_sec, absl::Time now);
  std::optional<bool> FinishMove(sctp_assoc_t id, absl::Time now);
  // Per worker: associations on (or moving to) it and their summed rate at
  // the time they moved.
  std::vector<WorkerLoad> Loads(size_t workers) const;

  uint64_t lock_acquisitions() const { return locks_.load(std::memory_order_relaxed); }
  // Move latency, microseconds: from the control thread's decision
  // (StartMove) to the worker's adoption (FinishMove), every move so far.
  Histogram MoveLatency() const;

 private:
  // Every acquisition of mu_ goes through here, and is counted.
  std::unique_lock<std::mutex> Lock() const {
    locks_.fetch_add(1, std::memory_order_relaxed);
    return std::unique_lock<std::mutex>(mu_);
  }

  const size_t max_, max_per_peer_;
  mutable std::mutex mu_;
  mutable std::atomic<uint64_t> locks_{0};
  std::unordered_map<sctp_assoc_t, AssociationInfo> entries_;  // guarded by mu_
  std::unordered_map<std::string, size_t> per_peer_;           // guarded by mu_: entries by peer.address
  Histogram move_latency_us_;                                   // guarded by mu_
};

}  // namespace sctpdp

#endif  // SCTPDP_CONTROL_ASSOCIATION_TABLE_H_
