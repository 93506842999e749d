// Start-up and error logging to stderr: one line per call, "sctpdp: " first.
// Not for the hot path. SCTPDP_LOG=quiet silences it.
#ifndef SCTPDP_DATAPLANE_LOG_H_
#define SCTPDP_DATAPLANE_LOG_H_

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_format.h"

namespace sctpdp {

inline bool LogEnabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("SCTPDP_LOG");
    return v == nullptr || std::strcmp(v, "quiet") != 0;
  }();
  return enabled;
}

template <typename... Args>
void Logf(const absl::FormatSpec<Args...>& format, const Args&... args) {
  if (!LogEnabled()) return;
  std::string line = "sctpdp: " + absl::StrFormat(format, args...) + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_LOG_H_
