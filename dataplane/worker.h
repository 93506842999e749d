// Worker: one pinned thread with its own io_uring that owns the associations
// handed to it (peeled-off SCTP sockets) and does their bulk receive and send.
// This is the hot path:
//
//   receive  multishot recvmsg per association, buffer select from one
//            provided-buffer ring per worker; the handler sees each message in
//            place (Handler::OnMessage) and the buffer goes back when it
//            returns (or later, if retained).
//   send     per-association FIFO queues of messages the application built in
//            place in SendPool buffers, drained as one IOSQE_IO_LINK chain of
//            sendmsg SQEs at a time (links keep io_uring from reordering).
//   loop     flush sends and re-arms, then one io_uring_enter that submits and
//            waits; one dispatch for every completion (Dispatch).
//
// Threads: Create/Adopt/Post/Stop/Snapshot are safe from any thread. Every
// other method, and every Handler callback, runs on the worker thread only.
#ifndef SCTPDP_DATAPLANE_WORKER_H_
#define SCTPDP_DATAPLANE_WORKER_H_

#include <liburing.h>
#include <netinet/in.h>
#include <netinet/sctp.h>
#include <poll.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "dataplane/buffer_ring.h"
#include "dataplane/fd.h"
#include "dataplane/message.h"
#include "dataplane/ring.h"
#include "dataplane/send_pool.h"
#include "dataplane/stats.h"
#include "dataplane/user_data.h"

