// Internal to Worker: the state of one association slot. A slot's index is its
// fixed-file index; its generation changes every time the slot is reused, so
// completions and handles from an earlier association are recognised.
#ifndef SCTPDP_DATAPLANE_WORKER_ASSOC_H_
#define SCTPDP_DATAPLANE_WORKER_ASSOC_H_

#include <memory>
#include <vector>

#include "dataplane/worker.h"

namespace sctpdp {

struct Worker::Assoc {
  enum class State : uint8_t { kFree, kActive, kClosing };
  State state = State::kFree;
  uint16_t slot = 0;
  uint16_t generation = 0;
  Fd fd;                      // also registered at fixed-file index `slot`
  bool sctp = true;           // SCTP (MSG_EOR framing) or another SEQPACKET socket
  // MSG_MORE within a send chain (WorkerOptions::bundle_sends, Worker::MayBundle):
  // only on kAssociation sockets, so a chain's sends all go to one association.
  bool bundle = false;
  SocketKind kind = SocketKind::kAssociation;
  sctp_assoc_t assoc_id = 0;
  uint64_t cookie = 0;
  DownReason down_reason = DownReason::kStopped;

  // Receive.
  bool recv_armed = false;    // a multishot recvmsg is in the kernel
  bool rearm_queued = false;  // listed in Worker::rearm_
  bool recv_paused = false;   // PauseReceive: not re-armed until ResumeReceive
  std::unique_ptr<char[]> partial;  // reassembly of a message spanning buffers
  size_t partial_len = 0;
  size_t partial_cap = 0;
  bool partial_notification = false;
  RecvParts partial_parts;          // the first fragment's metadata
  bool discarding = false;          // dropping the rest of an oversize message
  sctp_assoc_t discard_assoc = 0;   // (one-to-many: of this association)

  // Send.
  uint32_t queue_head = kNoDesc;
  uint32_t queue_tail = kNoDesc;
  uint32_t queued = 0;
  std::vector<uint32_t> chain;      // descriptors of the link chain in flight, in order
  uint32_t chain_done = 0;          // completions seen for it
  bool dirty_queued = false;        // listed in Worker::send_dirty_
  bool poll_first = false;          // last send hit EAGAIN: wait for POLLOUT first
  // The kernel's MSG_MORE state (asoc->force_delay) as the completions tell
  // it: the last successful send carried MSG_MORE, so the kernel holds that
  // run until a send without it. Only bundling sockets ever set it.
  bool held = false;
  bool want_writable = false;
  bool waiting_buffers = false;     // listed in Worker::buffer_waiters_
  bool shutdown_requested = false;  // Shutdown(): SCTP_EOF once the queue drains
  bool eof_sent = false;
  int protocol = 0;                 // SO_PROTOCOL, the key of the SEND_ZC probe
  ZcSupport zc = ZcSupport::kUnknown;

  AssocCounters stats;

  bool live() const { return state == State::kActive; }
  // The association a fragment belongs to (one-to-many sockets carry many).
  sctp_assoc_t AssocOf(const RecvParts& p) const {
    return p.has_rcvinfo && p.rcvinfo.rcv_assoc_id != 0 ? p.rcvinfo.rcv_assoc_id : assoc_id;
  }
  // Outstanding kernel work that must complete before the slot is freed.
  bool busy() const { return recv_armed || !chain.empty(); }
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_WORKER_ASSOC_H_
