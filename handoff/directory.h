// Directory: which thread owns each association, readable by every thread
// without a lock, written by the control thread alone.
//
// A Route is one association's entry. It never moves and is never freed
// while the data plane lives (routes are reused, and only once no sender is
// between reading one and handing a message over), so a pointer from a
// lookup stays safe to read; whether it still names the association is
// checked against its id.
//
// The index from association id to route is an open-addressing hash table of
// 64-bit atomic slots (id and route index packed, so a reader never sees a
// torn pair). Inserts publish into an empty slot; removals shift later
// entries back under a sequence counter, and a reader that found nothing
// checks the counter to tell "absent" from "moved under me". Growth builds a
// new table and publishes it; old tables are kept until the directory dies
// (at most as much again as the largest table).
#ifndef SCTPDP_HANDOFF_DIRECTORY_H_
#define SCTPDP_HANDOFF_DIRECTORY_H_

#include <netinet/in.h>
#include <netinet/sctp.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "dataplane/message.h"
#include "dataplane/retention.h"
#include "dataplane/send_buffer.h"
#include "dataplane/stats.h"

namespace sctpdp {

// Where a route's association lives.
enum class RouteState : uint8_t {
  kFree = 0,  // not in use
  kLive,      // owned by `shard`, which serves it
  kMoving,    // published to `shard`, which has not adopted it yet
  kGone,      // ended: sends are refused
};

struct RouteOwner {
  uint8_t shard = 0;
  RouteState state = RouteState::kFree;
};

// A message the owner accepted but could not queue yet (its engine's queue
// was full, or the association is between owners): a parcel another thread
// built, a buffer of the owner's own pool, a received message the owner kept
// (Router::SendRetained: sent from its receive buffer), or memory of its
// own (a queue taken from the previous owner at a move). A buffer of the
// owner's pool and a receive buffer never leave its thread: at a move they
// are copied once (Router::Carry). With SCTP_EOF in `flags` and no payload
// it is no message but the application's Shutdown (Router::Shutdown), which
// keeps its place behind the sends accepted before it.
struct PendingSend {
  uint16_t stream = 0;
  uint32_t ppid = 0;
  uint16_t flags = 0;
  uint32_t ttl_ms = 0;
  SendBuffer buffer;       // valid: a parcel or the owner's own buffer
  // Else: a receive buffer of the thread whose backlog holds it
  // (buffer_id >= 0), or memory of its own (`reassembled`); `payload` is
  // what to send.
  RetainedMessage owned;
  bool cross_thread = false;  // counted in Route::parcels until queued
};

struct Route {
  // --- Read by any thread; written by the control thread, and by the owner
  // when it adopts (kMoving -> kLive).
  std::atomic<sctp_assoc_t> id{0};
  std::atomic<uint32_t> owner{0};  // RouteOwner, packed
  std::atomic<uint16_t> outbound_streams{0};  // 0: unknown (no check)
  uint32_t index = 0;  // in the directory; fixed

  // --- Cross-thread sends (a line of their own: other threads write it).
  alignas(64) std::atomic<uint32_t> senders{0};  // between reading `owner` and handing over
  std::atomic<uint32_t> parcels{0};              // handed over, not yet queued by the owner
  std::atomic<bool> want_writable{false};        // a cross-thread send was refused
  // The application ends it (Router::Shutdown, Router::Abort): sends are
  // refused; an abort is carried out by whichever shard owns it next.
  std::atomic<bool> closing{false};
  std::atomic<bool> abort_requested{false};

  // --- The owner's alone (handed over with the association, by the
  // happens-before of the move's publication and adoption).
  alignas(64) uint64_t handle = 0;     // the owner's engine's name for it
  std::deque<PendingSend> backlog;     // accepted, not yet queued, oldest first
  bool leaving = false;                // the owner is handing it to another
  bool want_writable_local = false;    // a send on the owner's thread was refused for room: tell the app when there is
  void* app_context = nullptr;         // the application's (DataPlane::Context)
  // Written only by the source of a move between publishing it and posting
  // the adoption; read by the destination at adoption.
  std::deque<PendingSend> handoff;

  // --- Counters of its time on a one-to-many socket (written by that owner).
  Counter messages_in_control, bytes_in_control;

  static uint32_t Pack(RouteOwner o) { return (uint32_t{static_cast<uint8_t>(o.state)} << 8) | o.shard; }
  static RouteOwner Unpack(uint32_t v) { return RouteOwner{static_cast<uint8_t>(v), static_cast<RouteState>(v >> 8)}; }
  RouteOwner Owner(std::memory_order order = std::memory_order_acquire) const { return Unpack(owner.load(order)); }
  void SetOwner(RouteOwner o) { owner.store(Pack(o), std::memory_order_seq_cst); }
};

class Directory {
 public:
  // Up to `max_routes` live at once (the index grows as needed).
  explicit Directory(size_t max_routes);
  ~Directory();
  Directory(const Directory&) = delete;
  Directory& operator=(const Directory&) = delete;

  // --- Any thread.
  // The route entered under `id`, or null. Lock-free; may return a route
  // being removed (check its owner state).
  Route* Find(sctp_assoc_t id) const;
  // The route with this index (stable). REQUIRES: index came from a route.
  Route* at(uint32_t index) const;

  // --- The control thread only.
  // A route for a new association `id`, owned by `owner`; null when
  // `max_routes` are live or `id` is already entered.
  Route* Insert(sctp_assoc_t id, RouteOwner owner, uint16_t outbound_streams);
  // Takes `route` out of the index and marks it gone; it is reused once no
  // sender holds it.
  void Remove(Route* route);
  size_t size() const { return live_; }

 private:
  struct Table;
  static constexpr uint32_t kChunkBits = 10;  // 1024 routes per chunk
  static constexpr uint32_t kMaxChunks = 1u << 14;

  Route* NewRoute();
  void Grow();
  void Place(Table* t, uint64_t entry);
  void Erase(Table* t, size_t at);

  const size_t max_;
  std::unique_ptr<std::atomic<Route*>[]> chunks_;
  uint32_t routes_ = 0;                 // routes allocated so far
  std::vector<uint32_t> free_;          // reusable now
  std::vector<uint32_t> quarantine_;    // removed, maybe still held by a sender
  size_t live_ = 0;
  std::atomic<Table*> table_{nullptr};
  std::vector<std::unique_ptr<Table>> tables_;  // every table ever made (readers may hold old ones)
  std::atomic<uint64_t> version_{0};            // odd while entries move
};

}  // namespace sctpdp

#endif  // SCTPDP_HANDOFF_DIRECTORY_H_
