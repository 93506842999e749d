#include "tools/sctpdp/features.h"

#include <sys/utsname.h>

#include <cstdio>
#include <memory>
#include <string>

#include "dataplane/ring.h"
#include "dataplane/ring_features.h"
#include "nlohmann/json.hpp"
#include "tools/sctpdp/flags.h"

namespace sctpdp {

int RunFeatures(int argc, char** argv) {
  FlagParser p(
      "usage: sctpdp features\n"
      "Prints one JSON line: the kernel release, its io_uring features (probed) and the setup flags of a\n"
      "worker's ring (what the data plane chooses on this kernel).");
  if (std::optional<int> exit = p.ParseCommand(argc, argv, 2, "sctpdp features")) return *exit;
  utsname u{};
  uname(&u);
  nlohmann::json j = {{"type", "features"}, {"release", u.release}, {"io_uring", ProbeRingFeatures().ToString()}};
  // A worker's ring: default options (SINGLE_ISSUER + DEFER_TASKRUN where the
  // kernel has them), created on this thread as a worker creates its own.
  absl::StatusOr<std::unique_ptr<Ring>> ring = Ring::Create(RingOptions{});
  if (ring.ok()) {
    j["ring_flags"] = (*ring)->SetupFlagsString();
  } else {
    j["ring_flags"] = "none";
    j["ring_error"] = std::string(ring.status().message());
  }
  std::printf("%s\n", j.dump().c_str());
  return ring.ok() ? kExitOk : kExitFailure;
}

}  // namespace sctpdp
