// Fuzzes the decoding of one whole SCTP notification (MSG_NOTIFICATION with
// MSG_EOR): every type the kernel sends, with lengths that lie about the
// body, truncated bodies, unknown types and trailing bytes.
#include <cstdint>
#include <cstring>
#include <memory>

#include "dataplane/sctp_parse.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<char[]> bytes(new char[size > 0 ? size : 1]);
  if (size > 0) std::memcpy(bytes.get(), data, size);
  absl::StatusOr<sctpdp::AssociationEvent> ev =
      sctpdp::DecodeNotification(absl::MakeConstSpan(bytes.get(), size));
  if (!ev.ok()) {
    FUZZ_CHECK(!ev.status().message().empty());  // an error says what was wrong
    return 0;
  }
  FUZZ_CHECK(sctpdp::EventTypeName(ev->type) != nullptr);
  (void)ev->EndsAssociation();
  return 0;
}
