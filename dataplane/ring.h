// Ring: the owner of one io_uring instance and the only code in the project
// that talks to liburing (with BufferRing and the feature probe, in the same
// library). This header does not include liburing: what the rest of the data
// plane needs is here as plain types (Completion, the CQE flag bits) and one
// method per operation it submits.
//
// Created on the thread that will use it (SINGLE_ISSUER binds the ring to its
// creator). A FaultPlan (tests) may replace submissions by failing NOPs and
// hold completions back; see fault_plan.h.
#ifndef SCTPDP_DATAPLANE_RING_H_
#define SCTPDP_DATAPLANE_RING_H_

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "dataplane/completion.h"
#include "dataplane/fault_plan.h"
#include "dataplane/ring_features.h"

struct io_uring;  // liburing's, kept out of this header
struct io_uring_sqe;

namespace sctpdp {

struct RingOptions {
  unsigned sq_entries = 256;
  // Multishot receive turns one SQE into many CQEs: keep the CQ well larger.
  unsigned cq_entries = 4096;
  // Size of the sparse registered file table (0: none).
  unsigned fixed_files = 0;
  // Use SINGLE_ISSUER + DEFER_TASKRUN where the kernel has them. Only for a
  // ring used by a single thread for its whole life.
  bool single_issuer = true;
};

// How a sendmsg SQE is submitted.
enum SendSqeFlags : unsigned {
  kSqeLink = 1u << 0,       // IOSQE_IO_LINK: the next SQE runs after this one
  kSqePollFirst = 1u << 1,  // IORING_RECVSEND_POLL_FIRST: wait for POLLOUT first
  kSqeZeroCopy = 1u << 2,   // IORING_OP_SENDMSG_ZC instead of SENDMSG
};

class Ring {
 public:
  // REQUIRES: called on the thread that will submit to the ring.
  static absl::StatusOr<std::unique_ptr<Ring>> Create(const RingOptions& options);
  ~Ring();

  // The kernel holds the ring's address: neither copyable nor movable.
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  int fd() const;
  unsigned setup_flags() const { return setup_flags_; }
  bool defers_taskrun() const;
  // "SINGLE_ISSUER|DEFER_TASKRUN" etc.: for the start-up log.
  std::string SetupFlagsString() const;

  // --- Submissions: each queues one SQE (submitting queued ones first when
  // the SQ is full). `slot` is a fixed-file index.
  void PrepRecvMultishot(unsigned slot, msghdr* tmpl, uint16_t buffer_group, uint64_t user_data);
  void PrepSendmsg(unsigned slot, const msghdr* msg, int msg_flags, unsigned sqe_flags, uint64_t user_data);
  // Asks the kernel to cancel the request whose user_data is `target`.
  void PrepCancel(uint64_t target, uint64_t user_data);
  void PrepPollMultishot(int fd, uint32_t poll_mask, uint64_t user_data);
  // IORING_OP_MSG_RING: a CQE with `target_user_data` (res 0) lands in the
  // ring whose fd is `target_ring_fd`; this ring gets its own CQE.
  void PrepMsgRing(int target_ring_fd, uint64_t target_user_data, uint64_t user_data);
  void PrepNop(uint64_t user_data);
  // Makes room for `n` SQEs in a row, submitting queued ones first if needed:
  // a link chain split across two submits would become two chains.
  // REQUIRES: n <= SQ size.
  void ReserveSqes(unsigned n);
  // Installs `fd` (-1: clears) at fixed-file index `slot`. 0 or -errno.
  int UpdateFixedFile(unsigned slot, int fd);
  // SQEs queued and not yet submitted.
  unsigned SqReady() const;

  // Submits queued SQEs and waits for at least `wait_nr` CQEs, or until
  // `timeout_ns` passes (0: no limit). Returns the submit count or -errno
  // (-ETIME, -EINTR, -EBUSY are normal). Each call is one io_uring_enter.
  // With completions held back by a fault plan it does not wait.
  int SubmitAndWait(unsigned wait_nr, uint64_t timeout_ns);
  // Submits queued SQEs without waiting.
  int Submit();

  // Whether the kernel's io_uring_enter can wait with a minimum timeout
  // (IORING_FEAT_MIN_TIMEOUT, 6.12).
  bool min_timeout() const;
  // As SubmitAndWait, gathering: waits for `wait_nr` CQEs, but once
  // `min_wait_ns` has passed returns with any that have come; with none by
  // then, waits on for one until `timeout_ns` (0: returns at `min_wait_ns`).
  // One io_uring_enter: completions gather without a separate sleep.
  // REQUIRES: min_timeout().
  int SubmitAndGather(unsigned wait_nr, uint64_t min_wait_ns, uint64_t timeout_ns);

  // Copies up to out.size() posted completions into `out`, oldest first, and
  // consumes them from the CQ; returns how many. One store-release of the CQ
  // head per call.
  unsigned Reap(absl::Span<Completion> out);

  // io_uring_enter calls made through this ring, for the stats.
  uint64_t enter_calls() const { return enter_calls_; }
  // Reaps that found the CQ overflowed (IORING_SQ_CQ_OVERFLOW: completions
  // wait in the kernel's overflow list, flushed at the next enter), and
  // completions the kernel dropped (the CQ's overflow count: it could not
  // even keep them; never expected with IORING_FEAT_NODROP).
  uint64_t cq_overflows() const { return cq_overflows_; }
  uint64_t cq_dropped() const;

  // Tests: a fault plan consulted at every submission and reap (nullptr: none).
  // REQUIRES: set before the first submission; outlives the ring.
  void set_fault_plan(FaultPlan* plan) { faults_ = plan; }
  FaultPlan* fault_plan() const { return faults_; }

  // For BufferRing (same library).
  io_uring* raw() { return ring_.get(); }

 private:
  Ring();
  ::io_uring_sqe* NextSqe();
  // True when the plan replaced the submission by a NOP carrying `user_data`.
  bool Injected(uint64_t user_data);

  std::unique_ptr<io_uring> ring_;
  unsigned setup_flags_ = 0;
  uint64_t enter_calls_ = 0;
  uint64_t cq_overflows_ = 0;
  FaultPlan* faults_ = nullptr;
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_RING_H_
