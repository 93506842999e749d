// `sctpdp bench`: see bench.cc. Returns the process exit code.
#ifndef SCTPDP_TOOLS_SCTPDP_BENCH_H_
#define SCTPDP_TOOLS_SCTPDP_BENCH_H_

namespace sctpdp {
int RunBench(int argc, char** argv);  // argv[1] == "bench"
}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_BENCH_H_
