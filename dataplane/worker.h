// Worker: the per-core data plane. One pinned thread with its own io_uring
// (an EventLoop) that owns the association sockets handed to it (peeled-off
// SCTP associations, one association each) and does their bulk receive and
// send. This is the hot path:
//
//   receive  multishot recvmsg per association, buffer select from one
//            provided-buffer ring per worker; the handler sees each message in
//            place (OnMessage) and the buffer goes back when it returns, or
//            when the application is done with it (Retain, SendRetained).
//   send     per-association FIFO queues (SendQueue) of messages built in
//            place: in this worker's SendPool, in a shared parcel another
//            thread built, or in a kept receive buffer; drained as one
//            IOSQE_IO_LINK chain of sendmsg SQEs at a time.
//   loop     EventLoop: flush sends and re-arms, one io_uring_enter, one
//            dispatch for every completion (worker.cc).
//
// Threads: Create, Adopt, Post, Mail, Stop and Snapshot are safe from any
// thread. Every other method, and every WorkerHandler callback, runs on the
// worker thread only.
#ifndef SCTPDP_DATAPLANE_WORKER_H_
#define SCTPDP_DATAPLANE_WORKER_H_

#include <netinet/in.h>
#include <netinet/sctp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "dataplane/event_loop.h"
#include "dataplane/fd.h"
#include "dataplane/message.h"
#include "dataplane/parcel_pool.h"
#include "dataplane/reassembler.h"
#include "dataplane/retention.h"
#include "dataplane/sctp_parse.h"
#include "dataplane/send_buffer.h"
#include "dataplane/send_memory.h"
#include "dataplane/slot_table.h"
#include "dataplane/stats.h"