namespace sctpdp {

class Worker;

struct WorkerOptions {
  uint8_t index = 0;                    // appears in every AssocHandle
  int cpu = -1;                         // pin the thread to this CPU (-1: no pinning)
  unsigned max_associations = 256;      // fixed-file table size
  unsigned buffer_count = 1024;         // provided receive buffers (power of two)
  unsigned buffer_size = 8192;          // bytes per receive buffer (incl. ~100 B header)
  size_t max_message_size = 1 << 20;    // bigger: error event, association aborted
  unsigned retain_budget = 256;         // receive buffers the app may hold (< count/2)
  unsigned send_buffer_count = 4096;    // send buffers (messages in queue or flight)
  unsigned send_buffer_size = 65536;    // bytes per send buffer
  unsigned send_queue_limit = 1024;     // queued messages per association
  unsigned send_batch = 32;             // sendmsg SQEs per association per link chain
  // Within a chain, every sendmsg but the last to the same association
  // carries MSG_MORE: the kernel bundles their DATA chunks into full packets
  // instead of one packet (and one SACK) per message, and the chain's last
  // send flushes them. Kernels before 4.13 ignore the flag. A run the kernel
  // holds behind a full send buffer is flushed at once (worker_send.cc;
  // WorkerStats::held_flushes counts them). `sctpdp bench` echo at 1 KiB:
  // 57 CPU seconds per million messages, 145 with a packet per message.
  bool bundle_sends = true;
  // ... on peeled sockets (never the one-to-many socket: its associations
  // are the sporadic ones, behind peers of every kind) whose SO_SNDBUF (as
  // getsockopt reports it) is at least this: a small buffer fills in every
  // burst, and each time the held run costs a flush (four syscalls) on top of
  // the EAGAIN ...
  static constexpr int kMinBundleSndbuf = 4 << 20;
  // ... and whose peer's receive window (SCTP_STATUS sstat_rwnd at adoption)
  // is at least this. A Linux receiver charges every chunk of a bundled
  // packet against its buffer; with a small one (212992 B, the default
  // rmem) it fills, drops, and recovers a lost bundled packet one T3
  // retransmission at a time: 80-800 s stalls in //tests:data_plane_test's
  // hot-move case, in about 1 run of 4, none with 4 MiB at the peer (14 of 14).
  static constexpr uint32_t kMinBundlePeerWindow = 1 << 20;
  unsigned sq_entries = 512;
  unsigned cq_entries = 16384;
  // Completion batching (like interrupt coalescing): each io_uring_enter waits
  // for `wait_batch` completions or `wait_timeout`, whichever comes first.
  // 1 (the default) is latency mode: wake for every completion.
  unsigned wait_batch = 1;
  absl::Duration wait_timeout = absl::Milliseconds(1);
  // Adaptive coalescing, for kernels without lazy wake-ups (6.1: a
  // DEFER_TASKRUN ring wakes its waiting task for every completion, so
  // wait_batch saves syscalls but not wake-ups). When the last batch held at
  // least `coalesce_min_batch` received messages and no send is in flight
  // (a send chain's links run only when the worker enters: sends never
  // wait for a nap), the worker sleeps `coalesce_delay` outside io_uring_enter: completions that arrive
  // meanwhile queue as deferred task work without waking anyone, and the next
  // enter reaps them together. Light load (smaller batches) keeps waking for
  // every completion, so the delay is paid only under load. 0: off. Needs a
  // DEFER_TASKRUN ring (elsewhere task work cuts the sleep short): off, logged.
  absl::Duration coalesce_delay = absl::ZeroDuration();
  unsigned coalesce_min_batch = 2;
  absl::Duration stop_deadline = absl::Seconds(2);  // for draining sends at Stop
  // Calls WorkerHandler::OnTick this often (0: never), from the loop, with
  // the completion queue drained.
  absl::Duration tick_interval = absl::ZeroDuration();
};

// Why an association left its worker.
enum class DownReason : uint8_t {
  kShutdown,      // SHUTDOWN_COMP (graceful, either side)
  kCommLost,      // COMM_LOST: peer abort, or retransmissions exhausted
  kPeerClosed,    // recv returned 0 (non-SCTP sockets, or a peeled socket's EOF)
  kError,         // a receive or send error the association cannot survive
  kOversize,      // a message over max_message_size: aborted
  kAborted,       // Abort() by the application
  kStopped,       // the worker stopped
};
const char* DownReasonName(DownReason reason);

enum class SendResult : uint8_t {
  kOk,
  kQueueFull,     // send_queue_limit reached: wait for OnWritable
  kNoBuffers,     // send pool exhausted
  kTooBig,        // over max_message_size or the pool's largest message
  kNoAssociation, // stale or unknown handle
  kClosing,       // the association is shutting down
  kBadStream,     // a stream the association does not have (>= its outbound streams)
};
const char* SendResultName(SendResult result);
// kQueueFull and kNoBuffers: not refused, only not now. Keep the message and
// retry on OnWritable.
inline bool IsBackpressure(SendResult r) { return r == SendResult::kQueueFull || r == SendResult::kNoBuffers; }

// Whether IORING_OP_SENDMSG_ZC works on a socket protocol: learnt from the
// first send (an unsupported socket fails it with EOPNOTSUPP before sending
// anything). SCTP: no, on every kernel so far.
enum class ZcSupport : uint8_t { kUnknown, kYes, kNo };

enum SendFlags : uint16_t {
  kSendUnordered = SCTP_UNORDERED,
};

class WorkerHandler {
 public:
  virtual ~WorkerHandler() = default;
  // An adopted association is live on this worker (receive armed).
  virtual void OnAdopted(Worker& w, AssocHandle assoc, sctp_assoc_t assoc_id, uint64_t cookie) {}
  // REQUIRES of the handler: does not keep `msg.payload` past the return
  // unless it called Worker::Retain(msg).
  virtual void OnMessage(Worker& w, const MessageView& msg) = 0;
  virtual void OnEvent(Worker& w, AssocHandle assoc, const AssociationEvent& event) {}
  // A send the kernel refused (message dropped), or a receive error.
  virtual void OnError(Worker& w, AssocHandle assoc, const absl::Status& error) {}
  // The association's queue went from full to below half full.
  virtual void OnWritable(Worker& w, AssocHandle assoc) {}
  // Adopt could not take the descriptor (no free slot, stopping, socket
  // setup failed): it was closed, the association is lost.
  virtual void OnAdoptFailed(Worker& w, sctp_assoc_t assoc_id, uint64_t cookie, const absl::Status& error) {
    OnError(w, AssocHandle{}, error);
  }
  // Last call for the association: its fd, slot and buffers are released.
  virtual void OnAssociationDown(Worker& w, AssocHandle assoc, DownReason reason,
                                 const AssocStats& final_stats) {}
  // Every WorkerOptions::tick_interval, between completion batches: the CQ
  // has just been drained and, with DEFER_TASKRUN, no receive can run until
  // the loop enters the kernel again.
  virtual void OnTick(Worker& w, absl::Time now) {}
};

// How an adopted socket frames associations.
enum class SocketKind : uint8_t {
  kAssociation,  // one association (peeled SCTP, or any connected SEQPACKET)
  kOneToMany,    // an SCTP one-to-many socket: many associations, told apart
                 // by SCTP_RCVINFO/SNDINFO; their notifications never end it
};

// A receive buffer kept past OnMessage. Give it back with Worker::Release.
struct RetainedMessage {
  int32_t buffer_id = -1;                 // provided buffer, or -1
  std::unique_ptr<char[]> reassembled;    // or the reassembled copy
  absl::Span<const char> payload;
};

class Worker {
 public:
  // Starts the thread, which builds its ring, buffer ring and send pool.
  // Errors (bad options, ring setup, pinning) come back here.
  static absl::StatusOr<std::unique_ptr<Worker>> Create(const WorkerOptions& options,
                                                        WorkerHandler* handler);
  ~Worker();  // Stop()s.
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // --- Any thread ---------------------------------------------------------
  // Hands `fd` (a connected SEQPACKET/STREAM socket, normally a peeled SCTP
  // association) to this worker. OnAdopted follows on the worker thread, or
  // OnError + close when it has no free slot.
  //
  // Wake-up: with `via` (the calling thread's own ring) and a kernel with
  // IORING_OP_MSG_RING, the worker is woken by a MSG_RING SQE submitted on
  // `via`, whose own CQE carries `via_user_data` for the caller to reap;
  // otherwise by an eventfd write. REQUIRES: `via` belongs to the caller.
  absl::Status Adopt(Fd fd, sctp_assoc_t assoc_id, uint64_t cookie, Ring* via = nullptr,
                     uint64_t via_user_data = 0, SocketKind kind = SocketKind::kAssociation);
  // Runs `fn` on the worker thread, in order with other Posts and Adopts.
  // `via` as for Adopt.
  absl::Status Post(std::function<void(Worker&)> fn, Ring* via = nullptr, uint64_t via_user_data = 0);
  // Drains queued sends (up to stop_deadline), ends every association
  // (OnAssociationDown(kStopped)) and joins the thread. Idempotent.
  void Stop();
  WorkerStats Snapshot() const;
  // CPU time the worker thread has used so far.
  absl::Duration ThreadCpuTime() const;
  const WorkerOptions& options() const { return options_; }
  // Fills `sqe` (from another thread's ring) to wake this worker through
  // IORING_OP_MSG_RING after Adopt/Post, instead of the eventfd write they
  // make. Use when RingFeatures::op_msg_ring; harmless duplicate otherwise.
  void PrepareMsgRingWake(io_uring_sqe* sqe) const;

