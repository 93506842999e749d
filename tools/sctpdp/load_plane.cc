#include "tools/sctpdp/load_plane.h"

#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace sctpdp {
namespace {

// Writes `head` at the start of `buffer` (acquired for `id`) and sends it;
// a buffer the send did not consume (backpressure) goes back to its pool.
SendResult SendInPlace(DataPlane& dp, sctp_assoc_t id, uint16_t stream, uint32_t ppid, SendBuffer buffer,
                       absl::Span<const char> head) {
  buffer.Write(0, head.subspan(0, std::min(head.size(), buffer.size())));
  const SendResult r = dp.Send(id, stream, ppid, std::move(buffer));
  if (IsBackpressure(r)) dp.Release(std::move(buffer));  // not consumed
  return r;
}

// A sending thread's way out through the data plane: each message is built
// in a send buffer (its owner's own memory when this thread owns the
// association, else a shared parcel) and handed over without a copy; the
// owner's worker bundles what queues up. Echoes arrive on the data plane's
// threads (LoadPlane::OnMessage), which wake this sender.
class PlaneLink final : public Link {
 public:
  PlaneLink(DataPlane& dp, Waker& waker) : dp_(dp), waker_(waker) {}

  Sent Send(Association& a, uint16_t stream, uint32_t ppid, size_t size, absl::Span<const char> head,
            bool) override {
    SendBuffer buffer = dp_.AcquireSendBuffer(a.id, size);
    if (!buffer.valid()) return Refused(a, SendResult::kNoBuffers);
    // Raised before the send: an OnWritable that follows a refusal lowers
    // it, wherever it runs.
    a.blocked.store(true, std::memory_order_seq_cst);
    const SendResult r = SendInPlace(dp_, a.id, stream, ppid, std::move(buffer), head);
    if (r == SendResult::kOk) {
      a.blocked.store(false, std::memory_order_relaxed);
      return Sent::kOk;
    }
    return Refused(a, r);
  }

  void Wait(int64_t wait_ns) override { waker_.Sleep(wait_ns); }

 private:
  Sent Refused(Association& a, SendResult r) {
    if (IsBackpressure(r)) {
      a.blocked.store(true, std::memory_order_seq_cst);
      return Sent::kBlocked;
    }
    a.blocked.store(false, std::memory_order_relaxed);
    std::fprintf(stderr, "sctpdp load: association %d: send refused: %s\n", a.id, SendResultName(r));
    return Sent::kFailed;
  }

  DataPlane& dp_;
  Waker& waker_;
};

// A message of `size` bytes starting with `head`, built in a buffer of the
// owner's (this thread's) and sent from there. With the owner's send
// memory spent it goes through Send(payload), whose refusal (kNoBuffers)
// is what arms OnWritable.
SendResult SendBuilt(DataPlane& dp, sctp_assoc_t id, uint16_t stream, uint32_t ppid, size_t size,
                     absl::Span<const char> head) {
  SendBuffer buffer = dp.AcquireSendBuffer(id, size);
  if (!buffer.valid()) {
    thread_local std::vector<char> scratch;
    scratch.resize(size);
    std::memcpy(scratch.data(), head.data(), std::min(head.size(), size));
    return dp.Send(id, stream, ppid, absl::MakeConstSpan(scratch.data(), size));
  }
  return SendInPlace(dp, id, stream, ppid, std::move(buffer), head);
}

}  // namespace

std::unique_ptr<LoadPlane> LoadPlane::Open(const LoadFlags& f, std::vector<Association>& all,
                                           std::vector<Progress>& progress, int* exit) {
  std::unique_ptr<LoadPlane> plane(new LoadPlane(f, all, progress));
  absl::StatusOr<std::unique_ptr<DataPlane>> dp = DataPlane::Create(plane->Options(), plane.get());
  absl::Status started = dp.ok() ? (*dp)->Start() : dp.status();
  if (!started.ok()) {
    std::fprintf(stderr, "sctpdp load: the data plane: %s\n", started.ToString().c_str());
    *exit = kExitFailure;
    return nullptr;
  }
  plane->dp_ = *std::move(dp);
  if (std::optional<int> failed = plane->ConnectAll()) {
    *exit = *failed;
    plane->Stop();
    return nullptr;
  }
  return plane;
}

LoadPlane::~LoadPlane() { Stop(); }

