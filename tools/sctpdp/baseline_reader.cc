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
      if (r.kind == Kind::kError) DropPartial();
      return r;
    }
    if (got.bytes == 0) {
      DropPartial();  // the association ended mid-message
      r.kind = Kind::kEnd;
      return r;
    }
    const size_t n = static_cast<size_t>(got.bytes);
    const Step step = (got.msg_flags & MSG_NOTIFICATION) ? OnNotification(n, got.msg_flags, r)
                                                         : OnData(n, got.msg_flags, got.info, r);
    if (step == Step::kDone) return r;
  }
}

BaselineReader::Step BaselineReader::OnData(size_t n, int msg_flags, const sctp_rcvinfo& info, Result& r) {
  const bool eor = msg_flags & MSG_EOR;
  if (Discarding(info.rcv_assoc_id)) {  // the rest of an oversize message: dropped
    if (eor) discarding_.erase(std::find(discarding_.begin(), discarding_.end(), info.rcv_assoc_id));
    return Step::kMore;
  }
  // With fragment interleave level 0 (the default) a partial delivery is never
  // interleaved; if it were, the dead piece goes.
  if (!partial_.empty() && info.rcv_assoc_id != partial_info_.rcv_assoc_id) DropPartial();
  if (partial_.size() + n > max_) {  // over the limit: none of it is delivered
    counters_->oversize_messages.fetch_add(1, std::memory_order_relaxed);
    r.kind = Kind::kOversize;
    r.info = partial_.empty() ? info : partial_info_;
    partial_.clear();
    if (!eor) discarding_.push_back(r.info.rcv_assoc_id);
    return Step::kDone;
  }
  r.kind = Kind::kMessage;
  if (eor && partial_.empty()) {
    r.info = info;
    r.payload = absl::MakeConstSpan(buf_.data(), n);
    return Step::kDone;
  }
  // A piece: gather until MSG_EOR (a user-space copy, counted).
  if (partial_.empty()) partial_info_ = info;
  partial_.append(buf_.data(), n);
  counters_->copied_bytes.fetch_add(n, std::memory_order_relaxed);
  if (!eor) return Step::kMore;
  counters_->copies.fetch_add(1, std::memory_order_relaxed);
  r.info = partial_info_;
  std::memcpy(buf_.data(), partial_.data(), partial_.size());
  r.payload = absl::MakeConstSpan(buf_.data(), partial_.size());
  partial_.clear();
  return Step::kDone;
}

// A whole notification is delivered at once, even between a data message's
// pieces (PARTIAL_DELIVERY_EVENT comes exactly then).
BaselineReader::Step BaselineReader::OnNotification(size_t n, int msg_flags, Result& r) {
  absl::Span<const char> bytes(buf_.data(), n);
  if (!note_.empty() || !(msg_flags & MSG_EOR)) {
    note_.append(buf_.data(), n);
    counters_->copied_bytes.fetch_add(n, std::memory_order_relaxed);
    if (note_.size() > buf_.size()) {  // bigger than any message we send back: not ours to read
      note_.clear();
      counters_->errors.fetch_add(1, std::memory_order_relaxed);
      return Step::kMore;
    }
    if (!(msg_flags & MSG_EOR)) return Step::kMore;
    counters_->copies.fetch_add(1, std::memory_order_relaxed);
    std::memcpy(buf_.data(), note_.data(), note_.size());
    bytes = absl::MakeConstSpan(buf_.data(), note_.size());
    note_.clear();
  }
  absl::StatusOr<AssociationEvent> ev = DecodeNotification(bytes);
  if (ev.ok()) {
    // A partial delivery that can no longer complete: what was gathered goes.
    if (!partial_.empty() && ev->assoc_id == partial_info_.rcv_assoc_id &&
        (ev->type == EventType::kPartialDelivery || ev->EndsAssociation())) {
      DropPartial();
    }
    auto it = std::find(discarding_.begin(), discarding_.end(), ev->assoc_id);
    if (ev->EndsAssociation() && it != discarding_.end()) discarding_.erase(it);
  }
  r.kind = Kind::kNotification;
  r.payload = bytes;
  return Step::kDone;
}

bool BaselineReader::Discarding(sctp_assoc_t id) const {
  return std::find(discarding_.begin(), discarding_.end(), id) != discarding_.end();
}

void BaselineReader::DropPartial() {
  if (partial_.empty()) return;
  partial_.clear();
  counters_->discarded.fetch_add(1, std::memory_order_relaxed);
}

bool AssociationLimit::Admit(sctp_assoc_t id, const std::string& peer) {
  std::lock_guard<std::mutex> l(mu_);
  size_t& from_peer = per_peer_[peer];
  if (live_.size() >= max_ || from_peer >= max_per_peer_) {
    if (from_peer == 0) per_peer_.erase(peer);
    counters_->rejected.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  ++from_peer;
  live_.emplace(id, peer);
  counters_->associations.store(static_cast<int64_t>(live_.size()), std::memory_order_relaxed);
  return true;
}

bool AssociationLimit::End(sctp_assoc_t id) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = live_.find(id);
  const bool was = it != live_.end();
  if (was) {
    auto peer = per_peer_.find(it->second);
    if (peer != per_peer_.end() && --peer->second == 0) per_peer_.erase(peer);
    live_.erase(it);
  }
  counters_->associations.store(static_cast<int64_t>(live_.size()), std::memory_order_relaxed);
  return was;
}

bool AssociationLimit::Live(sctp_assoc_t id) const {
  std::lock_guard<std::mutex> l(mu_);
  return live_.count(id) > 0;
}

std::string PrimaryPeerAddress(int fd, sctp_assoc_t id) {
  absl::StatusOr<std::vector<SocketAddress>> addrs = AssociationAddresses(fd, id, /*peer=*/true);
  return addrs.ok() && !addrs->empty() ? AddressString((*addrs)[0].get()) : std::string();
}

int BaselineSend(int fd, sctp_assoc_t id, uint16_t stream, uint32_t ppid, absl::Span<const char> payload, int flags,
                 BaselineCounters* counters) {
  const ssize_t n = SendWithInfo(fd, payload, stream, ppid, id, flags);
  const int err = n < 0 ? errno : EMSGSIZE;
  counters->syscalls.fetch_add(1, std::memory_order_relaxed);
  if (n != static_cast<ssize_t>(payload.size())) return err;
  counters->messages_out.fetch_add(1, std::memory_order_relaxed);
  return 0;
}

void BaselineAbort(int fd, sctp_assoc_t id, BaselineCounters* counters) {
  SendSctpFlag(fd, SCTP_ABORT, id);
  counters->syscalls.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace sctpdp
