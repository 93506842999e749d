// OneToManyServer: the control thread's engine. It serves the one-to-many SCTP
// sockets (SOCK_SEQPACKET) that every association starts on and that the
// cold ones stay on: the listener's, and one per outbound connection
// (DataPlane::Connect binds each to its own local addresses and port). Per
// socket one multishot recvmsg for all of its associations (each message
// names its association in SCTP_RCVINFO) and one send queue whose messages
// name theirs in SCTP_SNDINFO; every socket shares the thread's ring,
// provided buffers and send memory. One association's trouble (an oversize
// message, a send to a peer that shut down) is that association's, never the
// socket's; one socket's congestion is never another's.
//
// It runs on its own EventLoop (the control thread), whose ring has
// DEFER_TASKRUN where the kernel has it: receives then run only inside this
// thread's io_uring_enter, which is what makes Detach's peeloff exact
// (control/data_plane.cc).
#ifndef SCTPDP_CONTROL_ONE_TO_MANY_SERVER_H_
#define SCTPDP_CONTROL_ONE_TO_MANY_SERVER_H_

#include <netinet/in.h>
#include <netinet/sctp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "dataplane/buffer_ring.h"
#include "dataplane/event_loop.h"
#include "dataplane/fd.h"
#include "dataplane/message.h"
#include "dataplane/parcel_pool.h"
#include "dataplane/reassembler.h"
#include "dataplane/retention.h"
#include "dataplane/send_memory.h"
#include "dataplane/send_queue.h"
#include "dataplane/stats.h"

namespace sctpdp {

class OneToManyServer;

// Names one socket of the server (its fixed-file index); stable while the
// socket is served.
using SocketId = uint16_t;
inline constexpr SocketId kNoSocket = 0xffff;

struct OneToManyOptions {
  uint8_t index = 0;                  // the loop's index (for the log)
  unsigned buffer_count = 1024;       // provided receive buffers (power of two), shared by the sockets
  unsigned buffer_size = 8192;
  size_t max_message_size = 1 << 20;  // bigger: that association is aborted
  size_t max_reassembly_bytes = 64 << 20;  // as WorkerOptions::max_reassembly_bytes
  unsigned retain_budget = 256;
  unsigned send_buffer_count = 4096;
  unsigned send_buffer_size = 65536;
  unsigned send_queue_limit = 1024;   // messages queued per socket, its associations together
  uint64_t send_queue_bytes = 4u << 20;  // their payload bytes (as WorkerOptions::send_queue_bytes)
  unsigned send_batch = 32;
  // Sockets served at once: the listener's and one per outbound connection.
  unsigned max_sockets = 1024;
  unsigned sq_entries = 512;
  unsigned cq_entries = 16384;
  absl::Duration tick_interval = absl::Milliseconds(50);
  absl::Duration stop_deadline = absl::Seconds(2);
  ParcelPool* parcels = nullptr;
  size_t mail_capacity = 8192;
  std::optional<FaultPlanOptions> faults;
};

class OneToManyHandler {
 public:
  virtual ~OneToManyHandler() = default;
  virtual void OnStart(OneToManyServer& s) {}
  // `m.assoc_id` names the association. Same contract as WorkerHandler.
  virtual void OnMessage(OneToManyServer& s, const MessageView& m) = 0;
  // A notification read on `socket`.
  virtual void OnEvent(OneToManyServer& s, SocketId socket, const AssociationEvent& event) {}
  // `id` 0: a socket's own.
  virtual void OnError(OneToManyServer& s, sctp_assoc_t id, const absl::Status& error) {}
  // Sends to `id` refused with kQueueFull or kNoBuffers may go again.
  virtual void OnWritable(OneToManyServer& s, sctp_assoc_t id) {}
  virtual void OnMail(OneToManyServer& s, absl::Span<const uint64_t> items) {}
  virtual void OnTick(OneToManyServer& s, absl::Time now) {}
  // Stopped: every socket is closed, every association still on one is gone.
  virtual void OnClosed(OneToManyServer& s) {}
};

class OneToManyServer final : private EventLoop::Client {
 public:
  // A server of `socket` (a bound, listening one-to-many SCTP socket, which
  // becomes socket 0), or of none yet (an invalid Fd: sockets come with
  // AddSocket).
  static absl::StatusOr<std::unique_ptr<OneToManyServer>> Create(Fd socket, const OneToManyOptions& options,
                                                                 OneToManyHandler* handler);
  // Starts serving on a new thread (the handler hears from it from now on,
  // so whoever holds the server has it before the first callback).
  absl::Status Start();
  ~OneToManyServer() override;
  OneToManyServer(const OneToManyServer&) = delete;
  OneToManyServer& operator=(const OneToManyServer&) = delete;

