// sctpdp: the SCTP data plane's command-line tool.
//   sctpdp serve [flags]   the appliance daemon (sink | echo | verify)
//   sctpdp load  [flags]   a load generator of SCTP associations
//   sctpdp bench [flags]   serve and load together over a matrix, with ratios
//   sctpdp regress [flags] the same suite and bench on two or more kernels, compared
//   sctpdp features        this kernel's io_uring features and ring flags (JSON)
// On a host without kernel SCTP it runs itself in the SCTP guest
// (tools/sctpvm), saying so in one line.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tools/sctpdp/bench.h"
#include "tools/sctpdp/features.h"
#include "tools/sctpdp/flags.h"
#include "tools/sctpdp/load.h"
#include "tools/sctpdp/regress.h"
#include "tools/sctpdp/sctpvm_path.h"
#include "tools/sctpdp/serve.h"

namespace {

constexpr const char* kUsage =
    "usage: sctpdp serve|load|bench|regress|features [flags]   (sctpdp SUBCOMMAND --help for its flags)\n"
    "Exit codes: 0 ok, 1 run failed, 2 bad flag or value, 3 cannot bind/connect, 4 no SCTP.\n";

bool KernelHasSctp() {
  int fd = socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP);
  if (fd < 0) return false;
  close(fd);
  return true;
}

int RunInGuest(int argc, char** argv) {
  const std::string sctpvm = sctpdp::FindSctpvm(argv[0]);
  if (sctpvm.empty()) {
    std::fprintf(stderr, "sctpdp: no kernel SCTP here and no tools/sctpvm found (set SCTPVM=path)\n");
    return sctpdp::kExitNoSctp;
  }
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return sctpdp::kExitNoSctp;
  self[n] = '\0';
  std::fprintf(stderr, "sctpdp: no kernel SCTP here: running in the SCTP guest (%s)\n", sctpvm.c_str());
  setenv("SCTPDP_IN_GUEST", "1", 1);
  std::vector<char*> args = {const_cast<char*>(sctpvm.c_str()), const_cast<char*>("--"), self};
  for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  execv(sctpvm.c_str(), args.data());
  std::fprintf(stderr, "sctpdp: exec %s: %s\n", sctpvm.c_str(), std::strerror(errno));
  return sctpdp::kExitNoSctp;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    std::printf("%s", kUsage);
    return argc < 2 ? sctpdp::kExitUsage : sctpdp::kExitOk;
  }
  const std::string cmd = argv[1];
  // These run where they are started: regress boots its own guests, and
  // features needs io_uring, not SCTP.
  if (cmd == "regress") return sctpdp::RunRegress(argc, argv);
  if (cmd == "features") return sctpdp::RunFeatures(argc, argv);
  if (cmd != "serve" && cmd != "load" && cmd != "bench") {
    std::fprintf(stderr, "sctpdp: unknown subcommand '%s'\n%s", argv[1], kUsage);
    return sctpdp::kExitUsage;
  }
  const bool help = argc > 2 && (std::strcmp(argv[2], "--help") == 0 || std::strcmp(argv[2], "-h") == 0);
  if (!help && !KernelHasSctp()) {
    if (std::getenv("SCTPDP_IN_GUEST") != nullptr) {
      std::fprintf(stderr, "sctpdp: no kernel SCTP, even in the guest\n");
      return sctpdp::kExitNoSctp;
    }
    return RunInGuest(argc, argv);
  }
  if (cmd == "bench") return sctpdp::RunBench(argc, argv);
  return cmd == "serve" ? sctpdp::RunServe(argc, argv) : sctpdp::RunLoad(argc, argv);
}
