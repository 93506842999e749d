// Retention: receive buffers the application keeps past its handler
// (Retain), within a budget, so the provided-buffer ring never runs dry for
// good. A kept message can be read later, sent on straight from where it
// arrived (the send path releases it when the kernel is done), or given
// back. A reassembled message is kept by taking over its reassembly.
//
// Single-threaded: the loop that received the message.
#ifndef SCTPDP_DATAPLANE_RETENTION_H_
#define SCTPDP_DATAPLANE_RETENTION_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "dataplane/buffer_ring.h"
#include "dataplane/message.h"

namespace sctpdp {

// A received message kept past its handler.
struct RetainedMessage {
  int32_t buffer_id = -1;               // a provided receive buffer, or -1
  std::unique_ptr<char[]> reassembled;  // or a reassembled message
  absl::Span<const char> payload;
  bool valid() const { return buffer_id >= 0 || reassembled != nullptr; }
};

// A retained message and the loop whose buffer holds it (the Router's shard
// index): what DataPlane::Retain hands the application.
struct Retained {
  RetainedMessage message;
  int shard = -1;
  bool valid() const { return shard >= 0 && message.valid(); }
  absl::Span<const char> payload() const { return message.payload; }
};

class Retention {
 public:
  Retention(BufferRing* buffers, unsigned budget) : buffers_(buffers), budget_(budget) {}

  // Around the handler call for `m`; `reassembly` owns its payload when it
  // was reassembled (else null). End: whether the message's buffer goes back
  // to the ring now (it was not retained).
  void Begin(const MessageView* m, std::unique_ptr<char[]>* reassembly);
  bool End();

  // REQUIRES: `m` is the message being handled.
  absl::StatusOr<RetainedMessage> Retain(const MessageView& m);
  void Release(RetainedMessage retained);
  // A kept buffer the send path is done with.
  void ReleaseBuffer(uint16_t buffer_id);

  unsigned retained() const { return retained_; }
  // Retains refused because the budget was spent.
  uint64_t refused() const { return refused_; }

 private:
  BufferRing* const buffers_;
  const unsigned budget_;
  unsigned retained_ = 0;
  uint64_t refused_ = 0;
  const MessageView* current_ = nullptr;
  std::unique_ptr<char[]>* current_reassembly_ = nullptr;
  bool current_retained_ = false;
};

}  // namespace sctpdp

#endif  // SCTPDP_DATAPLANE_RETENTION_H_
