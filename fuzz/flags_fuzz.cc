// Fuzzes the command-line parser every sctpdp subcommand uses: arguments
// (NUL-separated in the input) against one flag of each kind. A bad
// argument is an error with a message, never a crash; what it accepts lies
// within the flag's bounds.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "fuzz/fuzz_check.h"
#include "tools/sctpdp/flags.h"

namespace {

std::vector<std::string> Split(const uint8_t* data, size_t size) {
  std::vector<std::string> args(1, "sctpdp");
  std::string current;
  for (size_t i = 0; i < size && args.size() < 64; ++i) {
    if (data[i] == 0) {
      args.push_back(current);
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  if (!current.empty()) args.push_back(current);
  return args;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args = Split(data, size);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  sctpdp::FlagParser p("usage: fuzz");
  std::string s = "x", choice = "a";
  int64_t i = 5;
  double d = 0.5;
  uint64_t bytes = 1024;
  absl::Duration dur = absl::Seconds(1), bounded = absl::Seconds(1);
  bool b = false;
  std::vector<sctpdp::Endpoint> endpoints;
  std::vector<int> cpus;
  sctpdp::MultiEndpoint connect;
  std::vector<std::string> local;
  p.String("s", &s, "a string");
  p.Int("i", &i, -10, 1000, "an int");
  p.Double("d", &d, 0.0, 1.0, "a double");
  p.Size("size", &bytes, 1, 1 << 20, "a size");
  p.Duration("dur", &dur, "a duration");
  p.Duration("bounded", &bounded, absl::Milliseconds(1), absl::Seconds(10), "a bounded duration");
  p.Bool("b", &b, "a bool");
  p.Choice("choice", &choice, {"a", "b", "c"}, "a choice");
  p.Endpoints("listen", &endpoints, "endpoints");
  p.Cpus("cpus", &cpus, "cpus");
  p.MultiEndpoint("connect", &connect, "a multi-homed peer");
  p.Addresses("local", &local, "addresses");
  const absl::Status st = p.Parse(static_cast<int>(args.size()), argv.data());
  if (!st.ok()) {
    FUZZ_CHECK(!st.message().empty());
    return 0;
  }
  FUZZ_CHECK(i >= -10 && i <= 1000);
  FUZZ_CHECK(d >= 0.0 && d <= 1.0);
  FUZZ_CHECK(bytes >= 1 && bytes <= (1 << 20));
  FUZZ_CHECK(dur > absl::ZeroDuration());
  FUZZ_CHECK(bounded >= absl::Milliseconds(1) && bounded <= absl::Seconds(10));
  FUZZ_CHECK(choice == "a" || choice == "b" || choice == "c");
  for (int cpu : cpus) FUZZ_CHECK(cpu >= 0);
  FUZZ_CHECK(connect.addresses.size() <= 16 && local.size() <= 16);
  FUZZ_CHECK(connect.addresses.empty() || connect.port > 0);
  // The value parsers on their own, as `regress` and `bench` call them.
  if (args.size() > 1) {
    (void)sctpdp::ParseSize(args[1]);
    (void)sctpdp::ParseEndpoint(args[1]);
    (void)sctpdp::ParseCpuList(args[1]);
    (void)sctpdp::ParseAddressList(args[1]);
    (void)sctpdp::ParseMultiEndpoint(args[1]);
  }
  return 0;
}
