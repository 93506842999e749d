// Ring: the owner of one io_uring instance and the only code in the project
// that includes liburing directly besides the probe. Created on the thread
// that will use it (SINGLE_ISSUER binds the ring to its creator).
#ifndef SCTPDP_DATAPLANE_RING_H_
#define SCTPDP_DATAPLANE_RING_H_

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "dataplane/ring_features.h"

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

class Ring {
 public:
  // REQUIRES: called on the thread that will submit to the ring.
  static absl::StatusOr<std::unique_ptr<Ring>> Create(const RingOptions& options);
  ~Ring();

  // The kernel holds the ring's address: neither copyable nor movable.
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  io_uring* raw() { return &ring_; }
  int fd() const { return ring_.ring_fd; }
  unsigned setup_flags() const { return setup_flags_; }
  // "SINGLE_ISSUER|DEFER_TASKRUN" etc.: for the start-up log.
  std::string SetupFlagsString() const;

  // An SQE, submitting queued ones first if the SQ is full. Null only if the
  // SQ stays full after a submit (the kernel is not consuming: a bug).
  io_uring_sqe* GetSqe();

  // Makes room for `n` SQEs in a row, submitting queued ones first if needed:
  // a link chain split across two submits would become two chains.
  // REQUIRES: n <= SQ size.
  void ReserveSqes(unsigned n);

  // Submits queued SQEs and waits for at least `wait_nr` CQEs, or until
  // `timeout_ns` passes (0: no limit). Returns the submit count or -errno
  // (-ETIME, -EINTR, -EBUSY are normal). Each call is one io_uring_enter.
  int SubmitAndWait(unsigned wait_nr, uint64_t timeout_ns);
  // Submits queued SQEs without waiting.
  int Submit();

  // io_uring_enter calls made through this ring, for the stats.
  uint64_t enter_calls() const { return enter_calls_; }

 private:
  Ring() = default;
  io_uring ring_{};
  unsigned setup_flags_ = 0;
  uint64_t enter_calls_ = 0;
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_RING_H_
