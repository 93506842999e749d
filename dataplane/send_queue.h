// SendQueue: one socket's messages waiting to be sent (a FIFO of SendPool
// descriptors) and the link chain of sendmsg SQEs in flight for them.
//
// Why messages cannot be reordered, in five steps:
//  1. Push appends to the queue; nothing else reorders it.
//  2. At most one chain per socket is in the kernel at a time.
//  3. A chain is IOSQE_IO_LINK'ed and fits one submit (Ring::ReserveSqes), so
//     the kernel runs its sendmsgs one after another, in queue order.
//  4. When one fails, the kernel cancels the rest (-ECANCELED); a message that
//     got -EAGAIN (the sockets are O_NONBLOCK) or -ECANCELED goes back to the
//     front of the queue with the others, in their original order (Settle).
//  5. The next chain is built only when every completion of this one is in,
//     and after -EAGAIN its first SQE waits for POLLOUT (POLL_FIRST): no spin.
// An SCTP sendmsg is all or nothing (no partial sends), so a message is never
// split; a short result is reported as a failure.
//
// Bundling (a chain's sends all but the last with MSG_MORE) and the kernel's
// held runs it can leave behind are explained in worker_send.cc, which owns
// that policy; the queue only carries the flags.
#ifndef SCTPDP_DATAPLANE_SEND_QUEUE_H_
#define SCTPDP_DATAPLANE_SEND_QUEUE_H_

#include <cstdint>
#include <vector>

#include "absl/functional/function_ref.h"
#include "dataplane/ring.h"
#include "dataplane/send_pool.h"

namespace sctpdp {

class SendQueue {
 public:
  uint32_t queued() const { return queued_; }
  // Payload bytes held: the queued messages' and the chain's in flight.
  uint64_t held_bytes() const { return queued_bytes_ + chain_bytes_; }
  // Whether one more message of `size` bytes would pass `max_messages`
  // queued, or `max_bytes` held (a queue holding nothing takes any one
  // message: the byte limit never refuses what the size limit allows).
  bool AtLimit(unsigned max_messages, uint64_t max_bytes, size_t size) const {
    return queued_ >= max_messages || (held_bytes() > 0 && held_bytes() + size > max_bytes);
  }
  // Down to half of both limits: time to tell refused senders.
  bool HalfEmpty(unsigned max_messages, uint64_t max_bytes) const {
    return queued_ <= max_messages / 2 && held_bytes() <= max_bytes / 2;
  }
  bool in_flight() const { return !chain_.empty(); }
  const std::vector<uint32_t>& chain() const { return chain_; }
  uint32_t front() const { return head_; }

  // The last send hit EAGAIN: the next chain's first SQE waits for POLLOUT.
  bool poll_first() const { return poll_first_; }
  void set_poll_first(bool on) { poll_first_ = on; }
  // The kernel's MSG_MORE state (asoc->force_delay) as the completions tell
  // it: the last successful send carried MSG_MORE, so the kernel holds that
  // run until a send without it.
  bool held() const { return held_; }
  void set_held(bool on) { held_ = on; }

  void Push(SendPool& pool, uint32_t id);
  // Unlinks and returns the oldest queued message. REQUIRES: queued() > 0.
  uint32_t PopFront(SendPool& pool);

  struct Chain {
    uint16_t slot = 0;        // fixed file
    uint16_t generation = 0;  // for the user_data tags
    unsigned max = 1;         // messages at most
    bool zc = false;          // SENDMSG_ZC
    bool bundle = false;      // MSG_MORE on all but the last
  };
  // Submits the next chain, oldest first. Returns how many of its
  // completions come at once, before a wait could sleep (see
  // EventLoop::Client::BeforeWait): every send of a sendmsg chain, which the
  // kernel runs inline (with room, or EAGAIN); none of a SENDMSG_ZC chain
  // (its notifications come later) or of a POLL_FIRST one (it waits for
  // room). REQUIRES: !in_flight() and queued() > 0.
  unsigned Submit(Ring& ring, SendPool& pool, const Chain& spec);
  // Counts one finished send of the chain; true when the chain is all in.
  bool StepDone() { return ++chain_done_ == chain_.size(); }

  // Settles a chain whose completions are all in: messages refused for now
  // (EAGAIN, EINTR, ENOBUFS, ENOMEM, ECANCELED) go back to the front in
  // order; then `sent(id)` for each that went whole and `failed(id, res)` for
  // each refused for good (a short result included). Both own the
  // descriptor from then on. They run after the queue is consistent again,
  // so they may push more.
  struct Settled {
    uint32_t requeued = 0;
    uint32_t eagain = 0;      // of those, refused with EAGAIN
    bool flush_held = false;  // the first refused send found a run held (bundling)
  };
  Settled Settle(SendPool& pool, absl::FunctionRef<void(uint32_t)> sent,
                 absl::FunctionRef<void(uint32_t, int)> failed);

  // Asks the kernel to cancel the chain's unfinished sends: they end with
  // -ECANCELED and Settle puts them back in order.
  void Cancel(Ring& ring, SendPool& pool, uint16_t slot, uint16_t generation) const;

  // Moves the queued (not in flight) messages for which `take` says so into
  // `out`, oldest first; the descriptors are the caller's.
  void TakeIf(SendPool& pool, absl::FunctionRef<bool(const SendDesc&)> take, std::vector<uint32_t>* out);

 private:
  uint32_t head_ = kNoDesc;
  uint32_t tail_ = kNoDesc;
  uint32_t queued_ = 0;
  uint64_t queued_bytes_ = 0;
  uint64_t chain_bytes_ = 0;  // payload bytes of chain_
  std::vector<uint32_t> chain_;  // descriptors in flight, in order
  uint32_t chain_done_ = 0;
  bool poll_first_ = false;
  bool held_ = false;
  std::vector<uint32_t> sent_, failed_;  // Settle's scratch
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_SEND_QUEUE_H_
