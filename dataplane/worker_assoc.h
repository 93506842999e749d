// Internal to Worker: the state of one association slot (a SlotTable entry;
// its index is its fixed-file index, its generation tells a reused slot's
// completions and handles apart).
#ifndef SCTPDP_DATAPLANE_WORKER_ASSOC_H_
#define SCTPDP_DATAPLANE_WORKER_ASSOC_H_

#include "dataplane/reassembler.h"
#include "dataplane/send_queue.h"
#include "dataplane/worker.h"

namespace sctpdp {

struct Worker::Assoc {
  enum class State : uint8_t {
    kActive,
    kClosing,    // ending: waits for its receive and send chain to finish
    kDetaching,  // leaving alive (Detach): the same wait, then handed back
  };
  State state = State::kActive;
  uint16_t slot = 0;
  uint16_t generation = 0;
  Fd fd;                      // also registered at fixed-file index `slot`
  bool sctp = true;           // SCTP (MSG_EOR framing) or another SEQPACKET socket
  bool bundle = false;        // MSG_MORE within a send chain (WorkerOptions::bundle_sends)
  uint16_t default_pr = 0;    // its default PR-SCTP policy bits (DefaultPrFlags), for sends naming none
  sctp_assoc_t assoc_id = 0;
  uint64_t cookie = 0;
  DownReason down_reason = DownReason::kStopped;

  // Receive.
  bool recv_armed = false;    // a multishot recvmsg is in the kernel
  bool rearm_queued = false;  // listed in Worker::rearm_
  bool recv_paused = false;   // PauseReceive: not re-armed until ResumeReceive
  bool recv_cancel_sent = false;  // a cancel of the armed receive is on its way
  bool discarding = false;    // dropping the rest of an oversize message
  Reassembler partial;        // a message spanning buffers

  // Send.
  SendQueue queue;
  bool dirty_queued = false;        // listed in Worker::send_dirty_
  bool want_writable = false;       // a Send got kQueueFull
  bool waiting_buffers = false;     // listed in Worker::buffer_waiters_
  bool shutdown_requested = false;  // Shutdown(): SCTP_EOF once the queue drains
  bool eof_sent = false;
  int protocol = 0;                 // SO_PROTOCOL, the key of the SEND_ZC probe
  ZcSupport zc = ZcSupport::kUnknown;

  absl::AnyInvocable<void(absl::StatusOr<DetachedAssociation>)> on_detached;
  AssocCounters stats;

  bool live() const { return state == State::kActive; }
  // Receiving goes on while the association lives, or while it is being
  // detached with half a message in (until that message is whole).
  bool receiving() const { return live() || (state == State::kDetaching && partial.in_progress()); }
  // Outstanding kernel work that must complete before the slot is freed.
  bool busy() const { return recv_armed || queue.in_flight(); }
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_WORKER_ASSOC_H_
