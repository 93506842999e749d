// Process CPU time, for serve's and load's reports.
#ifndef SCTPDP_TOOLS_SCTPDP_CPU_H_
#define SCTPDP_TOOLS_SCTPDP_CPU_H_

#include <sys/resource.h>

namespace sctpdp {

// User and system seconds of every thread of this process so far, and its
// threads' voluntary context switches (each a sleep and a wake-up). On
// loopback the system part includes the peer's receive path, run in the
// sender's softirq.
struct Cpu {
  double user = 0, sys = 0;
  long sleeps = 0;
  static Cpu Now() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return {ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6, ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6,
            ru.ru_nvcsw};
  }
  Cpu operator-(const Cpu& o) const { return {user - o.user, sys - o.sys, sleeps - o.sleeps}; }
  double total() const { return user + sys; }
};

}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_CPU_H_
