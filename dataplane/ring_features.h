// RingFeatures: what this kernel's io_uring can do for an SCTP data plane,
// probed once per process by exercising each feature, not by version numbers.
#ifndef SCTPDP_DATAPLANE_RING_FEATURES_H_
#define SCTPDP_DATAPLANE_RING_FEATURES_H_

#include <string>

namespace sctpdp {

struct RingFeatures {
  // Setup flags the kernel accepts.
  bool single_issuer = false;   // IORING_SETUP_SINGLE_ISSUER (6.0)
  bool defer_taskrun = false;   // IORING_SETUP_DEFER_TASKRUN (6.1)
  bool coop_taskrun = false;    // IORING_SETUP_COOP_TASKRUN (5.19)
  bool submit_all = false;      // IORING_SETUP_SUBMIT_ALL (5.18)

  // Opcodes (io_uring_get_probe).
  bool op_recvmsg = false;
  bool op_sendmsg = false;
  bool op_poll_add = false;
  bool op_async_cancel = false;
  bool op_files_update = false;
  bool op_close = false;
  bool op_msg_ring = false;
  bool op_send_zc = false;       // opcode exists; SCTP sockets still refuse it
  bool op_sendmsg_zc = false;

  // Behaviours, exercised on an AF_UNIX SOCK_SEQPACKET socketpair.
  bool buf_ring = false;            // io_uring_register_buf_ring (5.19)
  bool recvmsg_multishot = false;   // IORING_RECV_MULTISHOT on recvmsg (6.0)
  bool msg_ring_send_fd = false;    // IORING_MSG_SEND_FD into a fixed table (6.0)
  bool poll_first = false;          // IORING_RECVSEND_POLL_FIRST (5.19)

  // One line naming every feature and whether it is there.
  std::string ToString() const;
};

// Probes the running kernel once (thread-safe) and returns the cached result.
// Never fails: a feature that cannot be exercised is reported absent.
const RingFeatures& ProbeRingFeatures();

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_RING_FEATURES_H_
