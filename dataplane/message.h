// The application's view of associations, messages and events. A MessageView
// points into the provided buffer the kernel wrote (zero-copy) unless the
// message spanned several buffers, in which case it points at the worker's
// reassembly of it (`copied`).
#ifndef SCTPDP_DATAPLANE_MESSAGE_H_
#define SCTPDP_DATAPLANE_MESSAGE_H_

#include <netinet/in.h>
#include <netinet/sctp.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/types/span.h"

namespace sctpdp {

// Names an association owned by a worker: stable while the association lives,
// never reused for another one (generation), cheap to copy.
struct AssocHandle {
  uint64_t value = 0;

  static constexpr AssocHandle Make(uint8_t worker, uint16_t slot, uint16_t generation) {
    return AssocHandle{(uint64_t{worker} << 32) | (uint64_t{generation} << 16) | slot};
  }
  constexpr uint8_t worker() const { return static_cast<uint8_t>(value >> 32); }
  constexpr uint16_t generation() const { return static_cast<uint16_t>(value >> 16); }
  constexpr uint16_t slot() const { return static_cast<uint16_t>(value); }
  constexpr bool valid() const { return value != 0; }
  friend constexpr bool operator==(AssocHandle a, AssocHandle b) { return a.value == b.value; }
};

struct MessageView {
  AssocHandle assoc;
  uint64_t cookie = 0;      // what the socket's adopter gave (Worker::Adopt)
  sctp_assoc_t assoc_id = 0;
  uint16_t stream = 0;
  uint16_t ssn = 0;
  uint32_t ppid = 0;        // host byte order
  uint32_t context = 0;
  uint16_t rcv_flags = 0;   // SCTP_UNORDERED, ...
  bool copied = false;      // reassembled from several buffers (one user-space copy)
  absl::Span<const char> payload;

  // Internal: which buffer holds the payload (for Retain).
  int32_t buffer_id = -1;
};

// A queued message handed from one owner's queue to the next one's (a move):
// its payload copied once, out of memory that cannot leave its thread (a
// receive buffer, the owner's send pool), into memory of its own, which the
// next owner sends from as it is (Router: no second copy). `ppid` in host
// byte order.
struct OutgoingMessage {
  uint16_t stream = 0;
  uint32_t ppid = 0;
  uint16_t flags = 0;   // SCTP_UNORDERED, ...; SCTP_EOF: a Shutdown, no payload
  uint32_t ttl_ms = 0;  // 0: reliable
  std::unique_ptr<char[]> data;
  size_t size = 0;
  absl::Span<const char> payload() const { return {data.get(), size}; }
};

// Why an association ended.
enum class DownReason : uint8_t {
  kShutdown,      // SHUTDOWN_COMP (graceful, either side)
  kCommLost,      // COMM_LOST: peer abort, or retransmissions exhausted
  kPeerClosed,    // recv returned 0 (non-SCTP sockets, or a peeled socket's EOF)
  kError,         // a receive or send error the association cannot survive
  kOversize,      // a message over max_message_size, or whose reassembly would pass
                  // max_reassembly_bytes with the thread's others: aborted
  kAborted,       // Abort() by the application
  kStopped,       // the data plane stopped
};
const char* DownReasonName(DownReason reason);

enum class SendResult : uint8_t {
  kOk,
  kQueueFull,     // the association's queue is at its limit: wait for OnWritable
  kNoBuffers,     // send memory spent: wait for OnWritable
  kTooBig,        // over max_message_size or the pool's largest message
  kNoAssociation, // stale or unknown handle or id
  kClosing,       // the association is shutting down, or the data plane stopping
  kBadStream,     // a stream the association does not have (>= its outbound streams)
  kBadFlags,      // SCTP_EOF or SCTP_ABORT: not a message's (DataPlane::Shutdown, Abort)
};
const char* SendResultName(SendResult result);
// kQueueFull and kNoBuffers: not refused, only not now. Keep the message and
// retry on OnWritable.
inline bool IsBackpressure(SendResult r) { return r == SendResult::kQueueFull || r == SendResult::kNoBuffers; }

enum SendFlags : uint16_t {
  kSendUnordered = SCTP_UNORDERED,
};

enum class EventType : uint8_t {
  kAssocChange,
  kPeerAddrChange,
  kSendFailed,
  kRemoteError,
  kShutdown,
  kPartialDelivery,
  kAdaptation,
  kAuthentication,
  kSenderDry,
  kStreamReset,
  kOther,
};

const char* EventTypeName(EventType type);

// A decoded SCTP notification (MSG_NOTIFICATION). Fields not meaningful for
// the type stay zero.
struct AssociationEvent {
  EventType type = EventType::kOther;
  uint16_t raw_type = 0;        // sn_type as the kernel sent it
  sctp_assoc_t assoc_id = 0;
  uint16_t state = 0;           // assoc change: SCTP_COMM_UP...; peer addr: SCTP_ADDR_*
  uint16_t error = 0;           // assoc change / peer addr / remote error: cause code
  uint16_t inbound_streams = 0;
  uint16_t outbound_streams = 0;
  uint32_t indication = 0;      // partial delivery: SCTP_PARTIAL_DELIVERY_ABORTED
  uint32_t send_failed_ppid = 0;
  uint16_t send_failed_stream = 0;
  uint32_t send_failed_bytes = 0;  // payload bytes that were not sent
  sockaddr_storage address{};   // peer addr change

  // True for the assoc-change states after which the association is gone.
  bool EndsAssociation() const;
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_MESSAGE_H_