namespace sctpdp {

class Worker;
class BufferRing;
class SendPool;

struct WorkerOptions {
  uint8_t index = 0;                    // appears in every AssocHandle
  int cpu = -1;                         // pin the thread to this CPU (-1: no pinning)
  unsigned max_associations = 256;      // fixed-file table size
  unsigned buffer_count = 1024;         // provided receive buffers (power of two)
  unsigned buffer_size = 8192;          // bytes per receive buffer (incl. ~100 B header)
  size_t max_message_size = 1 << 20;    // bigger: error event, association aborted
  // What this worker's reassemblies (messages spanning receive buffers) may
  // hold together; a message that would take them past it aborts its
  // association (reassembly_refused). Raised to max_message_size if below.
  size_t max_reassembly_bytes = 64 << 20;
  unsigned retain_budget = 256;         // receive buffers the app may hold (< count/2)
  unsigned send_buffer_count = 4096;    // send buffers (and descriptors: messages in queue or flight)
  unsigned send_buffer_size = 65536;    // bytes per send buffer
  unsigned send_queue_limit = 1024;     // queued messages per association
  // Payload bytes per association, queued or in its send chain: a peer that
  // stops reading holds at most this much of the send memory (plus the one
  // message that passed it); past it Send says kQueueFull (counted in
  // send_queue_full). A message is always taken when nothing is held.
  uint64_t send_queue_bytes = 4u << 20;
  unsigned send_batch = 32;             // sendmsg SQEs per association per link chain
  // Within a chain, every sendmsg but the last carries MSG_MORE: the kernel
  // bundles their DATA chunks into full packets instead of one packet (and
  // one SACK) per message, and the chain's last send flushes them. Kernels
  // before 4.13 ignore the flag. A run the kernel holds behind a full send
  // buffer is flushed at once (worker_send.cc; WorkerStats::held_flushes).
  // `sctpdp bench` echo at 1 KiB: 57 CPU seconds per million messages, 145
  // with a packet per message.
  bool bundle_sends = true;
  // ... on sockets whose SO_SNDBUF (as getsockopt reports it) is at least
  // this: a small buffer fills in every burst, and each time the held run
  // costs a flush (four syscalls) on top of the EAGAIN ...
  static constexpr int kMinBundleSndbuf = 4 << 20;
  // ... and whose peer's receive window (SCTP_STATUS sstat_rwnd at adoption)
  // is at least this. With a small one (212992 B, the default rmem) a Linux
  // receiver fills, drops, and recovers a lost bundled packet one T3
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
  // (a send chain's links run only when the worker enters: sends never wait
  // for a nap), the worker sleeps `coalesce_delay` outside io_uring_enter:
  // completions that arrive meanwhile queue as deferred task work without
  // waking anyone, and the next enter reaps them together. 0: off. Needs a
  // DEFER_TASKRUN ring (logged otherwise).
  absl::Duration coalesce_delay = absl::ZeroDuration();
  unsigned coalesce_min_batch = 2;
  // Where the kernel has min-timeout waits (6.12) the worker gathers inside
  // io_uring_enter instead of napping; true: nap anyway (to compare them).
  bool coalesce_by_naps = false;
  // Stop: how long to go on sending what is queued and reading what the
  // kernel already holds (the peer's acknowledged messages) before closing.
  absl::Duration stop_deadline = absl::Seconds(2);
  // Calls WorkerHandler::OnTick this often (0: only when asked, RequestTick).
  absl::Duration tick_interval = absl::ZeroDuration();
  // Shared send memory: parcels another thread built (SendBuffer from a
  // ParcelPool) are sent from it and released there. Null: only this
  // worker's own buffers are accepted.
  ParcelPool* parcels = nullptr;
  size_t mail_capacity = 8192;  // power of two: pending Mail items
  std::optional<FaultPlanOptions> faults;  // tests: a seeded fault plan on the ring
};

// Whether IORING_OP_SENDMSG_ZC works on a socket protocol: learnt from the
// first send (an unsupported socket fails it with EOPNOTSUPP before sending
// anything). SCTP: no, on every kernel so far.
enum class ZcSupport : uint8_t { kUnknown, kYes, kNo };

// The CPUs this process may run on (sched_getaffinity), in order: one
// worker each is the usual layout.
std::vector<int> AllowedCpus();

// An association handed back by Worker::Detach: its socket, still open, and
// the messages that were queued for it, oldest first (copied out once:
// move_copies).
struct DetachedAssociation {
  Fd fd;
  sctp_assoc_t assoc_id = 0;
  uint64_t cookie = 0;
  std::vector<OutgoingMessage> queued;
  // Shutdown() was asked and its SCTP_EOF not sent yet: the next owner
  // sends it after `queued`.
  bool shutdown_requested = false;
  AssocStats stats;
};

class WorkerHandler {
 public:
  virtual ~WorkerHandler() = default;
  // First call, on the worker thread, before anything else.
  virtual void OnStart(Worker& w) {}
  // An adopted association is live on this worker (receive armed).
  virtual void OnAdopted(Worker& w, AssocHandle assoc, sctp_assoc_t assoc_id, uint64_t cookie) {}
  // REQUIRES of the handler: does not keep `msg.payload` past the return
  // unless it called Worker::Retain(msg).
  virtual void OnMessage(Worker& w, const MessageView& msg) = 0;
  virtual void OnEvent(Worker& w, AssocHandle assoc, const AssociationEvent& event) {}
  // A send the kernel refused (message dropped), or a receive error.
  virtual void OnError(Worker& w, AssocHandle assoc, const absl::Status& error) {}
  // The association's queue went from full to below half full, or send
  // buffers are free again after a kNoBuffers.
  virtual void OnWritable(Worker& w, AssocHandle assoc) {}
  // Adopt could not take the descriptor (no free slot, stopping, socket
  // setup failed): it was closed, the association is lost.
  virtual void OnAdoptFailed(Worker& w, sctp_assoc_t assoc_id, uint64_t cookie, const absl::Status& error) {
    OnError(w, AssocHandle{}, error);
  }
  // Last call for the association: its fd, slot and buffers are released.
  virtual void OnAssociationDown(Worker& w, AssocHandle assoc, DownReason reason,
                                 const AssocStats& final_stats) {}
  // Items another thread handed over with Worker::Mail, each thread's in its
  // order.
  virtual void OnMail(Worker& w, absl::Span<const uint64_t> items) {}
  // Every WorkerOptions::tick_interval or after RequestTick, between
  // completion batches: the CQ has just been drained.
  virtual void OnTick(Worker& w, absl::Time now) {}
};

class Worker final : private EventLoop::Client {
 public:
  // Starts the thread, which builds its ring, buffer ring and send pool.
  // Errors (bad options, ring setup, pinning) come back here.
  static absl::StatusOr<std::unique_ptr<Worker>> Create(const WorkerOptions& options, WorkerHandler* handler);
  ~Worker() override;  // Stop()s.
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // --- Any thread ---------------------------------------------------------
  // Hands `fd` (a connected SEQPACKET/STREAM socket, normally a peeled SCTP
  // association) to this worker. OnAdopted follows on the worker thread, or
  // OnAdoptFailed + close when it has no free slot. Called from another
  // loop's thread, the wake-up is a MSG_RING from that loop's ring.
  absl::Status Adopt(Fd fd, sctp_assoc_t assoc_id, uint64_t cookie);
  // Runs `fn` on the worker thread, in order with other Posts and Adopts.
  absl::Status Post(absl::AnyInvocable<void(Worker&)> fn);
  // Hands `item` to WorkerHandler::OnMail (the router's parcels). kFull or
  // kClosed: not taken.
  Inbox::Push Mail(uint64_t item) { return loop_->Mail(item); }
  // Drains queued sends and reads what the kernel holds (up to
  // stop_deadline), ends every association
  // (OnAssociationDown(kStopped)) and joins the thread. Idempotent.
  void Stop();
  WorkerStats Snapshot() const;
  // CPU time the worker thread has used so far.
  absl::Duration ThreadCpuTime() const { return loop_->ThreadCpuTime(); }
  const WorkerOptions& options() const { return options_; }
  bool OnWorkerThread() const { return loop_->OnLoopThread(); }

