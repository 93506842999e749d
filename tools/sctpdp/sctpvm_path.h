// Where tools/sctpvm is, for the subcommands that run guests.
#ifndef SCTPDP_TOOLS_SCTPDP_SCTPVM_PATH_H_
#define SCTPDP_TOOLS_SCTPDP_SCTPVM_PATH_H_

#include <string>

namespace sctpdp {

// tools/sctpvm: $SCTPVM, else the workspace `bazel run` came from, else the
// runfiles next to this binary, else ./tools/sctpvm. "" when none is there.
std::string FindSctpvm(const char* argv0);

// tools/plots/NAME beside that tools/sctpvm ("" when `sctpvm` is "").
std::string PlotScript(const std::string& sctpvm, const std::string& name);

// tools/plots/NAME for this binary: beside FindSctpvm's, else in the
// runfiles of a test ($TEST_SRCDIR, $RUNFILES_DIR) or of this binary. ""
// when none is there.
std::string FindPlotScript(const char* argv0, const std::string& name);

}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_SCTPVM_PATH_H_