DataPlaneOptions LoadPlane::Options() const {
  DataPlaneOptions o;
  o.listen = false;
  o.worker_cpus.assign(static_cast<size_t>(f_.workers), -1);
  o.hotness.peel_messages_per_sec = f_.peel_rate;
  o.hotness.sustain = f_.sustain;
  o.listener.streams = static_cast<uint16_t>(f_.streams);
  o.listener.nodelay = f_.nodelay;
  // As the sockets engine's: a receive window big enough that a server
  // bundles its replies, and a send buffer for the largest message.
  o.listener.rcvbuf = 4 << 20;
  o.listener.sndbuf = static_cast<int>(std::max<uint64_t>(4 << 20, 2 * std::max(f_.size, f_.size_max)));
  o.max_connections = static_cast<unsigned>(f_.associations);
  o.max_associations = static_cast<size_t>(f_.associations);
  o.worker.max_message_size = std::max<size_t>(o.worker.max_message_size, std::max(f_.size, f_.size_max));
  o.control.max_message_size = o.worker.max_message_size;
  o.kernel_stats.interval = absl::ZeroDuration();  // the loader reads none
  return o;
}

std::optional<int> LoadPlane::ConnectAll() {
  ConnectOptions options;
  options.remote = f_.connect.addresses;
  options.port = f_.connect.port;
  options.local = f_.local;
  options.reconnect.enabled = false;  // a lost association is an error of the run
  for (size_t i = 0; i < all_.size(); ++i) {
    absl::StatusOr<ConnectionId> conn = dp_->Connect(options);
    if (!conn.ok()) {
      std::fprintf(stderr, "sctpdp load: association %zu: %s\n", i, conn.status().ToString().c_str());
      if (conn.status().code() == absl::StatusCode::kInvalidArgument) return kExitUsage;
      return conn.status().code() == absl::StatusCode::kUnimplemented ? kExitNoSctp : kExitAddress;
    }
    std::lock_guard<std::mutex> l(mu_);
    connections_.push_back(*conn);
  }
  std::unique_lock<std::mutex> l(mu_);
  changed_.wait(l, [&] { return failed_.has_value() || up_.size() == all_.size(); });
  if (failed_) {
    std::fprintf(stderr, "sctpdp load: connect: %s\n", failed_->ToString().c_str());
    return kExitAddress;
  }
  for (size_t i = 0; i < all_.size(); ++i) {
    const AssociationInfo& info = up_.at(connections_[i]);
    all_[i].id = info.id;
    all_[i].streams = std::max<uint16_t>(1, info.outbound_streams);
    index_[info.id] = i;
  }
  ready_.store(true, std::memory_order_release);
  return std::nullopt;
}

void LoadPlane::OnAssociationUp(DataPlane&, const AssociationInfo& info) {
  std::lock_guard<std::mutex> l(mu_);
  up_[info.connection] = info;
  changed_.notify_all();
}

void LoadPlane::OnConnectFailed(DataPlane&, ConnectionId, const absl::Status& error, absl::Duration) {
  std::lock_guard<std::mutex> l(mu_);
  if (!failed_) failed_ = error;
  changed_.notify_all();
}

Association* LoadPlane::Find(sctp_assoc_t id) const {
  if (!ready_.load(std::memory_order_acquire)) return nullptr;
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : &all_[it->second];
}

// The association travels with its slot (Context) from thread to thread:
// one lookup each.
void LoadPlane::OnMessage(DataPlane& dp, const MessageView& m) {
  void** slot = dp.Context(m.assoc_id);
  if (slot == nullptr) return;
  if (*slot == nullptr) *slot = Find(m.assoc_id);
  auto* a = static_cast<Association*>(*slot);
  if (a == nullptr) return;
  RecordEcho(layout_, *a, m.payload, progress_[a->sender]);
  if (a->driven) Pump(dp, *a);  // its window has room again
}

void LoadPlane::OnWritable(DataPlane&, sctp_assoc_t id) {
  Association* a = Find(id);
  if (a == nullptr) return;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (finishing_) {
      retry_shutdown_.push_back(id);
      return changed_.notify_all();
    }
  }
  if (a->driven) return Kick(*a);
  a->blocked.store(false, std::memory_order_seq_cst);
  progress_[a->sender].waker.Wake();
}

