// Fuzzes the reading of one multishot recvmsg completion: the
// io_uring_recvmsg_out header, the name, the control messages
// (SCTP_RCVINFO among any others) and the payload, as the kernel lays them
// out in a provided buffer, with a notification decoded when the flags say
// one arrived whole. Input: one byte choosing the name length, one choosing
// the control length the SQE was armed with, then the buffer's bytes (the
// completion's result is their count).
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <memory>

#include "dataplane/sctp_parse.h"
#include "fuzz/fuzz_check.h"

namespace {

unsigned ControlLength(uint8_t choice) {
  switch (choice % 4) {
    case 0: return 0;
    case 1: return sctpdp::kRecvControlBytes;  // what a worker arms
    case 2: return CMSG_SPACE(0);
    default: return 256;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  msghdr tmpl{};
  tmpl.msg_namelen = (data[0] & 1) ? sizeof(sockaddr_in6) : 0;
  tmpl.msg_controllen = ControlLength(data[1]);
  data += 2;
  size -= 2;
  // Exactly `size` bytes on the heap: a read past the completion is a
  // sanitizer report, not a quiet read of the next buffer.
  std::unique_ptr<char[]> buf(new char[size > 0 ? size : 1]);
  if (size > 0) std::memcpy(buf.get(), data, size);
  absl::StatusOr<sctpdp::RecvParts> parts = sctpdp::ParseRecvmsgOut(buf.get(), static_cast<int>(size), tmpl);
  if (!parts.ok()) return 0;
  const char* begin = buf.get();
  const char* end = buf.get() + size;
  FUZZ_CHECK(parts->payload.empty() || (parts->payload.data() >= begin && parts->payload.data() <= end));
  FUZZ_CHECK(parts->payload.size() <= static_cast<size_t>(end - parts->payload.data()));
  const sctpdp::MessageView m = sctpdp::ViewOf(*parts, 0, parts->payload, false);
  FUZZ_CHECK(m.payload.size() == parts->payload.size());
  if ((parts->msg_flags & MSG_NOTIFICATION) && (parts->msg_flags & MSG_EOR)) {
    absl::StatusOr<sctpdp::AssociationEvent> ev = sctpdp::DecodeNotification(parts->payload);
    if (ev.ok()) (void)sctpdp::EventTypeName(ev->type);
  }
  return 0;
}
