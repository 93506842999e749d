#include "dataplane/ring.h"

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace sctpdp {
namespace {

int TryInit(io_uring* ring, const RingOptions& options, unsigned flags) {
  io_uring_params params;
  std::memset(&params, 0, sizeof(params));
  params.flags = flags | IORING_SETUP_CQSIZE;
  params.cq_entries = options.cq_entries;
  return io_uring_queue_init_params(options.sq_entries, ring, &params);
}

}  // namespace

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
    ret = TryInit(&ring->ring_, options, candidates[i]);
    if (ret == 0) {
      ring->setup_flags_ = candidates[i];
      break;
    }
    if (ret != -EINVAL) break;  // ENOMEM, EPERM...: a flag change will not help
  }
  if (ret < 0) return absl::ErrnoToStatus(-ret, "io_uring_queue_init_params");
  if (options.fixed_files > 0) {
    ret = io_uring_register_files_sparse(&ring->ring_, options.fixed_files);
    if (ret < 0) {
      io_uring_queue_exit(&ring->ring_);
      ring->ring_.ring_fd = -1;
      return absl::ErrnoToStatus(-ret, "io_uring_register_files_sparse");
    }
  }
  return ring;
}

Ring::~Ring() {
  if (ring_.ring_fd >= 0) io_uring_queue_exit(&ring_);
}

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

io_uring_sqe* Ring::GetSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe != nullptr) return sqe;
  Submit();
  return io_uring_get_sqe(&ring_);
}

void Ring::ReserveSqes(unsigned n) {
  if (io_uring_sq_space_left(&ring_) >= n) return;
  Submit();
}

int Ring::Submit() {
  ++enter_calls_;
  return io_uring_submit(&ring_);
}

int Ring::SubmitAndWait(unsigned wait_nr, uint64_t timeout_ns) {
  ++enter_calls_;
  if (timeout_ns == 0) return io_uring_submit_and_wait(&ring_, wait_nr);
  __kernel_timespec ts;
  ts.tv_sec = static_cast<long long>(timeout_ns / 1000000000ull);
  ts.tv_nsec = static_cast<long long>(timeout_ns % 1000000000ull);
  io_uring_cqe* cqe = nullptr;
  return io_uring_submit_and_wait_timeout(&ring_, &cqe, wait_nr, &ts, nullptr);
}

}  // namespace sctpdp
