#include "dataplane/send_queue.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "dataplane/user_data.h"

namespace sctpdp {

void SendQueue::Push(SendPool& pool, uint32_t id) {
  pool.desc(id).next = kNoDesc;
  if (tail_ == kNoDesc) {
    head_ = id;
  } else {
    pool.desc(tail_).next = id;
  }
  tail_ = id;
  ++queued_;
  queued_bytes_ += pool.desc(id).length;
}

uint32_t SendQueue::PopFront(SendPool& pool) {
  const uint32_t id = head_;
  head_ = pool.desc(id).next;
  if (head_ == kNoDesc) tail_ = kNoDesc;
  --queued_;
  queued_bytes_ -= pool.desc(id).length;
  return id;
}

unsigned SendQueue::Submit(Ring& ring, SendPool& pool, const Chain& spec) {
  const unsigned n = std::min(queued_, spec.max);
  ring.ReserveSqes(n);
  chain_done_ = 0;
  bool prev_more = false;
  for (unsigned i = 0; i < n; ++i) {
    const uint32_t id = PopFront(pool);
    SendDesc& d = pool.desc(id);
    chain_.push_back(id);
    chain_bytes_ += d.length;
    d.result_in = false;
    d.notif_pending = false;
    d.zc = spec.zc;
    // A send that may find the kernel holding its association's run (after
    // a MSG_MORE send) must not wait for POLLOUT inside the kernel: a full
    // buffer comes back as EAGAIN instead (see worker_send.cc).
    const bool after_more = i > 0 ? prev_more : held_ && !poll_first_;
    d.more = spec.bundle && i + 1 < n;
    prev_more = d.more;
    const int msg_flags = MSG_NOSIGNAL | (d.more ? MSG_MORE : 0) | (after_more ? MSG_DONTWAIT : 0);
    unsigned sqe = spec.zc ? kSqeZeroCopy : 0;
    if (i + 1 < n) sqe |= kSqeLink;
    if (i == 0 && poll_first_) sqe |= kSqePollFirst;
    ring.PrepSendmsg(spec.slot, &d.msg, msg_flags, sqe,
                     Tag{spec.zc ? Op::kSendZc : Op::kSend, spec.generation, spec.slot, id}.Pack());
  }
  const bool waits = poll_first_;
  poll_first_ = false;
  return spec.zc || waits ? 0 : n;
}

SendQueue::Settled SendQueue::Settle(SendPool& pool, absl::FunctionRef<void(uint32_t)> sent,
                                     absl::FunctionRef<void(uint32_t, int)> failed) {
  Settled s;
  uint32_t retry_head = kNoDesc, retry_tail = kNoDesc;
  sent_.clear();
  failed_.clear();
  for (uint32_t id : chain_) {
    SendDesc& d = pool.desc(id);
    const int res = d.result;
    if (res >= 0) {
      held_ = d.more;
      (static_cast<uint32_t>(res) == d.length ? sent_ : failed_).push_back(id);
      continue;
    }
    switch (-res) {
      case EAGAIN:
      case EINTR:
      case ENOBUFS:
      case ENOMEM:
        poll_first_ = poll_first_ || res == -EAGAIN;
        s.eagain += res == -EAGAIN;
        s.flush_held = s.flush_held || (s.requeued == 0 && held_);
        [[fallthrough]];
      case ECANCELED:
        // Not sent: back to the front of the queue, in order.
        d.next = kNoDesc;
        if (retry_tail == kNoDesc) {
          retry_head = id;
        } else {
          pool.desc(retry_tail).next = id;
        }
        retry_tail = id;
        ++s.requeued;
        queued_bytes_ += d.length;
        continue;
      default:
        failed_.push_back(id);
        continue;
    }
  }
  chain_.clear();
  chain_bytes_ = 0;
  if (s.requeued > 0) {
    pool.desc(retry_tail).next = head_;
    head_ = retry_head;
    if (tail_ == kNoDesc) tail_ = retry_tail;
    queued_ += s.requeued;
  }
  for (uint32_t id : sent_) sent(id);
  for (uint32_t id : failed_) failed(id, pool.desc(id).result);
  return s;
}

void SendQueue::Cancel(Ring& ring, SendPool& pool, uint16_t slot, uint16_t generation) const {
  for (uint32_t id : chain_) {
    const SendDesc& d = pool.desc(id);
    if (d.result_in) continue;
    ring.PrepCancel(Tag{d.zc ? Op::kSendZc : Op::kSend, generation, slot, id}.Pack(),
                    Tag{Op::kCancel, generation, slot, 0}.Pack());
  }
}

void SendQueue::TakeIf(SendPool& pool, absl::FunctionRef<bool(const SendDesc&)> take, std::vector<uint32_t>* out) {
  uint32_t prev = kNoDesc;
  for (uint32_t id = head_; id != kNoDesc;) {
    SendDesc& d = pool.desc(id);
    const uint32_t next = d.next;
    if (!take(d)) {
      prev = id;
      id = next;
      continue;
    }
    if (prev == kNoDesc) {
      head_ = next;
    } else {
      pool.desc(prev).next = next;
    }
    if (tail_ == id) tail_ = prev;
    --queued_;
    queued_bytes_ -= d.length;
    out->push_back(id);
    id = next;
  }
}

}  // namespace sctpdp