  // --- Worker thread only -------------------------------------------------
  SendBuffer AcquireSendBuffer(size_t size);
  void ReleaseSendBuffer(SendBuffer buffer);
  // Queues a message built in `buffer` (no copy). On any result but kOk the
  // buffer is released.
  SendResult Send(AssocHandle assoc, uint16_t stream, uint32_t ppid, SendBuffer buffer,
                  uint16_t flags = 0, uint32_t ttl_ms = 0);
  // Convenience: copies `payload` into a send buffer (counted as a copy).
  SendResult SendCopy(AssocHandle assoc, uint16_t stream, uint32_t ppid,
                      absl::Span<const char> payload, uint16_t flags = 0, uint32_t ttl_ms = 0);
  // On a kOneToMany socket: to association `to` (SCTP_SNDINFO snd_assoc_id).
  SendResult SendCopyTo(AssocHandle socket, sctp_assoc_t to, uint16_t stream, uint32_t ppid,
                        absl::Span<const char> payload, uint16_t flags = 0, uint32_t ttl_ms = 0);
  // Messages for association `to` in flight in the kernel on `socket`.
  unsigned SendsInFlightFor(AssocHandle socket, sctp_assoc_t to);
  // Asks the kernel to cancel `socket`'s send chain: sends not yet done end
  // with -ECANCELED and go back to the front of its queue, in order (one
  // already running completes as usual). For a move that must not wait for
  // a congested socket.
  void CancelSends(AssocHandle socket);
  // The next loop iteration calls OnTick first, whatever the interval.
  void RequestTick() { next_tick_ = absl::InfinitePast(); }
  // Takes the messages for `to` still queued (not yet submitted) on
  // `socket` out of its queue, oldest first, to be sent elsewhere.
  std::vector<OutgoingMessage> TakeQueuedFor(AssocHandle socket, sctp_assoc_t to);
  // The association whose message is half reassembled on `socket`, or 0.
  sctp_assoc_t PartialFor(AssocHandle socket);
  // Handles completions the kernel has already posted, without entering it.
  // REQUIRES: not called from inside a completion callback (OnTick is fine).
  void ProcessPostedCompletions() { ProcessCompletions(); }
  // The fd of an adopted socket, for synchronous calls (peeloff, sockopts).
  int FdOf(AssocHandle socket);
  bool OnWorkerThread() const { return std::this_thread::get_id() == thread_id_; }
  // This worker's ring, to hand work to other rings (MSG_RING) from its own
  // thread. Worker thread only.
  Ring* ring() { return ring_.get(); }
  // Keeps `msg`'s payload valid past OnMessage. Fails when the retain budget
  // is spent (the ring must never run dry of buffers for good).
  absl::StatusOr<RetainedMessage> Retain(const MessageView& msg);
  void Release(RetainedMessage retained);
  // Fills `out` for a live association; false if the handle is stale.
  bool AssocSnapshot(AssocHandle assoc, AssocStats* out);
  // Receive flow control, for an application that cannot keep up (e.g. its
  // replies are backpressured): the worker stops reading the association's
  // socket, so its receive buffer fills and the kernel closes the peer's
  // window: the peer's sender blocks instead of this process queueing. What
  // the kernel already completed is still delivered. While paused nothing is
  // read, not even notifications (a peer's SHUTDOWN or ABORT is seen after
  // ResumeReceive); Shutdown, Abort and Stop still work. False if the handle
  // is stale or the association is ending. Worker thread only.
  bool PauseReceive(AssocHandle assoc);
  bool ResumeReceive(AssocHandle assoc);
  // Graceful SCTP shutdown after queued sends; then OnAssociationDown.
  void Shutdown(AssocHandle assoc);
  // Sends ABORT and ends the association now.
  void Abort(AssocHandle assoc);

