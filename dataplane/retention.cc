#include "dataplane/retention.h"

#include "absl/strings/str_cat.h"

namespace sctpdp {

void Retention::Begin(const MessageView* m, std::unique_ptr<char[]>* reassembly) {
  current_ = m;
  current_reassembly_ = reassembly;
  current_retained_ = false;
}

bool Retention::End() {
  const bool recycle = current_ != nullptr && current_->buffer_id >= 0 && !current_retained_;
  current_ = nullptr;
  current_reassembly_ = nullptr;
  return recycle;
}

absl::StatusOr<RetainedMessage> Retention::Retain(const MessageView& m) {
  if (current_ == nullptr || m.assoc.value != current_->assoc.value || m.payload.data() != current_->payload.data()) {
    return absl::FailedPreconditionError("Retain: only the message being handled can be retained");
  }
  RetainedMessage out;
  out.payload = m.payload;
  if (m.buffer_id < 0) {
    // A reassembled message: hand over the reassembly itself.
    if (current_reassembly_ == nullptr || *current_reassembly_ == nullptr) {
      return absl::FailedPreconditionError("Retain: already retained");
    }
    out.reassembled = std::move(*current_reassembly_);
    return out;
  }
  if (current_retained_) return absl::FailedPreconditionError("Retain: already retained");
  if (retained_ >= budget_) {
    ++refused_;
    return absl::ResourceExhaustedError(absl::StrCat("Retain: retain_budget of ", budget_, " buffers spent"));
  }
  ++retained_;
  current_retained_ = true;
  out.buffer_id = m.buffer_id;
  return out;
}

void Retention::Release(RetainedMessage retained) {
  if (retained.buffer_id >= 0) ReleaseBuffer(static_cast<uint16_t>(retained.buffer_id));
  // A reassembled copy frees itself.
}

void Retention::ReleaseBuffer(uint16_t buffer_id) {
  buffers_->Recycle(buffer_id);
  --retained_;
}

}  // namespace sctpdp
