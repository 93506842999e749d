// Internal to sctpdp's baseline engines: one SCTP message (or notification)
// per Read, with recvmsg into the reader's own buffer (the kernel's copy, as
// any recvmsg server has), reassembling pieces until MSG_EOR.
#ifndef SCTPDP_TOOLS_SCTPDP_BASELINE_READER_H_
#define SCTPDP_TOOLS_SCTPDP_BASELINE_READER_H_

#include <netinet/in.h>
#include <netinet/sctp.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "tools/sctpdp/engine.h"

namespace sctpdp {

struct BaselineCounters {
  std::atomic<uint64_t> messages_in{0}, bytes_in{0}, messages_out{0}, syscalls{0}, copied_bytes{0}, copies{0},
      errors{0};
  std::atomic<int64_t> associations{0};
  std::atomic<uint64_t> peeled{0};

  EngineStats Snapshot() const {
    EngineStats e;
    e.associations = static_cast<uint64_t>(std::max<int64_t>(0, associations.load()));
    e.peeled = peeled.load();
    e.messages_in = messages_in.load();
    e.bytes_in = bytes_in.load();
    e.messages_out = messages_out.load();
    e.syscalls = syscalls.load();
    e.copied_bytes = copied_bytes.load();
    e.copies = copies.load();
    e.errors = errors.load();
    return e;
  }
};

class BaselineReader {
 public:
  enum class Kind { kMessage, kNotification, kAgain, kEnd, kError };
  struct Result {
    Kind kind = Kind::kError;
    sctp_rcvinfo info{};
    absl::Span<const char> payload;
    int err = 0;
  };
  BaselineReader(size_t max_message, BaselineCounters* counters)
      : buf_(max_message + 1024), max_(max_message), counters_(counters) {}
  // flags: MSG_DONTWAIT for a non-blocking read.
  Result Read(int fd, int flags);

 private:
  std::vector<char> buf_;
  std::string partial_;
  bool partial_notification_ = false;
  sctp_rcvinfo partial_info_{};
  const size_t max_;
  BaselineCounters* const counters_;
};

// sendmsg of one message with SCTP_SNDINFO (to `id` on a one-to-many
// socket; 0 on a one-to-one socket). Counts the syscall.
bool BaselineSend(int fd, sctp_assoc_t id, uint16_t stream, uint32_t ppid, absl::Span<const char> payload,
                  BaselineCounters* counters);

}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_BASELINE_READER_H_
