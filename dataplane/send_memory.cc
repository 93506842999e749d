#include "dataplane/send_memory.h"

#include <cstring>

#include "absl/base/internal/raw_logging.h"

namespace sctpdp {

void SendMemory::Release(SendBuffer buffer) {
  if (buffer.parcels() != nullptr) {
    buffer.parcels()->Release(std::move(buffer));
  } else {
    pool_->Release(std::move(buffer));
  }
}

uint32_t SendMemory::Attach(SendBuffer& buffer) {
  if (buffer.pool() == pool_) {
    const uint32_t id = buffer.id();
    buffer = SendBuffer();
    return id;
  }
  ABSL_RAW_CHECK(buffer.parcels() != nullptr && buffer.parcels() == parcels_, "send: a buffer of another loop's pool");
  iovec iov[kMaxSendSegments];
  const unsigned n = parcels_->Iovecs(buffer.id(), iov);
  const uint32_t id = pool_->Attach(absl::MakeConstSpan(iov, n), Payload::kParcel, buffer.id());
  if (id != kNoDesc) buffer = SendBuffer();
  return id;
}

uint32_t SendMemory::AttachRetained(RetainedMessage& message, absl::Span<const char> part) {
  if (!pool_->has_free_desc()) return kNoDesc;
  const iovec iov{const_cast<char*>(part.data()), part.size()};
  const uint32_t id = message.buffer_id >= 0
                          ? pool_->Attach(absl::MakeConstSpan(&iov, 1), Payload::kRecvBuffer,
                                          static_cast<uint32_t>(message.buffer_id))
                          : pool_->Attach(absl::MakeConstSpan(&iov, 1), Payload::kHeap, 0,
                                          std::move(message.reassembled));
  message = RetainedMessage();
  return id;
}

uint32_t SendMemory::Copy(absl::Span<const char> payload) {
  SendBuffer b = pool_->Acquire(payload.size());
  if (!b.valid()) return kNoDesc;
  b.Write(0, payload);
  return Attach(b);
}

void SendMemory::Prepare(uint32_t desc, uint16_t stream, uint32_t ppid, uint16_t flags, uint32_t ttl_ms,
                         sctp_assoc_t to, bool sctp) {
  SendDesc& d = pool_->desc(desc);
  std::memset(&d.msg, 0, sizeof(d.msg));
  d.msg.msg_iov = d.iov;
  d.msg.msg_iovlen = d.segments;
  d.to = to;
  d.stream = stream;
  d.sctp_flags = flags;
  d.ppid = ppid;
  d.ttl_ms = ttl_ms;
  if (sctp) FillSendControl(&d.msg, d.control, stream, ppid, flags, ttl_ms, to);
}

void SendMemory::Free(uint32_t desc) {
  ExternalPayload e = pool_->Free(desc);
  switch (e.kind) {
    case Payload::kParcel:
      parcels_->Release(e.external);
      break;
    case Payload::kRecvBuffer:
      retention_->ReleaseBuffer(static_cast<uint16_t>(e.external));
      break;
    case Payload::kPool:
    case Payload::kHeap:
      break;
  }
}

OutgoingMessage SendMemory::TakeCopy(uint32_t desc) {
  const SendDesc& d = pool_->desc(desc);
  OutgoingMessage m{d.stream, d.ppid, d.sctp_flags, d.ttl_ms, std::unique_ptr<char[]>(new char[d.length]),
                    d.length};
  size_t at = 0;
  for (unsigned i = 0; i < d.segments; ++i) {
    ABSL_RAW_CHECK(at + d.iov[i].iov_len <= d.length, "SendMemory::TakeCopy: segments past the length");
    std::memcpy(m.data.get() + at, d.iov[i].iov_base, d.iov[i].iov_len);
    at += d.iov[i].iov_len;
  }
  Free(desc);
  return m;
}

}  // namespace sctpdp
