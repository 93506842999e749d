#include "dataplane/ring_features.h"

#include <liburing.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "dataplane/fd.h"

namespace sctpdp {
namespace {

bool SetupAccepts(unsigned flags) {
  io_uring ring;
  io_uring_params p;
  std::memset(&p, 0, sizeof(p));
  p.flags = flags;
  if (io_uring_queue_init_params(4, &ring, &p) != 0) return false;
  io_uring_queue_exit(&ring);
  return true;
}

void ProbeOpcodes(io_uring* ring, RingFeatures* f) {
  io_uring_probe* probe = io_uring_get_probe_ring(ring);
  if (probe == nullptr) return;
  auto has = [&](int op) { return io_uring_opcode_supported(probe, op) != 0; };
  f->op_recvmsg = has(IORING_OP_RECVMSG);
  f->op_sendmsg = has(IORING_OP_SENDMSG);
  f->op_poll_add = has(IORING_OP_POLL_ADD);
  f->op_async_cancel = has(IORING_OP_ASYNC_CANCEL);
  f->op_files_update = has(IORING_OP_FILES_UPDATE);
  f->op_close = has(IORING_OP_CLOSE);
  f->op_msg_ring = has(IORING_OP_MSG_RING);
  f->op_send_zc = has(IORING_OP_SEND_ZC);
  f->op_sendmsg_zc = has(IORING_OP_SENDMSG_ZC);
  io_uring_free_probe(probe);
}

// Waits for one CQE and returns (res, flags); res = -ETIME if none came.
std::pair<int, unsigned> WaitOne(io_uring* ring) {
  __kernel_timespec ts{1, 0};
  io_uring_cqe* cqe = nullptr;
  if (io_uring_wait_cqe_timeout(ring, &cqe, &ts) != 0) return {-ETIME, 0};
  std::pair<int, unsigned> out{cqe->res, cqe->flags};
  io_uring_cqe_seen(ring, cqe);
  return out;
}

// Registers a 4-buffer ring (group 0), arms a multishot recvmsg on one end of
// a SEQPACKET socketpair and writes two messages: both must complete with
// IORING_CQE_F_MORE still set.
void ProbeBufRingAndMultishot(io_uring* ring, RingFeatures* f) {
  constexpr unsigned kEntries = 4, kSize = 256;
  size_t bytes = kEntries * (sizeof(io_uring_buf) + kSize);
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return;
  auto* br = static_cast<io_uring_buf_ring*>(mem);
  io_uring_buf_reg reg;
  std::memset(&reg, 0, sizeof(reg));
  reg.ring_addr = reinterpret_cast<uint64_t>(br);
  reg.ring_entries = kEntries;
  reg.bgid = 0;
  if (io_uring_register_buf_ring(ring, &reg, 0) == 0) {
    f->buf_ring = true;
    io_uring_buf_ring_init(br);
    char* bufs = static_cast<char*>(mem) + kEntries * sizeof(io_uring_buf);
    for (unsigned i = 0; i < kEntries; ++i) {
      io_uring_buf_ring_add(br, bufs + i * kSize, kSize, i, io_uring_buf_ring_mask(kEntries), i);
    }
    io_uring_buf_ring_advance(br, kEntries);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0) {
      Fd a(sv[0]), b(sv[1]);
      msghdr msg;
      std::memset(&msg, 0, sizeof(msg));
      io_uring_sqe* sqe = io_uring_get_sqe(ring);
      io_uring_prep_recvmsg_multishot(sqe, a.get(), &msg, 0);
      sqe->flags |= IOSQE_BUFFER_SELECT;
      sqe->buf_group = 0;
      sqe->user_data = 1;
      io_uring_submit(ring);
      (void)!write(b.get(), "x", 1);
      (void)!write(b.get(), "y", 1);
      auto first = WaitOne(ring);
      auto second = WaitOne(ring);
      f->recvmsg_multishot = first.first > 0 && (first.second & IORING_CQE_F_MORE) &&
                             second.first > 0 && (second.second & IORING_CQE_F_MORE);
      // Cancel the multishot; its final CQE comes without F_MORE.
      io_uring_sqe* cancel = io_uring_get_sqe(ring);
      io_uring_prep_cancel64(cancel, 1, 0);
      cancel->user_data = 2;
      io_uring_submit(ring);
      for (int i = 0; i < 4; ++i) {
        io_uring_cqe* cqe = nullptr;
        __kernel_timespec ts{1, 0};
        if (io_uring_wait_cqe_timeout(ring, &cqe, &ts) != 0) break;
        bool done = cqe->user_data == 1 && !(cqe->flags & IORING_CQE_F_MORE);
        io_uring_cqe_seen(ring, cqe);
        if (done) break;
      }
    }
    io_uring_unregister_buf_ring(ring, 0);
  }
  munmap(mem, bytes);
}

// Sends a descriptor into slot 0 of a second ring's fixed file table.
void ProbeMsgRingSendFd(io_uring* ring, RingFeatures* f) {
  if (!f->op_msg_ring) return;
  io_uring target;
  if (io_uring_queue_init(4, &target, 0) != 0) return;
  if (io_uring_register_files_sparse(&target, 1) == 0 &&
      io_uring_register_files_sparse(ring, 1) == 0) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0) {
      Fd a(sv[0]), b(sv[1]);
      if (io_uring_register_files_update(ring, 0, &sv[0], 1) == 1) {
        // liburing 2.3 has no io_uring_prep_msg_ring_fd: fill the SQE by hand
        // (addr = IORING_MSG_SEND_FD, addr3 = source slot, file_index = dest+1).
        io_uring_sqe* sqe = io_uring_get_sqe(ring);
        io_uring_prep_rw(IORING_OP_MSG_RING, sqe, target.ring_fd, nullptr, 0, 7);
        sqe->addr = IORING_MSG_SEND_FD;
        sqe->addr3 = 0;
        sqe->file_index = 1;
        io_uring_submit(ring);
        auto res = WaitOne(ring);
        // The target's CQE: user_data from the SQE's off, res the slot (0).
        io_uring_cqe* cqe = nullptr;
        __kernel_timespec ts{1, 0};
        if (res.first == 0 && io_uring_wait_cqe_timeout(&target, &cqe, &ts) == 0) {
          f->msg_ring_send_fd = cqe->user_data == 7 && cqe->res == 0;
          io_uring_cqe_seen(&target, cqe);
        }
      }
    }
  }
  io_uring_queue_exit(&target);
}

