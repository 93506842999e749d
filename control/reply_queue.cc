#include "control/reply_queue.h"

#include <deque>
#include <string>
#include <variant>

namespace sctpdp {

struct ReplyQueue::Waiting {
  struct Reply {
    uint16_t stream = 0;
    uint32_t ppid = 0;
    uint16_t flags = 0;
    Retained kept;        // from its receive buffer, or
    std::string copy;     // copied when the retain budget was spent
  };
  std::deque<Reply> replies;
  bool paused = false;
};

ReplyQueue::Waiting* ReplyQueue::WaitingFor(sctp_assoc_t id, bool create) {
  void** slot = dp_->Context(id);
  if (slot == nullptr) return nullptr;
  if (*slot == nullptr && create) *slot = new Waiting;
  return static_cast<Waiting*>(*slot);
}

SendResult ReplyQueue::Echo(const MessageView& m) {
  const uint16_t flags = m.rcv_flags & SCTP_UNORDERED;
  absl::StatusOr<Retained> kept = dp_->Retain(m);
  return Send(m.assoc_id, WaitingFor(m.assoc_id, false), m.stream, m.ppid, flags, kept.ok() ? &*kept : nullptr,
              m.payload);
}

SendResult ReplyQueue::Reply(const MessageView& m, uint16_t stream, uint32_t ppid, absl::Span<const char> payload,
                             uint16_t flags) {
  return Send(m.assoc_id, WaitingFor(m.assoc_id, false), stream, ppid, flags, nullptr, payload);
}

// Sends now if nothing waits before it; else, or on backpressure, holds it.
SendResult ReplyQueue::Send(sctp_assoc_t id, Waiting* w, uint16_t stream, uint32_t ppid, uint16_t flags,
                            Retained* kept, absl::Span<const char> payload) {
  if (w == nullptr || w->replies.empty()) {
    const SendResult r = kept != nullptr ? dp_->Send(id, stream, ppid, std::move(*kept), {}, flags)
                                         : dp_->Send(id, stream, ppid, payload, flags);
    if (!IsBackpressure(r)) return r;
    w = WaitingFor(id, true);
    if (w == nullptr) {
      if (kept != nullptr) dp_->Release(std::move(*kept));
      return SendResult::kNoAssociation;
    }
  }
  Hold(id, *w, stream, ppid, flags, kept, payload);
  return SendResult::kOk;
}

void ReplyQueue::Hold(sctp_assoc_t id, Waiting& w, uint16_t stream, uint32_t ppid, uint16_t flags, Retained* kept,
                      absl::Span<const char> payload) {
  Waiting::Reply r{stream, ppid, flags, Retained(), std::string()};
  if (kept != nullptr) {
    r.kept = std::move(*kept);
  } else {
    r.copy.assign(payload.begin(), payload.end());
    copies_.fetch_add(1, std::memory_order_relaxed);
  }
  w.replies.push_back(std::move(r));
  waiting_.fetch_add(1, std::memory_order_relaxed);
  if (pause_at_ > 0 && !w.paused && w.replies.size() >= pause_at_ && dp_->PauseReceive(id).ok()) w.paused = true;
}

void ReplyQueue::OnWritable(sctp_assoc_t id) {
  Waiting* w = WaitingFor(id, false);
  if (w == nullptr) return;
  while (!w->replies.empty()) {
    Waiting::Reply& r = w->replies.front();
    const SendResult result = r.kept.valid() ? dp_->Send(id, r.stream, r.ppid, std::move(r.kept), {}, r.flags)
                                             : dp_->Send(id, r.stream, r.ppid, r.copy, r.flags);
    if (IsBackpressure(result)) return;  // the next OnWritable goes on
    w->replies.pop_front();
    waiting_.fetch_sub(1, std::memory_order_relaxed);
  }
  if (w->paused) {
    w->paused = false;
    dp_->ResumeReceive(id).IgnoreError();  // ended meanwhile: nothing to resume
  }
}

size_t ReplyQueue::OnAssociationDown(sctp_assoc_t id) {
  void** slot = dp_->Context(id);
  if (slot == nullptr || *slot == nullptr) return 0;
  Waiting* w = static_cast<Waiting*>(*slot);
  *slot = nullptr;
  const size_t dropped = w->replies.size();
  waiting_.fetch_sub(dropped, std::memory_order_relaxed);
  for (Waiting::Reply& r : w->replies) {
    if (r.kept.valid()) dp_->Release(std::move(r.kept));
  }
  delete w;
  return dropped;
}

}  // namespace sctpdp
