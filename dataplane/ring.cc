#include "dataplane/ring.h"

#include <liburing.h>

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sctpdp {

static_assert(kCqeBuffer == IORING_CQE_F_BUFFER);
static_assert(kCqeMore == IORING_CQE_F_MORE);
static_assert(kCqeNotif == IORING_CQE_F_NOTIF);
static_assert(kCqeBufferShift == IORING_CQE_BUFFER_SHIFT);

namespace {

// 6.12's uapi, newer than liburing 2.3: the feature bit, and the wait
// argument whose `pad` became `min_wait_usec`.
constexpr unsigned kFeatMinTimeout = 1u << 15;  // IORING_FEAT_MIN_TIMEOUT
struct GeteventsArg {
  uint64_t sigmask;
  uint32_t sigmask_sz;
  uint32_t min_wait_usec;
  uint64_t ts;
};
static_assert(sizeof(GeteventsArg) == sizeof(io_uring_getevents_arg));

__kernel_timespec KernelTimespec(uint64_t ns) {
  __kernel_timespec ts;
  ts.tv_sec = static_cast<long long>(ns / 1000000000ull);
  ts.tv_nsec = static_cast<long long>(ns % 1000000000ull);
  return ts;
}

int TryInit(io_uring* ring, const RingOptions& options, unsigned flags) {
  io_uring_params params;
  std::memset(&params, 0, sizeof(params));
  params.flags = flags | IORING_SETUP_CQSIZE;
  params.cq_entries = options.cq_entries;
  return io_uring_queue_init_params(options.sq_entries, ring, &params);
}

}  // namespace

Ring::Ring() : ring_(std::make_unique<io_uring>()) { std::memset(ring_.get(), 0, sizeof(io_uring)); }

absl::StatusOr<std::unique_ptr<Ring>> Ring::Create(const RingOptions& options) {
  if (options.sq_entries == 0 || options.cq_entries < options.sq_entries) {
    return absl::InvalidArgumentError(absl::StrCat("ring sizes: sq ", options.sq_entries,
                                                   ", cq ", options.cq_entries));
  }
  const RingFeatures& f = ProbeRingFeatures();
  // Best first: one issuer with deferred task work (completions run only when
  // we enter, no IPIs), then cooperative task work, then plain.
  unsigned candidates[3] = {0, 0, 0};
  int n = 0;
  if (options.single_issuer && f.single_issuer && f.defer_taskrun) {
    candidates[n++] = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  }
  if (f.coop_taskrun) candidates[n++] = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  candidates[n++] = 0;
  if (f.submit_all) {
    for (int i = 0; i < n; ++i) candidates[i] |= IORING_SETUP_SUBMIT_ALL;
  }

  std::unique_ptr<Ring> ring(new Ring());
  int ret = -EINVAL;
  for (int i = 0; i < n; ++i) {
    ret = TryInit(ring->ring_.get(), options, candidates[i]);
    if (ret == 0) {
      ring->setup_flags_ = candidates[i];
      break;
    }
    if (ret != -EINVAL) break;  // ENOMEM, EPERM...: a flag change will not help
  }
  if (ret < 0) {
    ring->ring_->ring_fd = -1;
    return absl::ErrnoToStatus(-ret, "io_uring_queue_init_params");
  }
  if (options.fixed_files > 0) {
    ret = io_uring_register_files_sparse(ring->ring_.get(), options.fixed_files);
    if (ret < 0) {
      io_uring_queue_exit(ring->ring_.get());
      ring->ring_->ring_fd = -1;
      return absl::ErrnoToStatus(-ret, "io_uring_register_files_sparse");
    }
  }
  return ring;
}

Ring::~Ring() {
  if (ring_->ring_fd >= 0) io_uring_queue_exit(ring_.get());
}

int Ring::fd() const { return ring_->ring_fd; }

bool Ring::defers_taskrun() const { return (setup_flags_ & IORING_SETUP_DEFER_TASKRUN) != 0; }

std::string Ring::SetupFlagsString() const {
  std::string out;
  auto add = [&](unsigned flag, const char* name) {
    if (setup_flags_ & flag) absl::StrAppend(&out, out.empty() ? "" : "|", name);
  };
  add(IORING_SETUP_SINGLE_ISSUER, "SINGLE_ISSUER");
  add(IORING_SETUP_DEFER_TASKRUN, "DEFER_TASKRUN");
  add(IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN");
  add(IORING_SETUP_TASKRUN_FLAG, "TASKRUN_FLAG");
  add(IORING_SETUP_SUBMIT_ALL, "SUBMIT_ALL");
  return out.empty() ? "none" : out;
}

io_uring_sqe* Ring::NextSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
  if (sqe != nullptr) return sqe;
  Submit();
  sqe = io_uring_get_sqe(ring_.get());
  // The SQ stays full after a submit only if the kernel is not consuming it:
  // a bug, not a condition to handle.
  if (sqe == nullptr) {
    std::fprintf(stderr, "sctpdp: io_uring SQ full after submit\n");
    std::abort();
  }
  return sqe;
}

bool Ring::Injected(uint64_t user_data) {
  if (faults_ == nullptr || !faults_->OnSubmit(user_data)) return false;
  io_uring_sqe* sqe = NextSqe();
  io_uring_prep_nop(sqe);
  sqe->user_data = user_data;
  return true;
}

void Ring::PrepRecvMultishot(unsigned slot, msghdr* tmpl, uint16_t buffer_group, uint64_t user_data) {
  if (Injected(user_data)) return;
  io_uring_sqe* sqe = NextSqe();
  io_uring_prep_recvmsg_multishot(sqe, static_cast<int>(slot), tmpl, 0);
  sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffer_group;
  sqe->user_data = user_data;
}

void Ring::PrepSendmsg(unsigned slot, const msghdr* msg, int msg_flags, unsigned sqe_flags, uint64_t user_data) {
  if (Injected(user_data)) return;
  io_uring_sqe* sqe = NextSqe();
  if (sqe_flags & kSqeZeroCopy) {
    io_uring_prep_sendmsg_zc(sqe, static_cast<int>(slot), msg, static_cast<unsigned>(msg_flags));
  } else {
    io_uring_prep_sendmsg(sqe, static_cast<int>(slot), msg, static_cast<unsigned>(msg_flags));
  }
  sqe->flags |= IOSQE_FIXED_FILE;
  if (sqe_flags & kSqeLink) sqe->flags |= IOSQE_IO_LINK;
  if (sqe_flags & kSqePollFirst) sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
  sqe->user_data = user_data;
}

void Ring::PrepCancel(uint64_t target, uint64_t user_data) {
  io_uring_sqe* sqe = NextSqe();
  io_uring_prep_cancel64(sqe, target, 0);
  sqe->user_data = user_data;
}

void Ring::PrepPollMultishot(int fd, uint32_t poll_mask, uint64_t user_data) {
  io_uring_sqe* sqe = NextSqe();
  io_uring_prep_poll_multishot(sqe, fd, poll_mask);
  sqe->user_data = user_data;
}

void Ring::PrepMsgRing(int target_ring_fd, uint64_t target_user_data, uint64_t user_data) {
  io_uring_sqe* sqe = NextSqe();
  io_uring_prep_rw(IORING_OP_MSG_RING, sqe, target_ring_fd, nullptr, 0, target_user_data);
  sqe->user_data = user_data;
}

void Ring::PrepNop(uint64_t user_data) {
  io_uring_sqe* sqe = NextSqe();
  io_uring_prep_nop(sqe);
  sqe->user_data = user_data;
}

void Ring::ReserveSqes(unsigned n) {
  if (io_uring_sq_space_left(ring_.get()) >= n) return;
  Submit();
}

int Ring::UpdateFixedFile(unsigned slot, int fd) {
  const int ret = io_uring_register_files_update(ring_.get(), slot, &fd, 1);
  return ret == 1 ? 0 : (ret < 0 ? ret : -EIO);
}

unsigned Ring::SqReady() const { return io_uring_sq_ready(ring_.get()); }

int Ring::Submit() {
  ++enter_calls_;
  return io_uring_submit(ring_.get());
}

int Ring::SubmitAndWait(unsigned wait_nr, uint64_t timeout_ns) {
  if (faults_ != nullptr && faults_->holding()) wait_nr = 0;  // held ones are due at the next reap
  ++enter_calls_;
  if (timeout_ns == 0 || wait_nr == 0) return io_uring_submit_and_wait(ring_.get(), wait_nr);
  __kernel_timespec ts = KernelTimespec(timeout_ns);
  io_uring_cqe* cqe = nullptr;
  return io_uring_submit_and_wait_timeout(ring_.get(), &cqe, wait_nr, &ts, nullptr);
}

bool Ring::min_timeout() const { return (ring_->features & kFeatMinTimeout) != 0; }

// liburing 2.3 has no minimum-timeout wait (2.8's
// io_uring_submit_and_wait_min_timeout): the queued SQEs are published as
// its own submit publishes them on a ring without SQPOLL (the SQ array is
// the identity, set at init), then one io_uring_enter2 with EXT_ARG.
int Ring::SubmitAndGather(unsigned wait_nr, uint64_t min_wait_ns, uint64_t timeout_ns) {
  if (faults_ != nullptr && faults_->holding()) return SubmitAndWait(0, 0);
  ++enter_calls_;
  io_uring_sq& sq = ring_->sq;
  if (sq.sqe_head != sq.sqe_tail) {
    sq.sqe_head = sq.sqe_tail;
    IO_URING_WRITE_ONCE(*sq.ktail, sq.sqe_tail);
  }
  const unsigned to_submit = sq.sqe_tail - IO_URING_READ_ONCE(*sq.khead);
  __kernel_timespec ts = KernelTimespec(timeout_ns);
  GeteventsArg arg{};
  arg.sigmask_sz = _NSIG / 8;
  arg.min_wait_usec = static_cast<uint32_t>(std::max<uint64_t>(1, min_wait_ns / 1000));
  if (timeout_ns > min_wait_ns) arg.ts = reinterpret_cast<uint64_t>(&ts);
  return io_uring_enter2(ring_->ring_fd, to_submit, wait_nr, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
                         reinterpret_cast<sigset_t*>(&arg), sizeof(arg));
}

uint64_t Ring::cq_dropped() const { return IO_URING_READ_ONCE(*ring_->cq.koverflow); }

unsigned Ring::Reap(absl::Span<Completion> out) {
  unsigned head;
  unsigned n = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(ring_.get(), head, cqe) {
    if (n == out.size()) break;
    out[n++] = Completion{cqe->user_data, cqe->res, cqe->flags};
  }
  io_uring_cq_advance(ring_.get(), n);
  if (IO_URING_READ_ONCE(*ring_->sq.kflags) & IORING_SQ_CQ_OVERFLOW) ++cq_overflows_;
  if (faults_ != nullptr) n = static_cast<unsigned>(faults_->OnReap(out.data(), n, out.size()));
  return n;
}

}  // namespace sctpdp
