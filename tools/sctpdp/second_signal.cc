#include "tools/sctpdp/second_signal.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>

namespace sctpdp {

sigset_t BlockStopSignals() {
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  return stop;
}

SecondSignal::SecondSignal(const char* who) {
  std::fprintf(stderr, "%s: stopping (SIGINT/SIGTERM again exits at once)\n", who);
  std::fflush(stderr);
  thread_ = std::thread([who] {
    sigset_t wait;
    sigemptyset(&wait);
    sigaddset(&wait, SIGINT);
    sigaddset(&wait, SIGTERM);
    sigaddset(&wait, SIGUSR1);
    int sig = 0;
    while (sigwait(&wait, &sig) != 0) {
    }
    if (sig == SIGUSR1) return;  // the stop finished: ~SecondSignal
    // write(2), not stdio: the thread being waited for may hold stderr's lock.
    char line[128];
    const int n = std::snprintf(line, sizeof(line), "%s: second %s: exiting at once\n", who,
                                sig == SIGINT ? "SIGINT" : "SIGTERM");
    if (n > 0 && write(STDERR_FILENO, line, static_cast<size_t>(n)) < 0) {
      // Nothing to do: exiting anyway.
    }
    // The exit_group system call itself, not _exit(): ThreadSanitizer's
    // _exit interceptor finalizes first and waited forever on a lock while
    // the main thread was blocked writing to a full stdout pipe.
    syscall(SYS_exit_group, 128 + sig);
  });
}

SecondSignal::~SecondSignal() {
  pthread_kill(thread_.native_handle(), SIGUSR1);  // directed at the thread: only its sigwait takes it
  thread_.join();
}

}  // namespace sctpdp