  // --- Tests: a seeded fault plan applied at SQE preparation --------------
  // The next receive arm / sendmsg of `assoc` is replaced by a NOP whose
  // completion carries `res` (and `cqe_flags`), so each errno branch of the
  // dispatch runs against a real ring without the kernel being involved.
  // A recv fault cancels the live multishot so that the re-arm takes it.
  // Worker thread only (use Post).
  void InjectRecvFaultForTest(AssocHandle assoc, int res, uint32_t cqe_flags = 0);
  void InjectSendFaultForTest(AssocHandle assoc, int res);

 private:
  struct Assoc;
  struct Fault {
    uint16_t slot;
    Op op;
    int res;
    uint32_t flags;
  };

  Worker(const WorkerOptions& options, WorkerHandler* handler);
  void ThreadMain(std::promise<absl::Status>* ready);
  absl::Status Init();
  void Loop();
  void ProcessCompletions();
  void Dispatch(uint64_t user_data, int res, uint32_t flags);
  void Wake(Ring* via, uint64_t via_user_data);
  void ArmWake();
  void DrainInbox();
  bool StopComplete();
  void Nap();

  // Adoption and teardown (worker.cc).
  void AdoptNow(Fd fd, sctp_assoc_t assoc_id, uint64_t cookie, SocketKind kind);
  SendResult Enqueue(Assoc& a, SendBuffer buffer, uint16_t stream, uint32_t ppid, uint16_t flags,
                     uint32_t ttl_ms, sctp_assoc_t to);
  Assoc* Lookup(AssocHandle handle);
  AssocHandle HandleOf(const Assoc& a) const;
  void BeginTeardown(Assoc& a, DownReason reason);
  void MaybeFinishTeardown(Assoc& a);

  // Receive (worker_recv.cc).
  void ArmRecv(Assoc& a);
  // Async cancels (their kCancel CQEs are ignored: the cancelled request
  // reports its own end): one request, the armed receive, the send chain's
  // unfinished sends.
  void Cancel(Assoc& a, uint64_t target);
  void CancelRecv(Assoc& a);
  void CancelChain(Assoc& a);
  void QueueRearm(Assoc& a);
  void RearmPending();
  void OnRecv(Assoc& a, int res, uint32_t flags);
  void OnRecvError(Assoc& a, int res);
  void OnRecvData(Assoc& a, uint16_t bid, int res, uint32_t flags);
  bool AppendPartial(Assoc& a, const RecvParts& parts, bool eor);
  void OversizeAbort(Assoc& a, size_t size, sctp_assoc_t who, bool eor);
  void DeliverMessage(Assoc& a, const RecvParts& parts, int32_t bid, absl::Span<const char> payload,
                      bool copied);
  void DeliverNotification(Assoc& a, absl::Span<const char> bytes);

