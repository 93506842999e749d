#include "tools/sctpdp/baseline_reader.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "dataplane/sctp_parse.h"
#include "dataplane/sctp_socket.h"

namespace sctpdp {

BaselineReader::Result BaselineReader::Read(int fd, int flags) {
  Result r;
  while (true) {
    const RecvResult got = RecvWithInfo(fd, absl::MakeSpan(buf_), flags);
    counters_->syscalls.fetch_add(1, std::memory_order_relaxed);
    if (got.bytes < 0) {
      r.err = static_cast<int>(-got.bytes);
      r.kind = (r.err == EAGAIN || r.err == EINTR) ? Kind::kAgain : Kind::kError;
      return r;
    }
    if (got.bytes == 0) {
      r.kind = Kind::kEnd;
      return r;
    }
    const size_t n = static_cast<size_t>(got.bytes);
    const bool notification = got.msg_flags & MSG_NOTIFICATION;
    if ((got.msg_flags & MSG_EOR) && partial_.empty()) {
      r.kind = notification ? Kind::kNotification : Kind::kMessage;
      r.info = got.info;
      r.payload = absl::MakeConstSpan(buf_.data(), n);
      return r;
    }
    // A piece: gather until MSG_EOR (a user-space copy, counted).
    if (partial_.empty()) {
      partial_notification_ = notification;
      partial_info_ = got.info;
    }
    partial_.append(buf_.data(), n);
    counters_->copied_bytes.fetch_add(n, std::memory_order_relaxed);
    if (partial_.size() > max_) {
      r.kind = Kind::kError;
      r.err = EMSGSIZE;
      partial_.clear();
      return r;
    }
    if (got.msg_flags & MSG_EOR) {
      counters_->copies.fetch_add(1, std::memory_order_relaxed);
      r.kind = partial_notification_ ? Kind::kNotification : Kind::kMessage;
      r.info = partial_info_;
      std::memcpy(buf_.data(), partial_.data(), partial_.size());
      r.payload = absl::MakeConstSpan(buf_.data(), partial_.size());
      partial_.clear();
      return r;
    }
  }
}

bool BaselineSend(int fd, sctp_assoc_t id, uint16_t stream, uint32_t ppid, absl::Span<const char> payload,
                  BaselineCounters* counters) {
  const ssize_t n = SendWithInfo(fd, payload, stream, ppid, id, 0);
  counters->syscalls.fetch_add(1, std::memory_order_relaxed);
  if (n != static_cast<ssize_t>(payload.size())) return false;
  counters->messages_out.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace sctpdp