  // --- Any thread.
  absl::Status Post(absl::AnyInvocable<void()> fn) { return loop_->Post(std::move(fn)); }
  Inbox::Push Mail(uint64_t item) { return loop_->Mail(item); }
  // Drains queued sends and reads what the kernel already holds (up to
  // stop_deadline), closes every socket (OnClosed) and joins the thread.
  // Idempotent.
  void Stop();
  WorkerStats Snapshot() const;
  bool OnThread() const { return loop_->OnLoopThread(); }
  absl::Duration ThreadCpuTime() const { return loop_->ThreadCpuTime(); }
  const OneToManyOptions& options() const { return options_; }

  // --- The control thread only.
  // Serves one more one-to-many socket (an outbound connection's: bound,
  // not listening). ResourceExhausted at max_sockets.
  absl::StatusOr<SocketId> AddSocket(Fd socket);
  // Stops serving `socket`: what is queued on it is dropped (reported), it
  // is closed once its receive and sends are done (its associations end).
  void RemoveSocket(SocketId socket);
  // The descriptor of `socket`, and of the socket association `id` lives on
  // (-1: none).
  int SocketFd(SocketId socket) const;
  int FdOf(sctp_assoc_t id) const;
  SocketId SocketOf(sctp_assoc_t id) const;
  // Every association known to be up on a socket, with that socket's fd.
  void ForEachAssociation(absl::FunctionRef<void(sctp_assoc_t id, int fd)> fn) const;

  SendBuffer AcquireSendBuffer(size_t size);
  void ReleaseSendBuffer(SendBuffer buffer);
  // Send to association `to`; as Worker's (consumed unless backpressure).
  SendResult Send(sctp_assoc_t to, uint16_t stream, uint32_t ppid, SendBuffer&& buffer, uint16_t flags = 0,
                  uint32_t ttl_ms = 0);
  SendResult SendCopy(sctp_assoc_t to, uint16_t stream, uint32_t ppid, absl::Span<const char> payload,
                      uint16_t flags = 0, uint32_t ttl_ms = 0);
  SendResult SendRetained(sctp_assoc_t to, uint16_t stream, uint32_t ppid, RetainedMessage&& message,
                          absl::Span<const char> part = {}, uint16_t flags = 0, uint32_t ttl_ms = 0);
  absl::StatusOr<RetainedMessage> Retain(const MessageView& m) { return retention_->Retain(m); }
  void Release(RetainedMessage m);

  // The one question a move asks: takes association `id` off its socket.
  // Not yet (FailedPrecondition) while half a message of it is reassembled here, or
  // while a send to it is inside the kernel (that chain is cancelled: its
  // unsent messages come back to the queue in order, and RequestTick asks
  // for another try). Otherwise `peel` branches the association off (its
  // errors come back as they are), every completion already posted is
  // handled first and after, and the messages still queued for it come back
  // copied once (move_copies), oldest first, with the new socket.
  struct Detached {
    Fd fd;
    std::vector<OutgoingMessage> queued;
  };
  absl::StatusOr<Detached> Detach(sctp_assoc_t id, absl::FunctionRef<absl::StatusOr<Fd>(int, sctp_assoc_t)> peel);
  // Graceful end of association `id` after everything queued for it: an
  // SCTP_EOF send behind its messages (SHUTDOWN once the kernel has sent
  // them all; SHUTDOWN_COMP follows). Later sends to it are refused
  // (kClosing). Backpressure as for a send.
  SendResult Shutdown(sctp_assoc_t id);
  // Sends ABORT to association `id` now (it ends: COMM_LOST follows). What
  // is still queued for it here is dropped and reported (OnError), and so
  // is what was in the kernel's hands waiting for room (the chain is taken
  // back); later sends to it are refused (kClosing).
  void Abort(sctp_assoc_t id);
  void RequestTick() { loop_->RequestTick(); }
  void DrainMail() { loop_->DrainMail(); }
  uint64_t MailReserved() const { return loop_->MailReserved(); }
  uint64_t MailTaken() const { return loop_->MailTaken(); }
  void ProcessPostedCompletions() { loop_->ProcessPostedCompletions(); }

 private:
  // One socket served.
  struct Socket {
    Fd fd;
    SocketId id = 0;                 // == its fixed-file index
    uint16_t generation = 0;         // for its completions' tags
    bool open = true;                // until Stop or RemoveSocket closes it
    bool recv_armed = false;
    bool recv_cancel_sent = false;
    bool dirty = false;              // sends queued since the last chain
    uint16_t default_pr = 0;         // the default PR-SCTP policy bits (DefaultPrFlags), for sends naming none
    Reassembler partial;             // one partial delivery at a time per socket
    std::vector<sctp_assoc_t> discarding;  // associations whose oversize message's pieces are being dropped
    std::vector<sctp_assoc_t> refused;     // refused for backpressure, told when there is room
    std::vector<sctp_assoc_t> ending;      // SCTP_EOF queued or ABORT sent: sends refused
    std::vector<sctp_assoc_t> aborting;    // aborted with a send in the chain: what comes back is dropped
    SendQueue queue;
  };