  // Send (worker_send.cc).
  void MarkSendDirty(Assoc& a);
  void FlushSends();
  void SubmitChain(Assoc& a);
  void OnSendComplete(Assoc& a, uint32_t desc, int res, uint32_t flags, bool zc);
  void LearnZcSupport(Assoc& a, bool supported);
  void FinishChain(Assoc& a);
  bool FlushHeldRun(Assoc& a);
  void CountSent(Assoc& a, uint32_t bytes);  // one message out, whole
  bool MayBundle(int fd);
  void FailQueued(Assoc& a);
  void WakeBufferWaiters();
  void MaybeWritable(Assoc& a);
  void ReportSendError(Assoc& a, int res, const char* what, sctp_assoc_t to);
  void SendEof(Assoc& a);
  void SendAbort(Assoc& a, sctp_assoc_t who);

  // Fault injection: replaces the SQE by a NOP carrying `user_data` if a
  // fault is planned for (slot, op); its completion gets the fault's result.
  bool TakeFault(uint16_t slot, Op op, io_uring_sqe* sqe, uint64_t user_data);
  bool HasFault(uint16_t slot, Op op) const;
  void ApplyInjection(uint64_t user_data, int* res, uint32_t* flags);

  const WorkerOptions options_;
  WorkerHandler* const handler_;
  std::thread thread_;
  std::thread::id thread_id_;
  absl::Time next_tick_ = absl::InfiniteFuture();
  bool coalesce_ = false;    // coalesce_delay > 0 and the ring defers task work
  bool bundle_refusal_logged_ = false;
  unsigned recv_batch_ = 0, last_recv_batch_ = 0;  // receive CQEs per ProcessCompletions
  unsigned chains_in_flight_ = 0;                  // associations with a send chain in the kernel
  std::unique_ptr<Ring> ring_;
  std::unique_ptr<BufferRing> buffers_;
  std::unique_ptr<SendPool> send_pool_;
  msghdr recv_template_{};
  Fd wake_fd_;
  int ring_fd_for_wake_ = -1;  // set once the ring exists, read by other threads

  std::unique_ptr<Assoc[]> slot_storage_;  // allocated once: slots never move
  absl::Span<Assoc> slots_;
  std::vector<uint16_t> free_slots_;
  std::vector<uint16_t> rearm_;       // slots whose receive must be armed again
  std::vector<uint16_t> send_dirty_;  // slots with queued sends and no chain in flight
  std::vector<uint16_t> flushing_;    // FlushSends' working copy of send_dirty_
  std::vector<uint16_t> buffer_waiters_;  // slots refused kNoBuffers: OnWritable when some free
  std::vector<std::pair<int, ZcSupport>> zc_by_protocol_;  // learnt SEND_ZC support
  std::vector<Fault> faults_;
  std::vector<std::pair<uint64_t, Fault>> injections_;  // NOPs in flight
  unsigned retained_ = 0;
  const MessageView* current_message_ = nullptr;  // during OnMessage
  std::unique_ptr<char[]>* current_reassembly_ = nullptr;  // its owner, if reassembled
  bool current_retained_ = false;

  // Cross-thread inbox. std::mutex, not absl::Mutex: Debian's Abseil is not
  // built with TSan annotations, and the handoff must be TSan-clean.
  std::mutex inbox_mu_;
  std::vector<std::function<void(Worker&)>> inbox_;  // guarded by inbox_mu_
  bool inbox_closed_ = false;                        // guarded by inbox_mu_: the thread is gone
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> stop_requested_{false};
  bool stopping_ = false;  // worker thread's view
  absl::Time stop_deadline_;
  bool stopped_ = false;   // joined (guarded by stop_mu_)
  std::mutex stop_mu_;

  // Stats (written by the worker thread only).
  AssocCounters totals_;
  Counter enter_calls_, cqes_, enobufs_, recv_rearms_, recv_errors_, oversize_;
  Counter adopted_, closed_, active_, retained_gauge_, send_in_use_, inbox_commands_;
  Counter other_syscalls_;  // every syscall of the worker thread but io_uring_enter and naps
  Counter zc_sends_;
  Counter naps_;            // coalescing sleeps (clock_nanosleep)
  Counter recv_pauses_;
  Counter held_flushes_;
  bool held_flush_failed_logged_ = false;
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_WORKER_H_