  // --- Worker thread only: sending ----------------------------------------
  // A buffer from this worker's pool to build a message in (invalid: spent).
  SendBuffer AcquireSendBuffer(size_t size);
  void ReleaseSendBuffer(SendBuffer buffer);
  // Queues a message built in `buffer` (this worker's, or a parcel) without
  // copying it. The buffer is consumed unless the result is backpressure
  // (IsBackpressure: kept by the caller, to retry on OnWritable).
  SendResult Send(AssocHandle assoc, uint16_t stream, uint32_t ppid, SendBuffer&& buffer, uint16_t flags = 0,
                  uint32_t ttl_ms = 0);
  // Convenience: copies `payload` into a send buffer (counted as a copy).
  SendResult SendCopy(AssocHandle assoc, uint16_t stream, uint32_t ppid, absl::Span<const char> payload,
                      uint16_t flags = 0, uint32_t ttl_ms = 0);
  // Sends `part` of a retained message (all of it when empty) straight from
  // the buffer it arrived in; the buffer goes back when the kernel is done.
  // Consumed unless backpressure. REQUIRES: retained on this worker; `part`
  // lies within its payload.
  SendResult SendRetained(AssocHandle assoc, uint16_t stream, uint32_t ppid, RetainedMessage&& message,
                          absl::Span<const char> part = {}, uint16_t flags = 0, uint32_t ttl_ms = 0);

