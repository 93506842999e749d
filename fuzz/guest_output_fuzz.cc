// Fuzzes `sctpdp regress`'s reading of a guest's output: JSON lines among
// kernel chatter, with any type, field and value. Whatever a guest printed
// (a newer bench, a broken one, a truncated console) is read or skipped,
// never a crash, and its console scan stays bounded.
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.h"
#include "tools/sctpdp/regress_boot.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  sctpdp::BootResult result;
  sctpdp::ParseGuestOutput(text, &result);
  for (const sctpdp::BenchCell& c : result.cells) (void)c;
  FUZZ_CHECK(sctpdp::ScanConsole(text, 5).size() <= 5);
  return 0;
}