  OneToManyServer(Fd socket, const OneToManyOptions& options, OneToManyHandler* handler);

  // EventLoop::Client.
  absl::Status Init(EventLoop& loop) override;
  void OnCompletion(const Completion& c) override;
  void OnMail(absl::Span<const uint64_t> items) override { handler_->OnMail(*this, items); }
  unsigned BeforeWait() override;
  void OnTick(absl::Time now) override { handler_->OnTick(*this, now); }
  bool StopStep(bool late) override;
  // Stopping: the kernel holds nothing more to read on `fd` (counted).
  bool ReceivedAll(int fd);
  void OnExit() override;

  // Sockets.
  absl::StatusOr<SocketId> Install(Fd fd);
  Socket* Find(SocketId id, uint16_t generation);
  Socket* SocketFor(sctp_assoc_t id);
  const Socket* SocketFor(sctp_assoc_t id) const;
  void Close(Socket& s, const char* why);
  bool MaybeRelease(Socket& s);

  // Receive.
  void ArmRecv(Socket& s);
  void OnRecv(Socket& s, const Completion& c);
  void OnRecvData(Socket& s, uint16_t bid, int res);
  void OnPiece(Socket& s, const RecvParts& parts, bool eor, sctp_assoc_t who);
  void OversizeAbort(Socket& s, sctp_assoc_t who, size_t size, bool eor);
  // Aborts `who` for its message in progress (`why` to the handler); the
  // socket serves the others on, dropping that message's remaining pieces.
  void AbortPartial(Socket& s, sctp_assoc_t who, bool eor, const absl::Status& why);
  void Deliver(const RecvParts& parts, int32_t bid, absl::Span<const char> payload,
               std::unique_ptr<char[]>* reassembly);
  void DeliverNotification(Socket& s, absl::Span<const char> bytes);

  // Send.
  SendResult Admit(Socket* s, sctp_assoc_t to, size_t size);
  // The socket's queue depth and bytes, to the gauges.
  void NoteQueueDepth(const Socket& s);
  SendResult Enqueue(Socket& s, uint32_t desc, sctp_assoc_t to, uint16_t stream, uint32_t ppid, uint16_t flags,
                     uint32_t ttl_ms);
  unsigned SubmitChain(Socket& s);
  void OnSendComplete(Socket& s, uint32_t desc, const Completion& c);
  void FinishChain(Socket& s);
  void MaybeWritable(Socket& s);
  // `to` on `s` was refused because the send memory (buffers or
  // descriptors), shared by every socket, is spent: it hears when another
  // socket's completions free some, not only at its own (it may have none).
  SendResult NoBuffers(Socket& s, sctp_assoc_t to);
  void WakeBufferWaiters();
  void FreeDesc(uint32_t desc);
  void DropQueued(Socket& s, sctp_assoc_t id, const char* why);

  const OneToManyOptions options_;
  ReassemblyBudget reassembly_;  // before the sockets' reassemblies: outlives them
  OneToManyHandler* const handler_;
  Fd first_;  // the socket given at Create, until Init installs it
  // Set on the control thread (Init) before anything can reach another
  // thread, so every thread that learns of an association sees it.
  EventLoop* loop_ = nullptr;
  std::unique_ptr<EventLoop> owned_loop_;  // the same; for Start and the destructor
  Ring* ring_ = nullptr;
  std::unique_ptr<BufferRing> buffers_;
  std::unique_ptr<SendPool> send_pool_;
  std::unique_ptr<Retention> retention_;
  std::unique_ptr<SendMemory> memory_;
  msghdr recv_template_{};
  std::vector<std::unique_ptr<Socket>> sockets_;  // by id; null: free
  std::vector<std::pair<SocketId, uint16_t>> buffer_waiters_;  // sockets (id, generation) refused for send memory
  std::vector<uint16_t> generations_;             // by id, across reuses
  std::vector<SocketId> served_;                  // ids in use, in no order
  std::unordered_map<sctp_assoc_t, SocketId> assoc_socket_;  // learnt from each association's COMM_UP
  bool stopping_ = false;
  bool closed_reported_ = false;

  // Stats (the control thread writes them).
  AssocCounters totals_;
  Counter enobufs_, recv_rearms_, recv_errors_, oversize_, reassembly_refused_, partials_dropped_, retained_gauge_,
      retain_refused_,
      send_in_use_, other_syscalls_, chains_gauge_, open_gauge_;  // open_gauge_: sockets open
};

}  // namespace sctpdp

#endif  // SCTPDP_CONTROL_ONE_TO_MANY_SERVER_H_
