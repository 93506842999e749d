// SIGINT/SIGTERM for serve and load: the first asks for a clean stop (the
// caller drains and prints its summary), a second one during that stop ends
// the process at once with exit code 128 + the signal, whatever the stop is
// waiting on (a peer that stopped reading, a full stdout pipe, ...).
#ifndef SCTPDP_TOOLS_SCTPDP_SECOND_SIGNAL_H_
#define SCTPDP_TOOLS_SCTPDP_SECOND_SIGNAL_H_

#include <signal.h>

#include <thread>

namespace sctpdp {

// Blocks SIGINT, SIGTERM and SIGUSR1 (SecondSignal's wake-up) in the calling
// thread, and so in every thread it starts later. Returns {SIGINT, SIGTERM},
// the set to sigtimedwait on for the first signal.
// REQUIRES: called before any other thread starts.
sigset_t BlockStopSignals();

// Started once the first signal is taken: says on stderr that a second one
// exits at once, then waits for it on its own thread and _exits(128 + signal)
// with one line on stderr. Destroying it (the stop finished) ends the wait.
// REQUIRES: BlockStopSignals() ran before any thread started.
class SecondSignal {
 public:
  // `who`: "sctpdp serve", a string literal (the waiting thread keeps it).
  explicit SecondSignal(const char* who);
  ~SecondSignal();
  SecondSignal(const SecondSignal&) = delete;
  SecondSignal& operator=(const SecondSignal&) = delete;

 private:
  std::thread thread_;
};

}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_SECOND_SIGNAL_H_
