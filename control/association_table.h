// AssociationTable: every association the data plane knows, where it lives
// (the control thread's one-to-many socket, moving, or a worker), its peer,
// streams and counters, and its outbox. Thread-safe: the control thread,
// the workers and application threads all use it.
//
// The outbox is how sends keep their order across a move. Any thread may
// append a message for an association; only the thread that owns the
// association (control, or its worker) flushes it, under the table lock.
// Ownership changes only when the outbox is empty (control -> moving) or by
// flushing it first (moving -> worker), so no message overtakes another.
#ifndef SCTPDP_CONTROL_ASSOCIATION_TABLE_H_
#define SCTPDP_CONTROL_ASSOCIATION_TABLE_H_

#include <netinet/in.h>
#include <netinet/sctp.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "control/hotness_policy.h"
#include "dataplane/message.h"
#include "dataplane/stats.h"

namespace sctpdp {

enum class Location : uint8_t { kControl, kMoving, kWorker };
const char* LocationName(Location location);

struct AssociationInfo {
  sctp_assoc_t id = 0;
  Peer peer;                          // primary peer address and port
  std::vector<std::string> peer_addresses;
  uint16_t inbound_streams = 0;
  uint16_t outbound_streams = 0;
  Location location = Location::kControl;
  int worker = -1;                    // when moving or on a worker
  AssocHandle handle;                 // on the worker
  absl::Time up_since;
  absl::Time move_decided_at;         // when the control thread chose to move it
  absl::Time moved_at;                // when its worker adopted it
  double messages_per_sec_at_move = 0;
  uint64_t messages_in_control = 0;   // received while on the control thread
  uint64_t bytes_in_control = 0;
  bool receive_paused = false;        // DataPlane::PauseReceive: applied once on a worker
};

// A message to send, by reference (the direct path copies nothing) ...
struct SendView {
  uint16_t stream = 0;
  uint32_t ppid = 0;
  uint16_t flags = 0;
  uint32_t ttl_ms = 0;
  absl::Span<const char> payload;
};
// ... and owned, while it waits in an outbox.
using PendingSend = OutgoingMessage;
inline SendView ViewOf(const PendingSend& p) { return {p.stream, p.ppid, p.flags, p.ttl_ms, p.payload}; }
// Sends one message; false: not now (queue full, no buffers), keep it and stop.
using SendFn = std::function<bool(const AssociationInfo&, const SendView&)>;

class AssociationTable {
 public:
  explicit AssociationTable(size_t max_associations) : max_(max_associations) {}

  // False when full (max_associations) or already known.
  bool Add(const AssociationInfo& info);
  std::optional<AssociationInfo> Get(sctp_assoc_t id) const;
  // Records the application's wish (DataPlane::PauseReceive) and returns the
  // association as it is now, atomically with the record.
  std::optional<AssociationInfo> SetReceivePaused(sctp_assoc_t id, bool paused);
  std::optional<sctp_assoc_t> FindByHandle(AssocHandle handle) const;
  std::optional<AssociationInfo> Remove(sctp_assoc_t id);
  size_t size() const;
  bool full() const;
  std::vector<AssociationInfo> List() const;
  // Associations on the control thread, and elsewhere (moving or on a
  // worker), counted under one lock without copying any entry.
  struct Counts {
    size_t on_control = 0;
    size_t elsewhere = 0;
  };
  Counts CountByLocation() const;
  void CountControlMessage(sctp_assoc_t id, uint64_t bytes);

  // --- Sends --------------------------------------------------------------
  // Where a send for `id` must go now. `send_here(info)` runs under the lock
  // when the outbox is empty and the caller is allowed to send directly (the
  // owner's thread); it returns whether it took the message. Otherwise the
  // message is appended to the outbox (bounded by `outbox_limit`) and the
  // owner is returned for a kick. kUnknown, kFull, or kBadStream for a
  // stream at or past the association's outbound streams (when known).
  enum class Route : uint8_t { kSent, kQueued, kUnknown, kFull, kBadStream };
  struct RouteResult {
    Route route = Route::kUnknown;
    Location location = Location::kControl;
    int worker = -1;
    AssocHandle handle;
  };
  // Callbacks by reference (absl::FunctionRef): this is every Send's path,
  // and a std::function of a capturing lambda would allocate.
  RouteResult RouteSend(sctp_assoc_t id, const SendView& send, size_t outbox_limit,
                        absl::FunctionRef<bool(const AssociationInfo&)> may_send_here,
                        absl::FunctionRef<bool(const AssociationInfo&, const SendView&)> send_here);
  // Flushes the outbox of `id` through `send` (under the lock), if `id` is
  // where the caller says it is, until `send` says "not now". True when the
  // outbox had been full (a Send got kQueueFull) and now has room again.
  bool Flush(sctp_assoc_t id, Location where, int worker, const SendFn& send);
  // Associations owned by (where, worker) whose outbox is not empty.
  std::vector<sctp_assoc_t> WithOutbox(Location where, int worker) const;

  // --- Moves --------------------------------------------------------------
  // control -> moving. `older` (messages the control thread had queued but
  // not yet given to the kernel) go in front of the outbox: they are older
  // than anything in it. False if `id` is not on the control thread.
  bool StartMove(sctp_assoc_t id, int worker, double messages_per_sec, std::vector<PendingSend> older,
                 absl::Time now = absl::Now());
  // moving -> control (the peeloff must be retried).
  void AbortMove(sctp_assoc_t id);
  // moving -> worker: flushes the outbox through `send` first, under the
  // lock, so the first messages the worker sends are the oldest.
  // Nothing if it was not moving.
  struct Landed {
    bool writable = false;        // a sender refused (kQueueFull) while the outbox was full: tell it
    bool receive_paused = false;  // paused (DataPlane::PauseReceive) while it moved: apply it
  };
  std::optional<Landed> FinishMove(sctp_assoc_t id, AssocHandle handle, absl::Time now, const SendFn& send);
  // Per worker: associations on (or moving to) it and their summed rate at
  // the time they moved.
  std::vector<WorkerLoad> Loads(size_t workers) const;

 private:
  struct Entry {
    AssociationInfo info;
    std::deque<PendingSend> outbox;
    size_t outbox_limit = 0;
    bool refused = false;  // a Send got kFull: tell it when there is room
  };
  // True when the outbox had refused a send and now has room.
  bool FlushLocked(Entry& e, const SendFn& send);

  const size_t max_;
  mutable std::mutex mu_;
  std::unordered_map<sctp_assoc_t, Entry> entries_;    // guarded by mu_
  std::unordered_map<uint64_t, sctp_assoc_t> by_handle_;  // guarded by mu_
};

}  // namespace sctpdp

#endif  // SCTPDP_CONTROL_ASSOCIATION_TABLE_H_
