#include "control/association_table.h"

namespace sctpdp {

const char* LocationName(Location location) {
  switch (location) {
    case Location::kControl: return "control";
    case Location::kMoving: return "moving";
    case Location::kWorker: return "worker";
  }
  return "unknown";
}

bool AssociationTable::Add(const AssociationInfo& info) {
  std::lock_guard<std::mutex> l(mu_);
  if (entries_.size() >= max_ || entries_.count(info.id)) return false;
  entries_[info.id].info = info;
  return true;
}

std::optional<AssociationInfo> AssociationTable::Get(sctp_assoc_t id) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return it->second.info;
}

std::optional<sctp_assoc_t> AssociationTable::FindByHandle(AssocHandle handle) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = by_handle_.find(handle.value);
  if (it == by_handle_.end()) return std::nullopt;
  return it->second;
}

std::optional<AssociationInfo> AssociationTable::Remove(sctp_assoc_t id) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  AssociationInfo info = it->second.info;
  if (info.handle.valid()) by_handle_.erase(info.handle.value);
  entries_.erase(it);
  return info;
}

size_t AssociationTable::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return entries_.size();
}

bool AssociationTable::full() const {
  std::lock_guard<std::mutex> l(mu_);
  return entries_.size() >= max_;
}

std::vector<AssociationInfo> AssociationTable::List() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<AssociationInfo> out;
  out.reserve(entries_.size());
  for (const auto& [id, e] : entries_) out.push_back(e.info);
  return out;
}

AssociationTable::Counts AssociationTable::CountByLocation() const {
  std::lock_guard<std::mutex> l(mu_);
  Counts c;
  for (const auto& [id, e] : entries_) {
    if (e.info.location == Location::kControl) {
      ++c.on_control;
    } else {
      ++c.elsewhere;
    }
  }
  return c;
}

void AssociationTable::CountControlMessage(sctp_assoc_t id, uint64_t bytes) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  ++it->second.info.messages_in_control;
  it->second.info.bytes_in_control += bytes;
}

AssociationTable::RouteResult AssociationTable::RouteSend(
    sctp_assoc_t id, const SendView& send, size_t outbox_limit,
    absl::FunctionRef<bool(const AssociationInfo&)> may_send_here,
    absl::FunctionRef<bool(const AssociationInfo&, const SendView&)> send_here) {
  std::lock_guard<std::mutex> l(mu_);
  RouteResult r;
  auto it = entries_.find(id);
  if (it == entries_.end()) return r;
  Entry& e = it->second;
  r.location = e.info.location;
  r.worker = e.info.worker;
  r.handle = e.info.handle;
  if (e.info.outbound_streams != 0 && send.stream >= e.info.outbound_streams) {
    r.route = Route::kBadStream;  // the kernel would refuse it (EINVAL)
    return r;
  }
  if (e.outbox.empty() && e.info.location != Location::kMoving && may_send_here(e.info)) {
    send_here(e.info, send);
    r.route = Route::kSent;
    return r;
  }
  if (e.outbox.size() >= outbox_limit) {
    e.refused = true;
    e.outbox_limit = outbox_limit;
    r.route = Route::kFull;
    return r;
  }
  e.outbox.push_back(PendingSend{send.stream, send.ppid, send.flags, send.ttl_ms,
                                 std::string(send.payload.begin(), send.payload.end())});
  r.route = Route::kQueued;
  return r;
}

std::optional<AssociationInfo> AssociationTable::SetReceivePaused(sctp_assoc_t id, bool paused) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  it->second.info.receive_paused = paused;
  return it->second.info;
}

bool AssociationTable::FlushLocked(Entry& e, const SendFn& send) {
  while (!e.outbox.empty()) {
    if (!send(e.info, ViewOf(e.outbox.front()))) break;  // not now: keep it, in order
    e.outbox.pop_front();
  }
  if (e.refused && e.outbox.size() <= e.outbox_limit / 2) {
    e.refused = false;
    return true;
  }
  return false;
}

bool AssociationTable::Flush(sctp_assoc_t id, Location where, int worker, const SendFn& send) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.info.location != where || it->second.info.worker != worker) return false;
  return FlushLocked(it->second, send);
}

std::vector<sctp_assoc_t> AssociationTable::WithOutbox(Location where, int worker) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<sctp_assoc_t> out;
  for (const auto& [id, e] : entries_) {
    if (!e.outbox.empty() && e.info.location == where && e.info.worker == worker) out.push_back(id);
  }
  return out;
}

bool AssociationTable::StartMove(sctp_assoc_t id, int worker, double messages_per_sec,
                                 std::vector<PendingSend> older, absl::Time now) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.info.location != Location::kControl) return false;
  std::deque<PendingSend>& outbox = it->second.outbox;
  outbox.insert(outbox.begin(), std::make_move_iterator(older.begin()), std::make_move_iterator(older.end()));
  it->second.info.location = Location::kMoving;
  it->second.info.worker = worker;
  it->second.info.messages_per_sec_at_move = messages_per_sec;
  it->second.info.move_decided_at = now;
  return true;
}

void AssociationTable::AbortMove(sctp_assoc_t id) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.info.location != Location::kMoving) return;
  // Sends queued meanwhile stay in the outbox; the control thread flushes it.
  it->second.info.location = Location::kControl;
  it->second.info.worker = -1;
}

std::optional<AssociationTable::Landed> AssociationTable::FinishMove(sctp_assoc_t id, AssocHandle handle,
                                                                    absl::Time now, const SendFn& send) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.info.location != Location::kMoving) return std::nullopt;
  Entry& e = it->second;
  e.info.location = Location::kWorker;
  e.info.handle = handle;
  e.info.moved_at = now;
  by_handle_[handle.value] = id;
  return Landed{FlushLocked(e, send), e.info.receive_paused};
}

std::vector<WorkerLoad> AssociationTable::Loads(size_t workers) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<WorkerLoad> out(workers);
  for (const auto& [id, e] : entries_) {
    if (e.info.location == Location::kControl || e.info.worker < 0 || size_t(e.info.worker) >= workers) continue;
    ++out[e.info.worker].peeled;
    out[e.info.worker].messages_per_sec += e.info.messages_per_sec_at_move;
  }
  return out;
}

}  // namespace sctpdp
