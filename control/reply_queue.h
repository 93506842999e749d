// ReplyQueue: replies that keep their order per association under
// backpressure, for applications of DataPlane (an echo, a request/response
// server). Reply sends at once when nothing of that association waits;
// otherwise, or when the data plane pushes back (kQueueFull, kNoBuffers),
// the reply waits with every later one until OnWritable says there is room.
// A reply to a received message goes from the buffer it arrived in
// (DataPlane::Retain, no copy) while the thread's retain budget lasts, as a
// copy after that (DataPlaneStats::retain_refused counts those; such a copy
// that must wait is copied once more here: copies()). A long wait can pause
// the association's receive, so its peer slows down instead of this process
// queueing without bound.
//
// No lock: an association's waiting replies live in its DataPlane::Context
// slot, touched only from its callbacks. So ReplyQueue must be the only user
// of that slot, and every call must come from a callback for the
// association it names.
#ifndef SCTPDP_CONTROL_REPLY_QUEUE_H_
#define SCTPDP_CONTROL_REPLY_QUEUE_H_

#include <netinet/in.h>
#include <netinet/sctp.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "control/data_plane.h"

namespace sctpdp {

class ReplyQueue {
 public:
  // `pause_at`: this many replies waiting for one association pause its
  // receive until they are sent (0: never pause).
  explicit ReplyQueue(DataPlane* dp, size_t pause_at = 1024) : dp_(dp), pause_at_(pause_at) {}

  // Sends `m` back to its sender: same stream, PPID and unordered flag.
  // From OnMessage. Returns kOk when sent or waiting; anything else means
  // the reply can never go (the association is gone, a bad stream).
  SendResult Echo(const MessageView& m);
  // Sends a reply to `m`'s association: `payload`, copied.
  SendResult Reply(const MessageView& m, uint16_t stream, uint32_t ppid, absl::Span<const char> payload,
                   uint16_t flags = 0);

  // From OnWritable(id): sends what waits, in order, as far as it goes.
  void OnWritable(sctp_assoc_t id);
  // From OnAssociationDown(id): drops what waits (returns how many).
  size_t OnAssociationDown(sctp_assoc_t id);
  // Replies waiting now, every association together (any thread).
  uint64_t waiting() const { return waiting_.load(std::memory_order_relaxed); }
  // Replies copied to wait here (not kept in their receive buffer), so far
  // (any thread); the data plane counts its own copy when each is sent.
  uint64_t copies() const { return copies_.load(std::memory_order_relaxed); }

 private:
  struct Waiting;
  SendResult Send(sctp_assoc_t id, Waiting* w, uint16_t stream, uint32_t ppid, uint16_t flags, Retained* kept,
                  absl::Span<const char> payload);
  Waiting* WaitingFor(sctp_assoc_t id, bool create);
  void Hold(sctp_assoc_t id, Waiting& w, uint16_t stream, uint32_t ppid, uint16_t flags, Retained* kept,
            absl::Span<const char> payload);

  DataPlane* const dp_;
  const size_t pause_at_;
  std::atomic<uint64_t> waiting_{0};  // written only when a reply waits or leaves the wait
  std::atomic<uint64_t> copies_{0};   // written only when a copy waits
};

}  // namespace sctpdp

#endif  // SCTPDP_CONTROL_REPLY_QUEUE_H_
