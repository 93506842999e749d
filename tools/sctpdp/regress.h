// `sctpdp regress`: kernel A/B regression runs (see regress.cc). Returns the
// process exit code, fit for `git bisect run`.
#ifndef SCTPDP_TOOLS_SCTPDP_REGRESS_H_
#define SCTPDP_TOOLS_SCTPDP_REGRESS_H_

namespace sctpdp {

inline constexpr int kRegressOk = 0;          // no regression
inline constexpr int kRegressFound = 1;       // a regression beyond --fail-on, or a side broke
inline constexpr int kRegressUsage = 2;       // a bad flag or value
inline constexpr int kRegressSkip = 125;      // a side could not be tested (git bisect: skip)
inline constexpr int kRegressUnstable = 128;  // too noisy to tell (git bisect run: stops)

int RunRegress(int argc, char** argv);  // argv[1] == "regress"

}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_REGRESS_H_