RingFeatures Probe() {
  RingFeatures f;
  f.single_issuer = SetupAccepts(IORING_SETUP_SINGLE_ISSUER);
  f.defer_taskrun = SetupAccepts(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
  f.coop_taskrun = SetupAccepts(IORING_SETUP_COOP_TASKRUN);
  f.submit_all = SetupAccepts(IORING_SETUP_SUBMIT_ALL);
  // A fresh ring per probe, so no probe sees another's leftovers.
  io_uring ring;
  if (io_uring_queue_init(8, &ring, 0) != 0) return f;
  ProbeOpcodes(&ring, &f);
  io_uring_queue_exit(&ring);
  if (io_uring_queue_init(8, &ring, 0) != 0) return f;
  ProbeBufRingAndMultishot(&ring, &f);
  io_uring_queue_exit(&ring);
  // POLL_FIRST and buffer rings arrived together (5.19).
  f.poll_first = f.buf_ring;
  if (io_uring_queue_init(8, &ring, 0) != 0) return f;
  ProbeMsgRingSendFd(&ring, &f);
  io_uring_queue_exit(&ring);
  return f;
}

}  // namespace

std::string RingFeatures::ToString() const {
  std::string out;
  auto add = [&](const char* name, bool on) { absl::StrAppend(&out, " ", name, on ? "+" : "-"); };
  add("single_issuer", single_issuer);
  add("defer_taskrun", defer_taskrun);
  add("coop_taskrun", coop_taskrun);
  add("submit_all", submit_all);
  add("recvmsg", op_recvmsg);
  add("sendmsg", op_sendmsg);
  add("poll_add", op_poll_add);
  add("async_cancel", op_async_cancel);
  add("files_update", op_files_update);
  add("close", op_close);
  add("msg_ring", op_msg_ring);
  add("send_zc", op_send_zc);
  add("sendmsg_zc", op_sendmsg_zc);
  add("buf_ring", buf_ring);
  add("recvmsg_multishot", recvmsg_multishot);
  add("msg_ring_send_fd", msg_ring_send_fd);
  add("poll_first", poll_first);
  return out.substr(1);
}

const RingFeatures& ProbeRingFeatures() {
  static const RingFeatures features = Probe();
  return features;
}

}  // namespace sctpdp
