#include "tools/sctpdp/baseline_reader.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "dataplane/sctp_parse.h"

namespace sctpdp {

BaselineReader::Result BaselineReader::Read(int fd, int flags) {
  Result r;
  while (true) {
    alignas(cmsghdr) char control[kRecvControlBytes];
    iovec iov{buf_.data(), buf_.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = recvmsg(fd, &msg, flags);
    counters_->syscalls.fetch_add(1, std::memory_order_relaxed);
    if (n < 0) {
      r.err = errno;
      r.kind = (errno == EAGAIN || errno == EINTR) ? Kind::kAgain : Kind::kError;
      return r;
    }
    if (n == 0) {
      r.kind = Kind::kEnd;
      return r;
    }
    sctp_rcvinfo info{};
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_SCTP && c->cmsg_type == SCTP_RCVINFO) std::memcpy(&info, CMSG_DATA(c), sizeof(info));
    }
    const bool notification = msg.msg_flags & MSG_NOTIFICATION;
    if ((msg.msg_flags & MSG_EOR) && partial_.empty()) {
      r.kind = notification ? Kind::kNotification : Kind::kMessage;
      r.info = info;
      r.payload = absl::MakeConstSpan(buf_.data(), n);
      return r;
    }
    // A piece: gather until MSG_EOR (a user-space copy, counted).
    if (partial_.empty()) {
      partial_notification_ = notification;
      partial_info_ = info;
    }
    partial_.append(buf_.data(), n);
    counters_->copied_bytes.fetch_add(n, std::memory_order_relaxed);
    if (partial_.size() > max_) {
      r.kind = Kind::kError;
      r.err = EMSGSIZE;
      partial_.clear();
      return r;
    }
    if (msg.msg_flags & MSG_EOR) {
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
  alignas(cmsghdr) char control[kSendControlBytes];
  iovec iov{const_cast<char*>(payload.data()), payload.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  FillSendControl(&msg, control, stream, ppid, 0, 0, id);
  const ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
  counters->syscalls.fetch_add(1, std::memory_order_relaxed);
  if (n != static_cast<ssize_t>(payload.size())) return false;
  counters->messages_out.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace sctpdp
