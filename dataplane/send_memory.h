// SendMemory: one event loop's send-side memory in one place: its own
// SendPool, the shared ParcelPool other threads build messages in, and the
// receive buffers the application kept (Retention). It turns any of them
// into a SendPool descriptor ready for sendmsg, and gives each back where it
// came from when its send is done. Worker and OneToManyServer both send
// through it. Single-threaded: the loop's thread.
#ifndef SCTPDP_DATAPLANE_SEND_MEMORY_H_
#define SCTPDP_DATAPLANE_SEND_MEMORY_H_

#include <netinet/in.h>
#include <netinet/sctp.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "dataplane/message.h"
#include "dataplane/parcel_pool.h"
#include "dataplane/retention.h"
#include "dataplane/send_pool.h"

namespace sctpdp {

class SendMemory {
 public:
  // `parcels` may be null (then only the loop's own buffers are accepted).
  SendMemory(SendPool* pool, ParcelPool* parcels, Retention* retention)
      : pool_(pool), parcels_(parcels), retention_(retention) {}

  SendPool& pool() { return *pool_; }
  SendBuffer Acquire(size_t size) { return pool_->Acquire(size); }
  // An unsent buffer back to its pool (this loop's, or the shared one).
  void Release(SendBuffer buffer);

  // A descriptor for the message in `buffer` (its own for this loop's pool,
  // a new one pointing into a parcel); kNoDesc when none is free (the buffer
  // stays the caller's). Otherwise the buffer is consumed.
  // REQUIRES: the buffer is this loop's or a parcel of `parcels`.
  uint32_t Attach(SendBuffer& buffer);
  // A descriptor for `part` of a kept message, sent from where it arrived;
  // kNoDesc when none is free (the message stays the caller's).
  uint32_t AttachRetained(RetainedMessage& message, absl::Span<const char> part);
  // A descriptor holding a copy of `payload` in this loop's buffers; kNoDesc
  // when they are spent.
  uint32_t Copy(absl::Span<const char> payload);
  // Fills the descriptor's msghdr: payload iovecs, and for SCTP the
  // SCTP_SNDINFO (and PRINFO) control; `to` names the association on a
  // one-to-many socket (0 elsewhere).
  void Prepare(uint32_t desc, uint16_t stream, uint32_t ppid, uint16_t flags, uint32_t ttl_ms, sctp_assoc_t to,
               bool sctp);
  // A descriptor's end (sent, failed, dropped): its memory goes back.
  void Free(uint32_t desc);
  // The message of a descriptor, copied out once into memory of its own (a
  // queue handed to another owner, which sends it from there), then freed.
  OutgoingMessage TakeCopy(uint32_t desc);

 private:
  SendPool* const pool_;
  ParcelPool* const parcels_;
  Retention* const retention_;
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_SEND_MEMORY_H_
