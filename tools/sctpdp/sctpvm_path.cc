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

std::string FindPlotScript(const char* argv0, const std::string& name) {
  std::vector<std::string> candidates = {PlotScript(FindSctpvm(argv0), name)};
  for (const char* env : {"TEST_SRCDIR", "RUNFILES_DIR"}) {
    if (const char* dir = std::getenv(env)) candidates.push_back(std::string(dir) + "/sctpdp/tools/plots/" + name);
  }
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) candidates.push_back(std::string(self, n) + ".runfiles/sctpdp/tools/plots/" + name);
  for (const std::string& c : candidates) {
    if (!c.empty() && access(c.c_str(), R_OK) == 0) return c;
  }
  return "";
}

}  // namespace sctpdp
