// `sctpdp load`: see load.cc. Returns the process exit code.
#ifndef SCTPDP_TOOLS_SCTPDP_LOAD_H_
#define SCTPDP_TOOLS_SCTPDP_LOAD_H_

namespace sctpdp {
int RunLoad(int argc, char** argv);  // argv[1] == "load"
}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_LOAD_H_
