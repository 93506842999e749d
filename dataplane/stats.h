// Counters an event loop keeps per loop and per association. One writer (the
// worker thread) and any number of readers: relaxed atomic loads and stores,
// no read-modify-write on the hot path (a plain mov on x86).
#ifndef SCTPDP_DATAPLANE_STATS_H_
#define SCTPDP_DATAPLANE_STATS_H_

#include <atomic>
#include <cstdint>

namespace sctpdp {

struct Counter {
  std::atomic<uint64_t> v{0};
  // REQUIRES: called only by the owning (writer) thread.
  void Add(uint64_t n) { v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void Set(uint64_t n) { v.store(n, std::memory_order_relaxed); }
  uint64_t Get() const { return v.load(std::memory_order_relaxed); }
};

// A plain snapshot of the counters.
struct AssocStats {
  uint64_t messages_in = 0, bytes_in = 0, messages_out = 0, bytes_out = 0;
  uint64_t notifications = 0, reassemblies = 0, copied_bytes = 0;
  uint64_t send_copied_bytes = 0;  // SendCopy: payloads not built in place
  uint64_t send_copies = 0;        // messages copied on the way out (SendCopy)
  // Queued messages copied out to go with their association to its next
  // owner (a move: the one copy a message whose destination moved away
  // needs; not in send_copies).
  uint64_t move_copies = 0;
  uint64_t send_eagain = 0, send_errors = 0, send_dropped = 0;
  uint64_t send_queue_depth = 0;
  uint64_t send_queue_bytes = 0;  // payload bytes queued or in a send chain now (gauge)
  // Sends refused with kQueueFull: the queue at its message or byte limit.
  uint64_t send_queue_full = 0;

  AssocStats& operator+=(const AssocStats& o) {
    messages_in += o.messages_in;
    bytes_in += o.bytes_in;
    messages_out += o.messages_out;
    bytes_out += o.bytes_out;
    notifications += o.notifications;
    reassemblies += o.reassemblies;
    copied_bytes += o.copied_bytes;
    send_copied_bytes += o.send_copied_bytes;
    send_copies += o.send_copies;
    move_copies += o.move_copies;
    send_eagain += o.send_eagain;
    send_errors += o.send_errors;
    send_dropped += o.send_dropped;
    send_queue_depth += o.send_queue_depth;
    send_queue_bytes += o.send_queue_bytes;
    send_queue_full += o.send_queue_full;
    return *this;
  }
};

struct AssocCounters {
  Counter messages_in, bytes_in, messages_out, bytes_out;
  Counter notifications, reassemblies, copied_bytes, send_copied_bytes, send_copies, move_copies;
  Counter send_eagain, send_errors, send_dropped, send_queue_depth, send_queue_bytes, send_queue_full;

  // REQUIRES: writer thread (a slot being reused).
  void Reset() {
    for (Counter* c : {&messages_in, &bytes_in, &messages_out, &bytes_out, &notifications, &reassemblies,
                       &copied_bytes, &send_copied_bytes, &send_copies, &move_copies, &send_eagain, &send_errors,
                       &send_dropped, &send_queue_depth, &send_queue_bytes, &send_queue_full}) {
      c->Set(0);
    }
  }

  AssocStats Snapshot() const {
    AssocStats s;
    s.messages_in = messages_in.Get();
    s.bytes_in = bytes_in.Get();
    s.messages_out = messages_out.Get();
    s.bytes_out = bytes_out.Get();
    s.notifications = notifications.Get();
    s.reassemblies = reassemblies.Get();
    s.copied_bytes = copied_bytes.Get();
    s.send_copied_bytes = send_copied_bytes.Get();
    s.send_copies = send_copies.Get();
    s.move_copies = move_copies.Get();
    s.send_eagain = send_eagain.Get();
    s.send_errors = send_errors.Get();
    s.send_dropped = send_dropped.Get();
    s.send_queue_depth = send_queue_depth.Get();
    s.send_queue_bytes = send_queue_bytes.Get();
    s.send_queue_full = send_queue_full.Get();
    return s;
  }
};

// What an event loop and the associations it serves have done so far: a
// Worker, or the control thread's one-to-many server.
struct WorkerStats {
  AssocStats totals;
  uint64_t enter_calls = 0;
  uint64_t cqes = 0;
  // Reaps that found the completion queue overflowed (completions kept in
  // the kernel's overflow list and flushed at the next enter: nothing lost),
  // and completions the kernel dropped (never expected: IORING_FEAT_NODROP).
  uint64_t cq_overflows = 0;
  uint64_t cq_dropped = 0;
  uint64_t enobufs = 0;           // multishot receive ran out of buffers
  uint64_t recv_rearms = 0;       // multishot receive armed again after ending
  uint64_t recv_errors = 0;
  uint64_t oversize_messages = 0; // over max_message_size: association aborted
  // Over max_reassembly_bytes with the thread's other reassemblies:
  // association aborted. reassembly_bytes: what they hold now.
  uint64_t reassembly_refused = 0;
  uint64_t reassembly_bytes = 0;
  uint64_t partials_dropped = 0;  // partial messages their association's end (or an aborted partial
                                  // delivery) cut off: gathered, never delivered
  uint64_t associations_adopted = 0;
  uint64_t associations_closed = 0;
  uint64_t associations_detached = 0;
  uint64_t associations_active = 0;
  uint64_t retained_buffers = 0;
  // Retain refused: retain_budget buffers were kept already. An application
  // that must keep such a message copies it (ReplyQueue: Send(payload),
  // counted in send_copies).
  uint64_t retain_refused = 0;
  uint64_t send_buffers_in_use = 0;
  uint64_t inbox_commands = 0;    // Post()ed closures run
  uint64_t mail = 0;              // Mail() items handed to the handler
  uint64_t eventfd_wakes = 0;     // wake-ups through the eventfd (another thread without a ring)
  uint64_t msg_ring_wakes = 0;    // wake-ups as a MSG_RING from another loop's ring
  uint64_t inbox_locks = 0;       // the inbox's command mutex, taken by Post and the drain of posts
  uint64_t zc_sends = 0;          // messages sent with SENDMSG_ZC
  uint64_t other_syscalls = 0;    // eventfd reads, fixed-file updates, sockopts, EOF/ABORT, flushes
  uint64_t naps = 0;              // coalescing sleeps (WorkerOptions::coalesce_delay)
  uint64_t gathers = 0;           // coalescing waits in io_uring_enter instead (min timeout, 6.12)
  uint64_t recv_pauses = 0;       // PauseReceive calls that stopped a receive
  uint64_t held_flushes = 0;      // bundled runs the kernel held behind a full send buffer, flushed
  uint64_t chains_in_flight = 0;  // associations with a send chain in the kernel now

  uint64_t Syscalls() const { return enter_calls + other_syscalls + naps; }
  double CqesPerEnter() const { return enter_calls ? double(cqes) / double(enter_calls) : 0.0; }
  WorkerStats& operator+=(const WorkerStats& o);
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_STATS_H_
