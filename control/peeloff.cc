#include "control/peeloff.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "dataplane/log.h"

namespace sctpdp {
namespace {

int KernelPeeloffFlags(int sd, sctp_assoc_t id, unsigned flags) {
  sctp_peeloff_flags_arg_t arg{};
  arg.p_arg.associd = id;
  arg.flags = flags;
  socklen_t len = sizeof(arg);
  if (getsockopt(sd, IPPROTO_SCTP, SCTP_SOCKOPT_PEELOFF_FLAGS, &arg, &len) < 0) return -errno;
  return arg.p_arg.sd;
}

int KernelPeeloff(int sd, sctp_assoc_t id) {
  sctp_peeloff_arg_t arg{};
  arg.associd = id;
  socklen_t len = sizeof(arg);
  if (getsockopt(sd, IPPROTO_SCTP, SCTP_SOCKOPT_PEELOFF, &arg, &len) < 0) return -errno;
  return arg.sd;
}

int KernelSetNonblockCloexec(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) return -errno;
  return 0;
}

absl::Status PeeloffError(int err, sctp_assoc_t id) {
  const std::string what = absl::StrCat("peeloff of association ", id);
  switch (err) {
    case EBUSY:
      return absl::UnavailableError(absl::StrCat(what, ": busy (a sender is blocked on it); retry"));
    case EINVAL:
    case ENOENT:
      return absl::NotFoundError(absl::StrCat(what, ": no such association"));
    case EMFILE:
    case ENFILE:
      return absl::ResourceExhaustedError(
          absl::StrCat(what, ": out of descriptors (", err == EMFILE ? "EMFILE" : "ENFILE",
                       "); the kernel closed the association"));
    default:
      return absl::InternalError(absl::StrCat(what, ": ", std::strerror(err)));
  }
}

}  // namespace

const PeeloffOps& PeeloffOps::Kernel() {
  static const PeeloffOps ops{KernelPeeloffFlags, KernelPeeloff, KernelSetNonblockCloexec};
  return ops;
}

absl::StatusOr<Fd> PeelOff(int sd, sctp_assoc_t id, const PeeloffOps& ops) {
  int fd = ops.peeloff_flags(sd, id, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd >= 0) return Fd(fd);
  if (fd != -ENOPROTOOPT) return PeeloffError(-fd, id);
  static std::atomic<bool> logged{false};
  if (!logged.exchange(true)) {
    Logf("peeloff: SCTP_SOCKOPT_PEELOFF_FLAGS unsupported here; using SCTP_SOCKOPT_PEELOFF + fcntl");
  }
  fd = ops.peeloff(sd, id);
  if (fd < 0) return PeeloffError(-fd, id);
  Fd owned(fd);
  if (int err = ops.set_nonblock_cloexec(fd); err < 0) {
    return absl::InternalError(absl::StrCat("peeloff of association ", id, ": fcntl: ", std::strerror(-err)));
  }
  return owned;
}

}  // namespace sctpdp
