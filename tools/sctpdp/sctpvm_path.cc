#include "tools/sctpdp/sctpvm_path.h"

#include <unistd.h>

#include <cstdlib>
#include <vector>

namespace sctpdp {

std::string FindSctpvm(const char* argv0) {
  std::vector<std::string> candidates;
  if (const char* v = std::getenv("SCTPVM")) candidates.push_back(v);
  if (const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY")) candidates.push_back(std::string(ws) + "/tools/sctpvm");
  candidates.push_back(std::string(argv0) + ".runfiles/sctpdp/tools/sctpvm");
  candidates.push_back("tools/sctpvm");
  for (const std::string& c : candidates) {
    if (access(c.c_str(), X_OK) == 0) return c;
  }
  return "";
}

std::string PlotScript(const std::string& sctpvm, const std::string& name) {
  if (sctpvm.empty()) return "";
  return sctpvm.substr(0, sctpvm.find_last_of('/') + 1) + "plots/" + name;
}

}  // namespace sctpdp