  // --- Worker thread only: receiving and the association ------------------
  // Keeps `msg`'s payload valid past OnMessage. Fails when the retain budget
  // is spent (the ring must never run dry of buffers for good).
  absl::StatusOr<RetainedMessage> Retain(const MessageView& msg) { return retention_->Retain(msg); }
  void Release(RetainedMessage retained);
  // Fills `out` for a live association; false if the handle is stale.
  bool AssocSnapshot(AssocHandle assoc, AssocStats* out);
  // The socket of a live association (-1: stale handle), for the kernel's
  // statistics (getsockopt); the worker keeps it and closes it.
  int FdOf(AssocHandle assoc);
  // Receive flow control, for an application that cannot keep up (e.g. its
  // replies are backpressured): the worker stops reading the association's
  // socket, so its receive buffer fills and the kernel closes the peer's
  // window: the peer's sender blocks instead of this process queueing. What
  // the kernel already completed is still delivered. While paused nothing is
  // read, not even notifications (a peer's SHUTDOWN or ABORT is seen after
  // ResumeReceive); Shutdown, Abort and Stop still work. False if the handle
  // is stale or the association is ending.
  bool PauseReceive(AssocHandle assoc);
  bool ResumeReceive(AssocHandle assoc);
  // Graceful SCTP shutdown after queued sends; then OnAssociationDown.
  void Shutdown(AssocHandle assoc);
  // Sends ABORT and ends the association now.
  void Abort(AssocHandle assoc);
  // Hands the association back without ending it, to move it to another
  // worker: receiving stops once no message is half reassembled, sends in
  // flight finish, and `done` gets the socket and whatever was still queued
  // (no OnAssociationDown). Every message read before is delivered here
  // first. NotFound for a stale handle; FailedPrecondition once its
  // SHUTDOWN has gone (a Shutdown still waiting for the queue travels with
  // it: DetachedAssociation::shutdown_requested).
  void Detach(AssocHandle assoc, absl::AnyInvocable<void(absl::StatusOr<DetachedAssociation>)> done);
  // The next loop iteration calls OnTick first, whatever the interval.
  void RequestTick() { loop_->RequestTick(); }
  // Hands the mail already in the inbox to OnMail now.
  void DrainMail() { loop_->DrainMail(); }
  uint64_t MailReserved() const { return loop_->MailReserved(); }
  uint64_t MailTaken() const { return loop_->MailTaken(); }

  // --- Tests: errno faults through the real ring (see fault_plan.h) --------
  // The next receive arm / sendmsg of `assoc` completes with `res` (and
  // `cqe_flags`) without reaching the kernel. A receive fault cancels the
  // live multishot so that the re-arm takes it. Worker thread only.
  void InjectRecvFaultForTest(AssocHandle assoc, int res, uint32_t cqe_flags = 0);
  void InjectSendFaultForTest(AssocHandle assoc, int res);

 private:
  struct Assoc;
  Worker(const WorkerOptions& options, WorkerHandler* handler);

  // EventLoop::Client (worker.cc).
  absl::Status Init(EventLoop& loop) override;
  void OnCompletion(const Completion& c) override;
  void OnMail(absl::Span<const uint64_t> items) override { handler_->OnMail(*this, items); }
  unsigned BeforeWait() override;
  bool MayNap() override;
  void OnTick(absl::Time now) override { handler_->OnTick(*this, now); }
  bool StopStep(bool late) override;
  // Stopping: the kernel holds nothing more to read on `fd` (counted).
  bool ReceivedAll(int fd);
  void OnExit() override;

  // Adoption, teardown, detach (worker.cc).
  void AdoptNow(Fd fd, sctp_assoc_t assoc_id, uint64_t cookie);
  bool MayBundle(int fd);
  Assoc* Lookup(AssocHandle handle);
  AssocHandle HandleOf(const Assoc& a) const;
  void BeginTeardown(Assoc& a, DownReason reason);
  void MaybeFinish(Assoc& a);
  void FinishDetach(Assoc& a);
  void FreeSlot(Assoc& a);
  void Cancel(Assoc& a, uint64_t target);
  void CancelRecv(Assoc& a);

