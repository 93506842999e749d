// `sctpdp features`: this kernel's io_uring features and the ring setup flags
// the data plane chooses, as one JSON line (what `sctpdp regress` records per
// boot). Returns the process exit code.
#ifndef SCTPDP_TOOLS_SCTPDP_FEATURES_H_
#define SCTPDP_TOOLS_SCTPDP_FEATURES_H_

namespace sctpdp {
int RunFeatures(int argc, char** argv);  // argv[1] == "features"
}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_FEATURES_H_