void LoadPlane::OnMoved(DataPlane& dp, sctp_assoc_t id, int) {
  Association* a = Find(id);
  if (a != nullptr && a->driven) Pump(dp, *a);  // on its new owner
}

void LoadPlane::Start(const std::atomic<bool>& stop) {
  stop_ = &stop;
  running_.store(true, std::memory_order_release);
  for (Association& a : all_) {
    if (a.driven) Kick(a);
  }
}

void LoadPlane::Kick(Association& a) {
  Association* p = &a;
  dp_->RunOn(a.id, [this, p] { Pump(*dp_, *p); }, [](const absl::Status&) {}).IgnoreError();
}

void LoadPlane::Pump(DataPlane& dp, Association& a) {
  if (!running_.load(std::memory_order_acquire)) return;
  Progress& progress = progress_[a.sender];
  while (!stop_->load(std::memory_order_relaxed) &&
         (f_.window == 0 || a.sent - a.echoed.load(std::memory_order_relaxed) < static_cast<uint64_t>(f_.window))) {
    const uint16_t stream = static_cast<uint16_t>(a.sent % a.streams);
    const size_t size = NextSize(f_, a);
    const int64_t sent_at = f_.echo ? MonotonicNs() : 0;
    char head[PayloadLayout::kHeadBytes];
    uint32_t ppid = 0;
    const size_t head_bytes = MessageHead(f_, layout_, a, stream, sent_at, sent_at, head, &ppid);
    const SendResult r = SendBuilt(dp, a.id, stream, ppid, size, absl::MakeConstSpan(head, head_bytes));
    if (r != SendResult::kOk) {
      // Backpressure: OnWritable pumps again. Closing after the run's end:
      // Finish's SHUTDOWN came first, the message was not sent (nor counted).
      const bool ending = r == SendResult::kClosing && stop_->load();
      if (!IsBackpressure(r) && !ending) Error(a.id, absl::UnavailableError(absl::StrCat("send: ", SendResultName(r))));
      return;
    }
    CountSent(a, stream, size, progress);
  }
}

// Before Finish, any end (the server's shutdown too) cuts the run short.
void LoadPlane::OnAssociationDown(DataPlane&, sctp_assoc_t id, DownReason reason, const AssocStats&) {
  std::lock_guard<std::mutex> l(mu_);
  if (!finishing_ || reason != DownReason::kShutdown) {
    Error(id, absl::UnavailableError(absl::StrCat("association down: ", DownReasonName(reason))));
  }
  ++ended_;
  changed_.notify_all();
}

void LoadPlane::Finish(absl::Duration limit) {
  if (dp_ == nullptr || stopping_.load()) return;
  const absl::Time deadline = absl::Now() + limit;
  std::unique_lock<std::mutex> l(mu_);
  finishing_ = true;
  std::vector<sctp_assoc_t> pending;
  for (const Association& a : all_) pending.push_back(a.id);
  while (true) {
    for (sctp_assoc_t id : pending) {
      l.unlock();
      const absl::Status s = dp_->Shutdown(id);  // Unavailable: again at OnWritable
      l.lock();
      if (absl::IsUnavailable(s)) retry_shutdown_.push_back(id);
    }
    pending.clear();
    changed_.wait_until(l, absl::ToChronoTime(deadline),
                        [&] { return ended_ >= all_.size() || !retry_shutdown_.empty(); });
    if (ended_ >= all_.size() || absl::Now() >= deadline) break;
    pending.swap(retry_shutdown_);
  }
  if (ended_ < all_.size()) {
    l.unlock();
    Error(0, absl::DeadlineExceededError(absl::StrCat(all_.size() - ended_, " associations not ended within ",
                                                      absl::FormatDuration(limit))));
  }
}

void LoadPlane::Error(sctp_assoc_t id, const absl::Status& error) {
  if (stopping_.load()) return;
  errors_.fetch_add(1);
  std::fprintf(stderr, "sctpdp load: association %d: %s\n", id, error.ToString().c_str());
}

std::unique_ptr<Link> LoadPlane::LinkFor(size_t t) { return std::make_unique<PlaneLink>(*dp_, progress_[t].waker); }

void LoadPlane::Stop() {
  if (dp_ == nullptr || stopping_.exchange(true)) return;
  dp_->Stop();
}

}  // namespace sctpdp
