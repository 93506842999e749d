// `sctpdp serve`: see serve.cc. Returns the process exit code.
#ifndef SCTPDP_TOOLS_SCTPDP_SERVE_H_
#define SCTPDP_TOOLS_SCTPDP_SERVE_H_

namespace sctpdp {
int RunServe(int argc, char** argv);  // argv[1] == "serve"
}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_SERVE_H_
