// PeelOff: branches one association off the one-to-many socket into its own
// non-blocking, close-on-exec descriptor.
//
// Preferred: SCTP_SOCKOPT_PEELOFF_FLAGS (what sctp_peeloff_flags() does; the
// flags are applied atomically). Fallback, where the kernel lacks it
// (ENOPROTOOPT, before 4.13): SCTP_SOCKOPT_PEELOFF, then fcntl for
// O_NONBLOCK and FD_CLOEXEC (non-atomic: a fork in between could inherit it).
//
// Errors, by what the caller must do:
//   Unavailable        EBUSY: a thread is blocked sending on the association
//                      through the one-to-many socket. Retry later.
//   NotFound           EINVAL/ENOENT: no such association (gone). Drop it.
//   ResourceExhausted  EMFILE/ENFILE: the kernel had already moved the
//                      association, then closed it: the peer sees it end.
//   Internal           anything else.
#ifndef SCTPDP_CONTROL_PEELOFF_H_
#define SCTPDP_CONTROL_PEELOFF_H_

#include <netinet/in.h>
#include <netinet/sctp.h>

#include "absl/status/statusor.h"
#include "dataplane/fd.h"

namespace sctpdp {

// The kernel calls a peeloff can make: a seam for tests. Each returns a new
// descriptor or -errno.
struct PeeloffOps {
  int (*peeloff_flags)(int sd, sctp_assoc_t id, unsigned flags);
  int (*peeloff)(int sd, sctp_assoc_t id);
  int (*set_nonblock_cloexec)(int fd);  // 0 or -errno

  static const PeeloffOps& Kernel();
};

absl::StatusOr<Fd> PeelOff(int sd, sctp_assoc_t id, const PeeloffOps& ops = PeeloffOps::Kernel());

}  // namespace sctpdp

#endif  // SCTPDP_CONTROL_PEELOFF_H_
