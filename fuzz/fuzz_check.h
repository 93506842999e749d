// FUZZ_CHECK: an invariant a fuzz target holds the code under test to. A
// failure prints the condition and aborts, which libFuzzer (and the replay
// driver under the sanitizers) reports as a crash with the input saved.
#ifndef SCTPDP_FUZZ_FUZZ_CHECK_H_
#define SCTPDP_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                              \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

#endif  // SCTPDP_FUZZ_FUZZ_CHECK_H_