  // Receive (worker_recv.cc).
  void ArmRecv(Assoc& a);
  void QueueRearm(Assoc& a);
  void RearmPending();
  void OnRecv(Assoc& a, const Completion& c);
  void OnRecvError(Assoc& a, int res);
  void OnRecvData(Assoc& a, uint16_t bid, int res);
  void OnPiece(Assoc& a, const RecvParts& parts, bool eor);
  void OversizeAbort(Assoc& a, size_t size, bool eor);
  // Aborts `a` for its message in progress (`why` to the handler); the
  // message's remaining pieces are dropped as they come.
  void AbortPartial(Assoc& a, bool eor, const absl::Status& why);
  void DeliverMessage(Assoc& a, const RecvParts& parts, int32_t bid, absl::Span<const char> payload,
                      std::unique_ptr<char[]>* reassembly);
  void DeliverNotification(Assoc& a, absl::Span<const char> bytes);

  // Send (worker_send.cc).
  SendResult Admit(Assoc* a, size_t size);
  // The association's queue depth and bytes, to its gauges and the worker's.
  void NoteQueueDepth(Assoc& a);
  SendResult Enqueue(Assoc& a, uint32_t desc, uint16_t stream, uint32_t ppid, uint16_t flags, uint32_t ttl_ms);
  void FreeDesc(uint32_t desc);
  void MarkSendDirty(Assoc& a);
  unsigned FlushSends();
  unsigned SubmitChain(Assoc& a);
  void OnSendComplete(Assoc& a, uint32_t desc, const Completion& c, bool zc);
  void LearnZcSupport(Assoc& a, bool supported);
  void FinishChain(Assoc& a);
  bool FlushHeldRun(Assoc& a);
  void CountSent(Assoc& a, uint32_t bytes);  // one message out, whole
  void FailQueued(Assoc& a);
  std::vector<OutgoingMessage> TakeQueued(Assoc& a);
  void NoteNoBuffers(Assoc& a);
  void WakeBufferWaiters();
  void MaybeWritable(Assoc& a);
  void ReportSendError(Assoc& a, int res, const char* what);
  void SendEof(Assoc& a);
  void SendAbort(Assoc& a);

  const WorkerOptions options_;
  ReassemblyBudget reassembly_;  // before the associations' reassemblies: outlives them
  WorkerHandler* const handler_;
  // Set on the worker thread (Init) before Create returns or any handoff can
  // reach the worker, so every thread that can name the worker sees it.
  EventLoop* loop_ = nullptr;
  std::unique_ptr<EventLoop> owned_loop_;  // the same; for Create and the destructor
  Ring* ring_ = nullptr;             // its ring, on the worker thread
  bool bundle_refusal_logged_ = false;
  bool held_flush_failed_logged_ = false;
  unsigned recv_batch_ = 0, last_recv_batch_ = 0;  // receive CQEs per batch, for MayNap
  unsigned chains_in_flight_ = 0;                  // associations with a send chain in the kernel
  std::unique_ptr<BufferRing> buffers_;
  std::unique_ptr<SendPool> send_pool_;
  std::unique_ptr<Retention> retention_;
  std::unique_ptr<SendMemory> memory_;
  msghdr recv_template_{};
  std::unique_ptr<SlotTable<Assoc>> slots_;
  std::vector<uint16_t> rearm_;           // slots whose receive must be armed again
  std::vector<uint16_t> send_dirty_;      // slots with queued sends and no chain in flight
  std::vector<uint16_t> flushing_;        // FlushSends' working copy of send_dirty_
  std::vector<uint16_t> buffer_waiters_;  // slots refused kNoBuffers: OnWritable when some free
  std::vector<std::pair<int, ZcSupport>> zc_by_protocol_;  // learnt SEND_ZC support

  // Stats (written by the worker thread only).
  AssocCounters totals_;
  Counter enobufs_, recv_rearms_, recv_errors_, oversize_, reassembly_refused_, partials_dropped_, adopted_, closed_,
      detached_, active_;
  Counter retained_gauge_, retain_refused_, send_in_use_, other_syscalls_, zc_sends_, recv_pauses_, held_flushes_,
      chains_gauge_;
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_WORKER_H_
