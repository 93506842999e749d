// Internal to sctpdp's baseline engines: one SCTP message (or notification)
// per Read, with recvmsg into the reader's own buffer (the kernel's copy, as
// any recvmsg server has), reassembling pieces until MSG_EOR; the limits
// every engine keeps (message size, association count) and the ABORT that
// enforces them.
#ifndef SCTPDP_TOOLS_SCTPDP_BASELINE_READER_H_
#define SCTPDP_TOOLS_SCTPDP_BASELINE_READER_H_

#include <netinet/in.h>
#include <netinet/sctp.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "absl/types/span.h"
#include "tools/sctpdp/engine.h"

namespace sctpdp {

struct BaselineCounters {
  std::atomic<uint64_t> messages_in{0}, bytes_in{0}, messages_out{0}, syscalls{0}, copied_bytes{0}, copies{0},
      errors{0}, oversize_messages{0}, rejected{0}, discarded{0}, replies_dropped{0};
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
    e.oversize_messages = oversize_messages.load();
    e.rejected = rejected.load();
    e.discarded = discarded.load();
    e.replies_dropped = replies_dropped.load();
    return e;
  }
};

class BaselineReader {
 public:
  // kOversize: a message over max_message (info names its association); none
  // of it is delivered, the rest of its pieces are dropped as they come, and
  // the caller aborts the association (BaselineAbort).
  enum class Kind { kMessage, kNotification, kAgain, kEnd, kError, kOversize };
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
  enum class Step { kMore, kDone };
  Step OnData(size_t n, int msg_flags, const sctp_rcvinfo& info, Result& r);
  Step OnNotification(size_t n, int msg_flags, Result& r);
  bool Discarding(sctp_assoc_t id) const;
  void DropPartial();  // a partial message that can no longer complete

  std::vector<char> buf_;
  std::string partial_;  // a data message's pieces so far
  sctp_rcvinfo partial_info_{};
  std::string note_;     // a notification's pieces so far
  std::vector<sctp_assoc_t> discarding_;  // associations whose oversize message's pieces are being dropped
  const size_t max_;
  BaselineCounters* const counters_;
};

// The live associations of a baseline engine, at most `max`: an association
// over the limit is refused at COMM_UP (the caller aborts it). Keeps
// counters->associations. Thread-safe.
class AssociationLimit {
 public:
  // `max_per_peer`: at once from one primary peer address (0: no limit).
  AssociationLimit(size_t max, size_t max_per_peer, BaselineCounters* counters)
      : max_(max), max_per_peer_(max_per_peer ? max_per_peer : SIZE_MAX), counters_(counters) {}
  // False: over either limit, counted as rejected.
  bool Admit(sctp_assoc_t id, const std::string& peer);
  // Whether it was live (a refused one never was).
  bool End(sctp_assoc_t id);
  bool Live(sctp_assoc_t id) const;

 private:
  const size_t max_, max_per_peer_;
  BaselineCounters* const counters_;
  mutable std::mutex mu_;
  std::unordered_map<sctp_assoc_t, std::string> live_;  // guarded by mu_: by id, its peer
  std::unordered_map<std::string, size_t> per_peer_;    // guarded by mu_
};

// sendmsg of one message with SCTP_SNDINFO (to `id` on a one-to-many
// socket; 0 on a one-to-one socket), `flags` as sendmsg's (MSG_DONTWAIT).
// Counts the syscall and the message sent. 0, or the errno.
int BaselineSend(int fd, sctp_assoc_t id, uint16_t stream, uint32_t ppid, absl::Span<const char> payload, int flags,
                 BaselineCounters* counters);

// Association `id`'s primary peer address on one-to-many socket `fd` ("" if
// unknown), as the data plane names it.
std::string PrimaryPeerAddress(int fd, sctp_assoc_t id);

// Sends an ABORT to association `id` (0 on a one-to-one socket). Counted.
void BaselineAbort(int fd, sctp_assoc_t id, BaselineCounters* counters);

}  // namespace sctpdp

#endif  // SCTPDP_TOOLS_SCTPDP_BASELINE_READER_H_
