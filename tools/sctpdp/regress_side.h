// A side of `sctpdp regress`: a kernel (image and modules) with what is
// changed around it (command-line additions, sysctls, a setup command run in
// the guest before the suite), and how the command line names sides.
#ifndef SCTPDP_TOOLS_SCTPDP_REGRESS_SIDE_H_
#define SCTPDP_TOOLS_SCTPDP_REGRESS_SIDE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sctpdp {

struct Side {
  std::string name;
  // As given: the name of a kernel tools/setup.sh cached ("6.1", "6.12"), an
  // unpacked Debian package in the cache ("linux-image-6.12.117+deb12-amd64"),
  // or the path of an image (then `modules` is needed, or found beside it).
  std::string kernel;
  std::string modules;
  std::string append;                // kernel command-line additions
  std::vector<std::string> sysctls;  // "net.sctp.rto_min=100"
  std::string setup;                 // shell command run in the guest first

  // Filled by ResolveKernel.
  std::string image;    // the file to boot
  std::string release;  // what `uname -r` must say: the module tree's name
};

// The sides of argv: each starts at --side=NAME and takes the flags after it
// (--kernel, --modules, --append, --sysctl, --setup) up to the next --side.
// `args` is what follows the global flags. No sides: the two kernels setup
// installed, "6.1" and "6.12". Errors name the side and the flag.
// Sets *help when a side's --help was asked for (its usage is printed).
absl::StatusOr<std::vector<Side>> ParseSides(const std::vector<std::string>& args, bool* help);

// The help text of a side's flags.
std::string SideFlagsHelp();

// Finds the image and module tree `side` names, under `cache` for names
// (tools/setup.sh's SCTPDP_CACHE). A NotFound error says why the side cannot
// be tested (no such kernel, no module tree).
absl::Status ResolveKernel(const std::string& cache, Side* side);

// `text` quoted for a POSIX shell: '...' with each ' written as '\''.
std::string ShellQuote(const std::string& text);

}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_REGRESS_SIDE_H_
